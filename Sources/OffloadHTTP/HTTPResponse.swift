/// A response ready to be sent: status, headers and a body.
struct HTTPResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    /// RFC 8259: JSON is UTF-8 and `application/json` defines no `charset` parameter.
    static let jsonContentType = "application/json"

    static func json(_ status: Int, _ body: [UInt8], headers: [(name: String, value: String)] = []) -> HTTPResponse {
        var all: [(name: String, value: String)] = []
        // Room for one more: job answers add Vary.
        all.reserveCapacity(headers.count + 2)
        all.append(("Content-Type", jsonContentType))
        all += headers
        return HTTPResponse(status: status, headers: all, body: body)
    }
}
