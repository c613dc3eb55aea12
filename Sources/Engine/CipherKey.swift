internal import COpenSSL

/// A 256-bit key with a name and a version. Its bytes never leave the engine: they are not
/// printed, logged or put in job records; only the name and version are.
public struct CipherKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public static let byteCount = 32
    public private(set) var name: String
    public private(set) var version: Int
    let bytes: [UInt8]

    public init(name: String, version: Int = 1, bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else {
            throw EngineError(
                code: .invalidKey, message: "Key \(name) has \(bytes.count) bytes; a 256-bit key has 32.")
        }
        self.name = name
        self.version = version
        self.bytes = bytes
    }

    /// A fresh key from OpenSSL's DRBG.
    public static func random(name: String, version: Int = 1) throws -> CipherKey {
        try CipherKey(name: name, version: version, bytes: try KeyWrap.randomBytes(byteCount))
    }

    /// The same material under another name or version (a key file's key imported as version 1).
    public func with(name: String, version: Int) -> CipherKey {
        var key = self
        key.name = name
        key.version = version
        return key
    }

    /// Whether two keys hold the same material (compared in constant time).
    public func hasSameMaterial(as other: CipherKey) -> Bool {
        zip(bytes, other.bytes).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0 && bytes.count == other.bytes.count
    }

    /// The key sealed under `wrap`, bound to its name and version (for a store).
    public func sealed(with wrap: KeyWrap) throws -> [UInt8] {
        try wrap.seal(bytes, context: KeyWrap.context(name: name, version: version))
    }

    /// A key a store kept sealed under `wrap`; fails if the master key or the binding is wrong.
    public static func unsealed(_ sealed: [UInt8], name: String, version: Int, with wrap: KeyWrap) throws -> CipherKey {
        try CipherKey(name: name, version: version, bytes: try wrap.open(sealed, context: KeyWrap.context(name: name, version: version)))
    }

    public var description: String { "CipherKey(\(name) v\(version))" }
    public var debugDescription: String { description }
}
