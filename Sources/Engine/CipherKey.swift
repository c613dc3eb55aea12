internal import COpenSSL

/// A 256-bit key with a name. Its bytes never leave the engine: they are not printed, logged
/// or put in job records; only the name is.
public struct CipherKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public static let byteCount = 32
    public let name: String
    let bytes: [UInt8]

    public init(name: String, bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else {
            throw EngineError(
                code: .invalidKey, message: "Key \(name) has \(bytes.count) bytes; a 256-bit key has 32.")
        }
        self.name = name
        self.bytes = bytes
    }

    /// A fresh key from OpenSSL's DRBG.
    public static func random(name: String) throws -> CipherKey {
        var bytes = [UInt8](repeating: 0, count: byteCount)
        guard RAND_bytes(&bytes, Int32(byteCount)) == 1 else {
            throw EngineError(code: .engineError, message: "RAND_bytes failed: \(openSSLErrors())")
        }
        return try CipherKey(name: name, bytes: bytes)
    }

    public var description: String { "CipherKey(\(name))" }
    public var debugDescription: String { description }
}
