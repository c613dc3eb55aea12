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

/// An error a client can act on: an HTTP status, a stable snake_case code and a sentence.
/// Every error response of the API comes from one of these, rendered in one place.
struct APIError: Error, Sendable {
    var status: Int
    var code: String
    var message: String
    var headers: [(name: String, value: String)] = []

    var response: HTTPResponse {
        var json = JSONWriter()
        json.beginObject()
        json.errorField(code: code, message: message)
        json.endObject()
        return .json(status, json.bytes, headers: headers)
    }

    static func badRequest(_ code: String, _ message: String) -> APIError {
        APIError(status: 400, code: code, message: message)
    }

    static func notFound(_ message: String = "No such resource.", code: String = "not_found") -> APIError {
        APIError(status: 404, code: code, message: message)
    }

    static func methodNotAllowed(_ method: String, allowed: [String]) -> APIError {
        APIError(
            status: 405, code: "method_not_allowed",
            message: "\(method) is not allowed here; use \(allowed.joined(separator: " or ")).",
            headers: [("Allow", allowed.joined(separator: ", "))])
    }


    static func payloadTooLarge(limit: Int) -> APIError {
        APIError(
            status: 413, code: "payload_too_large",
            message: "The request body is larger than the limit of \(limit) bytes.")
    }

    static func unavailable(_ code: String, _ message: String) -> APIError {
        APIError(status: 503, code: code, message: message, headers: [("Retry-After", "1")])
    }

    /// Request bodies and jobs in flight hold all the memory the service may give them.
    static let memoryExhausted = unavailable(
        "memory_exhausted",
        "Request bodies and jobs in flight hold all the memory the service's limit gives them; retry shortly.")
}
