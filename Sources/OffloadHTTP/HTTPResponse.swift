/// A response ready to be sent: status, headers and a body.
struct HTTPResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    /// RFC 8259: JSON is UTF-8 and `application/json` defines no `charset` parameter.
    static let jsonContentType = "application/json"

    static func json(_ status: Int, _ body: [UInt8], headers: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", jsonContentType)] + headers, body: body)
    }
}
