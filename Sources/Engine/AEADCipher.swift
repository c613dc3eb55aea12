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
                code: "invalid_key", message: "Key \(name) has \(bytes.count) bytes; a 256-bit key has 32.")
        }
        self.name = name
        self.bytes = bytes
    }

    /// A fresh key from OpenSSL's DRBG.
    public static func random(name: String) throws -> CipherKey {
        var bytes = [UInt8](repeating: 0, count: byteCount)
        guard RAND_bytes(&bytes, Int32(byteCount)) == 1 else {
            throw EngineError(code: "engine_error", message: "RAND_bytes failed: \(openSSLErrors())")
        }
        return try CipherKey(name: name, bytes: bytes)
    }

    public var description: String { "CipherKey(\(name))" }
    public var debugDescription: String { description }
}

/// AES-256-GCM and ChaCha20-Poly1305 through OpenSSL EVP, as the accelerator's arithmetic.
/// Sealed data is `nonce (12 bytes) || ciphertext || tag (16 bytes)` with a fresh random nonce.
enum AEADCipher {
    static let nonceByteCount = 12
    static let tagByteCount = 16
    static let overhead = nonceByteCount + tagByteCount

    static func seal(_ algorithm: Algorithm, key: CipherKey, plaintext: [UInt8], aad: [UInt8]) -> DeviceOutcome {
        var nonce = [UInt8](repeating: 0, count: nonceByteCount)
        guard RAND_bytes(&nonce, Int32(nonceByteCount)) == 1 else { return failure("RAND_bytes") }
        guard let context = EVP_CIPHER_CTX_new() else { return failure("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_EncryptInit_ex(context, cipher(algorithm), nil, key.bytes, nonce) == 1 else {
            return failure("EVP_EncryptInit_ex")
        }
        var length: Int32 = 0
        if !aad.isEmpty {
            guard EVP_EncryptUpdate(context, nil, &length, aad, Int32(aad.count)) == 1 else {
                return failure("EVP_EncryptUpdate(aad)")
            }
        }
        var sealed = nonce + [UInt8](repeating: 0, count: plaintext.count + tagByteCount)
        let written: Int32? = sealed.withUnsafeMutableBufferPointer { buffer in
            let body = buffer.baseAddress! + nonceByteCount
            guard EVP_EncryptUpdate(context, body, &length, plaintext, Int32(plaintext.count)) == 1 else { return nil }
            var finalLength: Int32 = 0
            guard EVP_EncryptFinal_ex(context, body + Int(length), &finalLength) == 1 else { return nil }
            let total = length + finalLength
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(tagByteCount), body + Int(total)) == 1 else {
                return nil
            }
            return total
        }
        guard let written, Int(written) == plaintext.count else { return failure("EVP_EncryptUpdate") }
        return .completed(output: sealed)
    }

    static func open(_ algorithm: Algorithm, key: CipherKey, sealed: [UInt8], aad: [UInt8]) -> DeviceOutcome {
        guard sealed.count >= overhead else {
            return .failed(EngineError(
                code: "invalid_ciphertext",
                message: "The input is shorter than a nonce and a tag (\(overhead) bytes); it was not made by /encrypt."))
        }
        let ciphertextCount = sealed.count - overhead
        guard let context = EVP_CIPHER_CTX_new() else { return failure("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        var plaintext = [UInt8](repeating: 0, count: max(ciphertextCount, 1))
        let opened: Bool = sealed.withUnsafeBufferPointer { input in
            let nonce = input.baseAddress!
            let ciphertext = nonce + nonceByteCount
            let tag = UnsafeMutableRawPointer(mutating: ciphertext + ciphertextCount)
            guard EVP_DecryptInit_ex(context, cipher(algorithm), nil, key.bytes, nonce) == 1 else { return false }
            var length: Int32 = 0
            if !aad.isEmpty {
                guard EVP_DecryptUpdate(context, nil, &length, aad, Int32(aad.count)) == 1 else { return false }
            }
            guard EVP_DecryptUpdate(context, &plaintext, &length, ciphertext, Int32(ciphertextCount)) == 1,
                  EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(tagByteCount), tag) == 1 else {
                return false
            }
            var finalLength: Int32 = 0
            return plaintext.withUnsafeMutableBufferPointer { output in
                EVP_DecryptFinal_ex(context, output.baseAddress! + Int(length), &finalLength) == 1
            }
        }
        guard opened else {
            ERR_clear_error()
            // Which of key, data or AAD was wrong cannot be told apart, by design of AEAD.
            return .failed(EngineError(
                code: "authentication_failed",
                message: "The data failed authentication: wrong key, wrong aad_base64, or tampered input."))
        }
        return .completed(output: Array(plaintext.prefix(ciphertextCount)))
    }

    private static func cipher(_ algorithm: Algorithm) -> OpaquePointer? {
        switch algorithm {
        case .aes256GCM: EVP_aes_256_gcm()
        case .chacha20Poly1305: EVP_chacha20_poly1305()
        case .xor0xAA: nil
        }
    }

    private static func failure(_ call: String) -> DeviceOutcome {
        .failed(EngineError(code: "device_error", message: "The accelerator's cipher failed (\(call)): \(openSSLErrors())"))
    }
}
