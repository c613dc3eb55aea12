internal import COpenSSL

/// Key material at rest: AES-256-GCM under the master key, with a fresh 96-bit nonce per seal
/// and the key's identity (its name and version) as associated data, so that sealed material
/// cannot be moved to another key's row. Runs synchronously, on the store's threads at load and
/// on key creation, never on the request path; the master key's bytes never leave it.
public struct KeyWrap: Sendable {
    public static let masterKeyBytes = 32
    private static let nonceBytes = 12
    private static let tagBytes = 16
    private let masterKey: [UInt8]

    public init(masterKey: [UInt8]) throws {
        guard masterKey.count == Self.masterKeyBytes else {
            throw EngineError(
                code: .invalidKey, message: "The master key has \(masterKey.count) bytes; it must be 32 (256 bits).")
        }
        self.masterKey = masterKey
    }

    /// A fresh master key.
    public static func random() throws -> KeyWrap {
        try KeyWrap(masterKey: randomBytes(masterKeyBytes))
    }

    /// The master key's bytes, to write a generated one to its file once.
    public var masterKeyBytesForFile: [UInt8] { masterKey }

    /// Bytes from OpenSSL's DRBG.
    public static func randomBytes(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else {
            throw EngineError(code: .engineError, message: "RAND_bytes failed: \(openSSLErrors())")
        }
        return bytes
    }

    /// The associated data that binds sealed key material to its key and version.
    public static func context(name: String, version: Int) -> String { "offload-http key \(name) v\(version)" }

    /// `nonce || ciphertext || tag`.
    public func seal(_ plaintext: [UInt8], context: String) throws -> [UInt8] {
        let nonce = try Self.randomBytes(Self.nonceBytes)
        var output = [UInt8](repeating: 0, count: plaintext.count + Self.tagBytes)
        try run(encrypt: true, nonce: nonce, input: plaintext, context: context, output: &output)
        return nonce + output
    }

    /// The plaintext of `seal`'s output; throws `authentication_failed` when the master key,
    /// the context or the bytes are not the ones it was sealed with.
    public func open(_ sealed: [UInt8], context: String) throws -> [UInt8] {
        guard sealed.count >= Self.nonceBytes + Self.tagBytes else {
            throw EngineError(code: .authenticationFailed, message: "Sealed key material is too short.")
        }
        var output = [UInt8](repeating: 0, count: sealed.count - Self.nonceBytes - Self.tagBytes)
        try run(
            encrypt: false, nonce: Array(sealed.prefix(Self.nonceBytes)), input: Array(sealed.dropFirst(Self.nonceBytes)),
            context: context, output: &output)
        return output
    }

    private func run(encrypt: Bool, nonce: [UInt8], input: [UInt8], context: String, output: inout [UInt8]) throws {
        guard let cipherContext = EVP_CIPHER_CTX_new() else {
            throw EngineError(code: .engineError, message: "EVP_CIPHER_CTX_new failed")
        }
        defer { EVP_CIPHER_CTX_free(cipherContext) }
        let aad = Array(context.utf8)
        let body = encrypt ? input : Array(input.dropLast(Self.tagBytes))
        var tag = encrypt ? [UInt8](repeating: 0, count: Self.tagBytes) : Array(input.suffix(Self.tagBytes))
        var length: Int32 = 0
        var ok = (encrypt
            ? EVP_EncryptInit_ex(cipherContext, EVP_aes_256_gcm(), nil, masterKey, nonce)
            : EVP_DecryptInit_ex(cipherContext, EVP_aes_256_gcm(), nil, masterKey, nonce)) == 1
        ok = ok && (encrypt
            ? EVP_EncryptUpdate(cipherContext, nil, &length, aad, Int32(aad.count))
            : EVP_DecryptUpdate(cipherContext, nil, &length, aad, Int32(aad.count))) == 1
        var produced: Int32 = 0
        if ok && !body.isEmpty {
            ok = (encrypt
                ? EVP_EncryptUpdate(cipherContext, &output, &produced, body, Int32(body.count))
                : EVP_DecryptUpdate(cipherContext, &output, &produced, body, Int32(body.count))) == 1
        }
        if encrypt {
            var final: Int32 = 0
            ok = ok && output.withUnsafeMutableBufferPointer {
                EVP_EncryptFinal_ex(cipherContext, $0.baseAddress! + Int(produced), &final)
            } == 1
            ok = ok && EVP_CIPHER_CTX_ctrl(cipherContext, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagBytes), &tag) == 1
            guard ok else { throw EngineError(code: .engineError, message: "Sealing failed: \(openSSLErrors())") }
            output.replaceSubrange(body.count..<body.count + Self.tagBytes, with: tag)
        } else {
            ok = ok && EVP_CIPHER_CTX_ctrl(cipherContext, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagBytes), &tag) == 1
            var final: Int32 = 0
            var scratch = [UInt8](repeating: 0, count: 16)
            ok = ok && EVP_DecryptFinal_ex(cipherContext, &scratch, &final) == 1
            guard ok else {
                _ = openSSLErrors()  // clears the thread's queue
                throw EngineError(
                    code: .authenticationFailed,
                    message: "Sealed key material does not open with this master key (a wrong master key, or a damaged row).")
            }
        }
    }
}
