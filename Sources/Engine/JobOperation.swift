import Foundation

/// What a job does.
public enum JobOperation: String, Sendable, CaseIterable {
    case encrypt, decrypt
    /// Opens a ciphertext under one key version and seals it under another, in one job: the
    /// plaintext never leaves the job's memory.
    case rewrap
    /// Seals fresh random bytes (a data key, for envelope encryption).
    case datakey
    /// Computes a MAC of the input.
    case hmac
    /// Signs the input with a private key.
    case sign
    /// Checks `JobRequest.expected` (a MAC, compared in constant time, or a signature, checked
    /// with the public key) against the input: the output is one byte, 1 when it holds.
    case verify

    /// Whether the job's input is a sealed `nonce || ciphertext || tag` to open first.
    public var opensSealed: Bool { self == .decrypt || self == .rewrap }
    /// Whether the job's output is a ciphertext (a plaintext is never kept).
    public var sealsOutput: Bool { self == .encrypt || self == .rewrap || self == .datakey }
}
