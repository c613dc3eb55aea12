import Foundation

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
