import Foundation
import Glibc

/// One bearer token (`AccessTokens` names the principal of each).
public struct AuthToken: Sendable {
    let bytes: [UInt8]

    public init(_ token: String) throws {
        guard token.utf8.count >= 16 else {
            throw ServerError("The auth token is shorter than 16 characters; use a long random one.")
        }
        // RFC 6750's b64token characters, so that it fits an Authorization header as is.
        guard token.wholeMatch(of: /[A-Za-z0-9\-._~+\/]+=*/) != nil else {
            throw ServerError("The auth token may hold only letters, digits and - . _ ~ + / (and trailing =).")
        }
        bytes = Array(token.utf8)
    }

    /// Whether `header` (an Authorization header) carries this token. The comparison takes the
    /// same time wherever the first difference is.
    func accepts(authorization header: String?) -> Bool {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return false }
        let given = Array(header.utf8.dropFirst(7))
        var difference = given.count == bytes.count ? 0 : 1
        for index in 0..<max(given.count, bytes.count) {
            let left = index < given.count ? given[index] : 0
            let right = index < bytes.count ? bytes[index] : 0
            difference |= Int(left ^ right)
        }
        return difference == 0
    }
}
