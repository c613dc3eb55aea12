import Engine
import Foundation

/// An HTTP request as the routes see it, once its body is complete.
struct HTTPRequest {
    var method: String
    /// The path without the query string.
    var path: String
    var query: [(name: String, value: String)]
    var contentType: String?
    /// The `If-None-Match` header, for conditional GETs of the OpenAPI document.
    var ifNoneMatch: String?
    /// The client asked for `Prefer: respond-async` (RFC 7240).
    var prefersAsync = false
    var body: [UInt8]
    /// Whose token the request carried; nil when the service has no tokens.
    var principal: Principal?
    /// The `Accept` header.
    var accept: String?

    /// Whether the client prefers the raw output to JSON: `application/octet-stream` in
    /// `Accept` with a higher quality than `application/json` (or as high, and listed first).
    var prefersBinary: Bool {
        guard let accept else { return false }
        var best: (binary: Bool, quality: Double)?
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let type = parts.first, type == "application/octet-stream" || type == "application/json" else { continue }
            let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if quality > 0 && quality > (best?.quality ?? 0) { best = (type == "application/octet-stream", quality) }
        }
        return best?.binary ?? false
    }

    var isJSON: Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }
}
