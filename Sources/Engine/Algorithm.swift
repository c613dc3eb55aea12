import Foundation

/// The algorithms the simulated accelerator offers.
public enum Algorithm: String, Sendable, CaseIterable {
    /// The reference operation: every byte XOR 0xAA (its own inverse).
    case xor0xAA = "xor-0xaa"
    /// AES-256 in Galois/Counter Mode, with a 96-bit random nonce and a 128-bit tag.
    case aes256GCM = "aes-256-gcm"
    /// ChaCha20-Poly1305 (RFC 8439), with a 96-bit random nonce and a 128-bit tag.
    case chacha20Poly1305 = "chacha20-poly1305"
    /// HMAC with SHA-256 (RFC 2104), a 256-bit key: a MAC, not a cipher.
    case hmacSHA256 = "hmac-sha256"
    /// ECDSA on P-256 with SHA-256; signatures are DER.
    case ecdsaP256 = "ecdsa-p256"
    /// Ed25519 (RFC 8032); signatures are 64 bytes.
    case ed25519

    /// Whether the algorithm is an AEAD cipher that takes a key and associated data.
    public var isAEAD: Bool { self == .aes256GCM || self == .chacha20Poly1305 }
    /// Whether the algorithm is a message authentication code (for /hmac and /verify).
    public var isMAC: Bool { self == .hmacSHA256 }
    /// Whether the algorithm signs (for /sign and /verify), with a private key whose public key is shown.
    public var isSignature: Bool { self == .ecdsaP256 || self == .ed25519 }
    /// Whether the algorithm is a cipher (for /encrypt and /decrypt).
    public var isCipher: Bool { !isMAC && !isSignature }
    /// Bytes of a MAC.
    public static let macBytes = 32

    /// Bytes an AEAD ciphertext carries besides the plaintext: the nonce and the tag.
    public static let aeadOverhead = 28

    /// The case's place, for hashing, masks and tables indexed by algorithm.
    var position: UInt8 {
        switch self {
        case .xor0xAA: 0
        case .aes256GCM: 1
        case .chacha20Poly1305: 2
        case .hmacSHA256: 3
        case .ecdsaP256: 4
        case .ed25519: 5
        }
    }

    /// Hashed by its case, not by its raw value: a raw-value enum hashes its string by default,
    /// and every job looks its algorithm up in sets and tables several times.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(position)
    }

    /// A set of algorithms as one bit each: what every request checks its algorithm against
    /// (twice a job), in a test of a bit instead of a hashed lookup.
    public struct Mask: Sendable, Equatable {
        private let bits: UInt8

        public init(_ algorithms: some Sequence<Algorithm>) {
            bits = algorithms.reduce(0) { $0 | 1 << $1.position }
        }

        public func contains(_ algorithm: Algorithm) -> Bool { bits & 1 << algorithm.position != 0 }
    }
}
