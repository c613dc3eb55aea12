import Foundation
import Glibc

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
