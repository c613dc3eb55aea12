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
}

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

/// Where a job is in its life.
public enum JobStatus: String, Sendable, CaseIterable {
    case queued, running, completed, failed

    public var isFinished: Bool { self == .completed || self == .failed }
}

/// A moment, on both clocks: the wall clock for people, the monotonic clock for durations.
public struct Timestamp: Sendable, Equatable {
    public init(wallNanoseconds: Int64, monotonicNanoseconds: UInt64) {
        self.wallNanoseconds = wallNanoseconds
        self.monotonicNanoseconds = monotonicNanoseconds
    }

    /// A moment read back from a store, which keeps the wall clock only: its monotonic
    /// reading is the wall clock's, so durations between such moments are wall-clock ones.
    public init(storedWallNanoseconds wall: Int64) {
        self.init(wallNanoseconds: wall, monotonicNanoseconds: UInt64(max(0, wall)))
    }

    /// Nanoseconds since the Unix epoch (CLOCK_REALTIME).
    public let wallNanoseconds: Int64
    /// Nanoseconds on CLOCK_MONOTONIC.
    public let monotonicNanoseconds: UInt64

    public static func now() -> Timestamp {
        Timestamp(wallNanoseconds: readWallClock(), monotonicNanoseconds: readMonotonicClock())
    }

    /// The time from `self` to `later`, in nanoseconds, never negative.
    public func nanoseconds(until later: Timestamp) -> UInt64 {
        later.monotonicNanoseconds >= monotonicNanoseconds
            ? later.monotonicNanoseconds - monotonicNanoseconds : 0
    }
}

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

/// Everything known about one job. Value type: a snapshot, safe to hand to any thread.
public struct JobRecord: Sendable, Identifiable {
    public let id: UUID
    public internal(set) var status: JobStatus
    public let operation: JobOperation
    public let algorithm: Algorithm
    /// The name and version of the key an AEAD job used (never its bytes).
    public let keyName: String?
    public let keyVersion: Int?
    /// See `JobRequest.describesOutput`.
    public let describesOutput: Bool
    /// The OpenSSL provider that ran the job.
    public let provider: String
    /// The principal the job belongs to, when the service has tokens.
    public let owner: String?
    /// Whether a durable store holds the record too (see `JobRequest.storedDurably`).
    public let storedDurably: Bool
    public let inputBytes: Int
    /// The output, while the store keeps it (see `JobRequest.retainsOutput`).
    public internal(set) var output: [UInt8]?
    /// The output's length once the job completed, kept or not.
    public internal(set) var outputBytes: Int?
    /// False when the job completed and its output was answered but not kept.
    public var outputRetained: Bool { outputBytes == nil || output != nil }
    /// Times the ASYNC job paused.
    public internal(set) var pauses: Int = 0
    /// The accelerator unit that ran the operation (offloadsim only).
    public internal(set) var deviceUnit: Int?
    /// The engine thread that owned the job.
    public internal(set) var engine: Int?
    public let createdAt: Timestamp
    public internal(set) var startedAt: Timestamp?
    public internal(set) var completedAt: Timestamp?
    /// Time the operation spent on the device, from submission to completion (offloadsim only).
    public internal(set) var deviceNanoseconds: UInt64?
    public internal(set) var error: EngineError?

    init(id: UUID, request: JobRequest, provider: String, createdAt: Timestamp) {
        self.id = id
        self.provider = provider
        self.status = .queued
        self.operation = request.operation
        self.algorithm = request.algorithm
        // The key of the output: a rewrap's output is sealed under its new version.
        self.keyName = (request.rewrapKey ?? request.key)?.name
        self.keyVersion = (request.rewrapKey ?? request.key)?.version
        self.describesOutput = request.describesOutput
        self.owner = request.owner
        self.storedDurably = request.storedDurably
        self.inputBytes = request.input.count
        self.createdAt = createdAt
    }
}

extension JobRecord {
    /// A record as a store kept it, field by field (a store outside the engine rebuilds the
    /// records it reads with this).
    public init(
        id: UUID, status: JobStatus, operation: JobOperation, algorithm: Algorithm, keyName: String?,
        keyVersion: Int? = nil, describesOutput: Bool = false, provider: String, owner: String?, inputBytes: Int, output: [UInt8]?, outputBytes: Int?, pauses: Int,
        deviceUnit: Int?, engine: Int?, createdAt: Timestamp, startedAt: Timestamp?, completedAt: Timestamp?,
        deviceNanoseconds: UInt64?, error: EngineError?
    ) {
        self.id = id
        self.status = status
        self.operation = operation
        self.algorithm = algorithm
        self.keyName = keyName
        self.keyVersion = keyVersion
        self.describesOutput = describesOutput
        self.provider = provider
        self.owner = owner
        self.storedDurably = true
        self.inputBytes = inputBytes
        self.output = output
        self.outputBytes = outputBytes
        self.pauses = pauses
        self.deviceUnit = deviceUnit
        self.engine = engine
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.completedAt = completedAt
        self.deviceNanoseconds = deviceNanoseconds
        self.error = error
    }

    /// The record with its status changed (a store that fails a job whose instance was lost).
    public func with(status: JobStatus, error: EngineError?) -> JobRecord {
        var record = self
        record.status = status
        record.error = error
        return record
    }

    /// A failed record for a job the store no longer knows.
    init(lost submission: EngineSubmission, error: EngineError?) {
        self.init(id: submission.id, request: submission.request, provider: "", createdAt: .now())
        status = .failed
        self.error = error ?? EngineError(code: .engineError, message: "The job's record was lost.")
    }
}
