/// A document the binary serves as it is: the OpenAPI document and the live page's files.
/// Caches may keep it and revalidate it with its ETag (it changes only with the binary).
struct StaticAsset: Sendable {
    let contentType: String
    let bytes: [UInt8]
    /// A strong validator: FNV-1a 64 of the bytes, quoted.
    let etag: String
    /// Headers beyond the validator (the page's Content-Security-Policy).
    let extraHeaders: [(name: String, value: String)]

    init(contentType: String, bytes: [UInt8], extraHeaders: [(name: String, value: String)] = []) {
        self.contentType = contentType
        self.bytes = bytes
        self.extraHeaders = extraHeaders
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        etag = "\"" + String(hash, radix: 16) + "\""
    }

    private static let cacheControl = "no-cache"

    /// The asset, or 304 when `ifNoneMatch` names its ETag (weak comparison, RFC 9110 13.1.2).
    func response(ifNoneMatch: String?) -> HTTPResponse {
        if let ifNoneMatch, matches(ifNoneMatch) {
            return HTTPResponse(status: 304, headers: [("ETag", etag), ("Cache-Control", Self.cacheControl)], body: [])
        }
        return HTTPResponse(
            status: 200,
            headers: [("Content-Type", contentType), ("ETag", etag), ("Cache-Control", Self.cacheControl)]
                + extraHeaders,
            body: bytes)
    }

    private func matches(_ ifNoneMatch: String) -> Bool {
        ifNoneMatch.split(separator: ",").contains { candidate in
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag == etag
        }
    }
}

extension StaticAsset {
    /// The page may run only its own script and style, and talk only to this service.
    private static let pageHeaders: [(name: String, value: String)] = [
        ("Content-Security-Policy",
         "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
            + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ]

    static let openAPI = StaticAsset(contentType: "application/yaml", bytes: OpenAPIDocument.bytes)
    static let page = StaticAsset(
        contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html, extraHeaders: pageHeaders)
    static let pageScript = StaticAsset(
        contentType: "text/javascript; charset=utf-8", bytes: PackageResources.app_js, extraHeaders: pageHeaders)
    static let pageStyle = StaticAsset(
        contentType: "text/css; charset=utf-8", bytes: PackageResources.style_css, extraHeaders: pageHeaders)

    /// The page's files by the name after `/page/`.
    static func pageFile(_ name: String) -> StaticAsset? {
        switch name {
        case "app.js": pageScript
        case "style.css": pageStyle
        default: nil
        }
    }
}
