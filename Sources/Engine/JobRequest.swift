import Foundation

/// What a client asks an engine to run.
public struct JobRequest: Sendable {
    public var operation: JobOperation
    public var algorithm: Algorithm
    public var input: [UInt8]
    /// The key of an AEAD algorithm.
    public var key: CipherKey?
    /// Associated data of an AEAD algorithm: authenticated, not encrypted.
    public var aad: [UInt8]
    /// The principal the job belongs to (the name of the token that asked for it); nil when
    /// the service runs without tokens.
    public var owner: String?
    /// Whether the store keeps the output once the job has finished. The completion always
    /// gets it; a client answered with it directly need not find it again.
    public var retainsOutput: Bool
    /// Whether a durable store outside the engine holds the job's record too (an async job
    /// when the service has one): `JobStore` counts such jobs apart, so that a view merging
    /// both stores counts each job once.
    public var storedDurably = false
    /// Whether the output is a ciphertext its key's type made, so that the answer can name the
    /// key and version with it (`offload:<key>:v<n>:...`).
    public var describesOutput = false
    /// A rewrap's key version to seal under (`key` is the one that opens).
    public var rewrapKey: CipherKey?
    /// The answer carries the input (a data key asked for with its plaintext); the record
    /// never does.
    public var answersWithInput = false
    /// The MAC or signature a verify job checks.
    public var expected: [UInt8] = []

    public init(operation: JobOperation = .encrypt, algorithm: Algorithm = .xor0xAA, input: [UInt8],
                key: CipherKey? = nil, aad: [UInt8] = [], owner: String? = nil, retainsOutput: Bool = true) {
        self.operation = operation
        self.algorithm = algorithm
        self.input = input
        self.key = key
        self.aad = aad
        self.owner = owner
        self.retainsOutput = retainsOutput
    }
}
