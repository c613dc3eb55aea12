import Foundation

/// The operations the simulated accelerator offers.
public enum Algorithm: String, Sendable, CaseIterable {
    /// The reference operation: every byte XOR 0xAA.
    case xor0xAA = "xor-0xaa"
}

/// Where a job is in its life.
public enum JobStatus: String, Sendable, CaseIterable {
    case queued, running, completed, failed

    public var isFinished: Bool { self == .completed || self == .failed }
}

/// A moment, on both clocks: the wall clock for people, the monotonic clock for durations.
public struct Timestamp: Sendable, Equatable {
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
    public var algorithm: Algorithm
    public var input: [UInt8]

    public init(algorithm: Algorithm = .xor0xAA, input: [UInt8]) {
        self.algorithm = algorithm
        self.input = input
    }
}

/// Everything known about one job. Value type: a snapshot, safe to hand to any thread.
public struct JobRecord: Sendable, Identifiable {
    public let id: UUID
    public internal(set) var status: JobStatus
    public let algorithm: Algorithm
    public let inputBytes: Int
    public internal(set) var output: [UInt8]?
    /// Times the ASYNC job paused.
    public internal(set) var pauses: Int = 0
    /// The accelerator unit that ran the operation.
    public internal(set) var deviceUnit: Int?
    /// The engine thread that owned the job.
    public internal(set) var engine: Int?
    public let createdAt: Timestamp
    public internal(set) var startedAt: Timestamp?
    public internal(set) var completedAt: Timestamp?
    /// Time the operation spent on the device, from submission to completion signal.
    public internal(set) var deviceNanoseconds: UInt64?
    public internal(set) var error: EngineError?

    init(id: UUID, algorithm: Algorithm, inputBytes: Int, createdAt: Timestamp) {
        self.id = id
        self.status = .queued
        self.algorithm = algorithm
        self.inputBytes = inputBytes
        self.createdAt = createdAt
    }
}

extension JobRecord {
    /// A failed record for a job the store no longer knows.
    init(lost submission: EngineSubmission, error: EngineError?) {
        self.init(id: submission.id, algorithm: submission.request.algorithm,
                  inputBytes: submission.request.input.count, createdAt: .now())
        status = .failed
        self.error = error ?? EngineError(code: "engine_error", message: "The job's record was lost.")
    }
}
