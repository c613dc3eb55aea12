internal import COpenSSL

/// A 256-bit key with a name and a version. Its bytes never leave the engine: they are not
/// printed, logged or put in job records; only the name and version are.
public struct CipherKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public static let byteCount = 32
    public private(set) var name: String
    public private(set) var version: Int
    let bytes: [UInt8]
    /// Whether the material is a private key (PKCS#8 DER) rather than a 256-bit secret.
    let isPrivateKey: Bool

    /// Key material of another kind than a 256-bit secret: a private key, as PKCS#8 DER.
    public init(name: String, version: Int, privateKeyDER: [UInt8]) throws {
        guard !privateKeyDER.isEmpty else {
            throw EngineError(code: .invalidKey, message: "Key \(name) has no private key material.")
        }
        self.name = name
        self.version = version
        self.bytes = privateKeyDER
        isPrivateKey = true
    }

    /// A fresh key pair for `algorithm` (ECDSA P-256 or Ed25519), its private key as material.
    public static func generatedPair(_ algorithm: Algorithm, name: String, version: Int) throws -> CipherKey {
        let pair: OpaquePointer? = switch algorithm {
        case .ecdsaP256: COpenSSL_generate_key("EC", "P-256")
        case .ed25519: COpenSSL_generate_key("ED25519", nil)
        default: nil
        }
        guard let pair else {
            throw EngineError(code: .engineError, message: "Generating a \(algorithm.rawValue) key failed: \(openSSLErrors())")
        }
        defer { EVP_PKEY_free(pair) }
        var der: UnsafeMutablePointer<UInt8>?
        let length = COpenSSL_private_key_der(pair, &der)
        guard length > 0, let der else {
            throw EngineError(code: .engineError, message: "Encoding a \(algorithm.rawValue) key failed: \(openSSLErrors())")
        }
        defer {
            memset(der, 0, Int(length))
            CRYPTO_free(der, #fileID, #line)
        }
        return try CipherKey(name: name, version: version, privateKeyDER: Array(UnsafeBufferPointer(start: der, count: Int(length))))
    }

    /// The public key of a private key's material, as PEM (SubjectPublicKeyInfo); nil for a secret key.
    public func publicKeyPEM() -> String? {
        guard let pair = privateKey() else { return nil }
        defer { EVP_PKEY_free(pair) }
        var buffer = [CChar](repeating: 0, count: 1024)
        let length = COpenSSL_public_key_pem(pair, &buffer, 1024)
        guard length > 0 else { return nil }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The material as an EVP_PKEY (the caller frees it); nil when it is not a private key.
    func privateKey() -> OpaquePointer? {
        guard isPrivateKey else { return nil }
        return bytes.withUnsafeBufferPointer { buffer in
            var pointer: UnsafePointer<UInt8>? = buffer.baseAddress
            let key = d2i_AutoPrivateKey(nil, &pointer, buffer.count)
            ERR_clear_error()
            return key
        }
    }

    public init(name: String, version: Int = 1, bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else {
            throw EngineError(
                code: .invalidKey, message: "Key \(name) has \(bytes.count) bytes; a 256-bit key has 32.")
        }
        self.name = name
        self.version = version
        self.bytes = bytes
        isPrivateKey = false
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
    public static func unsealed(
        _ sealed: [UInt8], name: String, version: Int, privateKey: Bool = false, with wrap: KeyWrap
    ) throws -> CipherKey {
        let material = try wrap.open(sealed, context: KeyWrap.context(name: name, version: version))
        return privateKey
            ? try CipherKey(name: name, version: version, privateKeyDER: material)
            : try CipherKey(name: name, version: version, bytes: material)
    }

    /// Fresh material for a key of `algorithm`: a key pair for a signature, else 256 random bits.
    public static func generated(_ algorithm: Algorithm, name: String, version: Int) throws -> CipherKey {
        algorithm.isSignature
            ? try generatedPair(algorithm, name: name, version: version) : try random(name: name, version: version)
    }

    public var description: String { "CipherKey(\(name) v\(version))" }
    public var debugDescription: String { description }
}
