/// What the API layer needs of a request's head to decide, before the body is read, whether
/// the request goes on: counts and values the transport read from the headers.
struct RequestHead {
    /// Bytes of the request line and headers.
    var headerBytes = 0
    var contentLengthHeaders = 0
    /// The body's declared length; `Int.max` when it does not fit (libmicrohttpd's "unknown
    /// size" among such values).
    var declaredLength: Int?
    var transferEncodingHeaders = 0
    var transferEncoding: String?
    /// More query arguments than the transport parses (`CMICROHTTPD_MAX_QUERY_ARGUMENTS`).
    var queryRefused = false
    var authorizationHeaders = 0
    var authorization: String?
    /// The first value of each header the service reads besides the checks' (found in the
    /// same pass over the headers).
    var contentLength: String?
    var contentType: String?
    var accept: String?
    var prefer: String?
    var ifNoneMatch: String?
}

/// The checks a request's head passes before its body is read, transport-free: framing that
/// proxies could read differently (request smuggling), sizes, and the bearer token.
struct HeadAdmission: Sendable {
    let maxHeaderBytes: Int
    let maxBodyBytes: Int
    let maxQueryArguments: Int
    let accessTokens: AccessTokens?

    /// The principal the request acts as (nil without tokens), or the error to answer at once.
    func admit(_ head: RequestHead, to route: Router.Route?) throws(APIError) -> Principal? {
        if head.headerBytes > maxHeaderBytes {
            throw APIError(.headersTooLarge, "The request line and headers exceed \(maxHeaderBytes) bytes.")
        }
        if head.contentLengthHeaders > 1 || (head.contentLengthHeaders > 0 && head.transferEncodingHeaders > 0) {
            // Two lengths, or a length and chunking: proxies in front may read the body
            // differently from us (request smuggling), so such a request is refused.
            throw APIError(.ambiguousFraming,
                "The request has several Content-Length headers, or Content-Length with Transfer-Encoding.")
        }
        if let encoding = head.transferEncoding,
            head.transferEncodingHeaders > 1 || encoding.trimmingCharacters(in: .whitespaces).lowercased() != "chunked"
        {
            // libmicrohttpd decodes only `chunked` alone; anything else it would read until
            // the connection closes. RFC 9112, 6.1: a coding the server does not know is 501.
            throw APIError(.unsupportedTransferEncoding,
                "Only Transfer-Encoding: chunked is supported; send the body as is or chunked.")
        }
        if head.queryRefused {
            throw APIError(.tooManyQueryArguments, "The query has more than \(maxQueryArguments) arguments.")
        }
        if head.authorizationHeaders > 1 {
            // Which one counts would depend on who reads it (a proxy, or us): refuse both.
            throw APIError(.ambiguousAuthorization, "The request has several Authorization headers; send one.")
        }
        var principal: Principal?
        if let accessTokens, route?.needsAuthorization ?? true {
            principal = accessTokens.principal(for: head.authorization)
            guard let principal else {
                var challenge = #"Bearer realm="offload-http""#
                if head.authorization != nil { challenge += #", error="invalid_token""# }
                throw APIError(.unauthorized, head.authorization == nil
                        ? "This route needs an Authorization: Bearer <token> header."
                        : "The bearer token is not one this service accepts.",
                    headers: [("WWW-Authenticate", challenge)])
            }
            if principal.role == .metrics && route != .metrics {
                throw APIError(.forbidden, "This token may read /metrics only.")
            }
        }
        if let declared = head.declaredLength, declared > maxBodyBytes {
            // Answered before the body is read; libmicrohttpd then closes the connection.
            throw APIError.payloadTooLarge(limit: maxBodyBytes)
        }
        return principal
    }
}
