import Foundation
import Glibc

/// Reading secrets from files: keys, the auth token, the TLS private key.
enum SecretFile {
    /// The file's bytes, once its permissions show that only its owner can read it: not
    /// readable by others, nor by its group unless root owns it (PostgreSQL's rule for key
    /// files, which lets a Kubernetes secret mounted with an fsGroup pass).
    static func read(_ path: String, what: String) throws -> Data {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw ServerError("Cannot read the \(what) \(path): \(String(cString: strerror(errno))).")
        }
        let groupAllowed: mode_t = status.st_uid == 0 ? 0o040 : 0
        guard status.st_mode & 0o077 & ~groupAllowed == 0 else {
            throw ServerError(
                "The \(what) \(path) is readable or writable by others than its owner "
                    + "(mode \(String(status.st_mode & 0o777, radix: 8))); run chmod 600 on it.")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServerError("Cannot read the \(what) \(path).")
        }
        return data
    }
}

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

/// A certificate chain and private key for HTTPS, both PEM.
public struct TLSCredentials: Sendable {
    let certificatePEM: String
    let keyPEM: String

    public init(certificatePEM: String, keyPEM: String) throws {
        guard certificatePEM.contains("-----BEGIN CERTIFICATE-----") else {
            throw ServerError("The TLS certificate is not PEM (no BEGIN CERTIFICATE line).")
        }
        guard keyPEM.contains("PRIVATE KEY-----") else {
            throw ServerError("The TLS key is not a PEM private key.")
        }
        self.certificatePEM = certificatePEM
        self.keyPEM = keyPEM
    }

    /// Reads the certificate, and the key from a file only its owner can read.
    public static func load(certificate: String, key: String) throws -> TLSCredentials {
        guard let certificateData = FileManager.default.contents(atPath: certificate) else {
            throw ServerError("Cannot read the TLS certificate \(certificate).")
        }
        let keyData = try SecretFile.read(key, what: "TLS key")
        return try TLSCredentials(
            certificatePEM: String(decoding: certificateData, as: UTF8.self),
            keyPEM: String(decoding: keyData, as: UTF8.self))
    }
}
