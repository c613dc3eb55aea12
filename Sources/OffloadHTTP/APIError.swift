/// An error a client can act on: a stable code (which decides the HTTP status) and a sentence.
/// Every error response of the API comes from one of these, rendered in one place.
struct APIError: Error, Sendable {
    var code: ErrorCode
    var message: String
    var headers: [(name: String, value: String)] = []

    init(_ code: ErrorCode, _ message: String, headers: [(name: String, value: String)] = []) {
        self.code = code
        self.message = message
        // A temporary refusal says when to come back.
        self.headers = code.isTemporary && !headers.contains { $0.name == "Retry-After" }
            ? headers + [("Retry-After", "1")] : headers
    }

    var status: Int { code.status }

    var response: HTTPResponse {
        var json = JSONWriter()
        json.beginObject()
        json.errorField(code: code.rawValue, message: message)
        json.endObject()
        return .json(status, json.bytes, headers: headers)
    }

    static func methodNotAllowed(_ method: String, allowed: [String]) -> APIError {
        APIError(
            .methodNotAllowed, "\(method) is not allowed here; use \(allowed.joined(separator: " or ")).",
            headers: [("Allow", allowed.joined(separator: ", "))])
    }

    static func payloadTooLarge(limit: Int) -> APIError {
        APIError(.payloadTooLarge, "The request body is larger than the limit of \(limit) bytes.")
    }

    /// Request bodies and jobs in flight hold all the memory the service may give them.
    static let memoryExhausted = APIError(
        .memoryExhausted,
        "Request bodies and jobs in flight hold all the memory the service's limit gives them; retry shortly.")
}
