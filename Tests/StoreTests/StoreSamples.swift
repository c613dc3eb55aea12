import Engine
import Foundation
import Store

/// Records to write and helpers that wait for a store's answers.
enum StoreSamples {
    static func record(status: JobStatus, owner: String? = "alice", createdAt: Timestamp = .now()) -> JobRecord {
        JobRecord(
            id: UUID(), status: status, operation: .encrypt, algorithm: .aes256GCM, keyName: "primary",
            provider: "offloadsim", owner: owner, inputBytes: 8, output: nil, outputBytes: nil, pauses: 0,
            deviceUnit: nil, engine: nil, createdAt: createdAt, startedAt: nil, completedAt: nil,
            deviceNanoseconds: nil, error: nil)
    }

    static func finished(_ record: JobRecord, output: [UInt8]) -> JobRecord {
        let now = Timestamp.now()
        return JobRecord(
            id: record.id, status: .completed, operation: record.operation, algorithm: record.algorithm,
            keyName: record.keyName, provider: record.provider, owner: record.owner, inputBytes: record.inputBytes,
            output: output, outputBytes: output.count, pauses: 1, deviceUnit: 3, engine: 0,
            createdAt: record.createdAt, startedAt: now, completedAt: now, deviceNanoseconds: 1_000, error: nil)
    }

    /// Calls `start` with a completion and waits (at most 10 s) for its value.
    static func wait<T: Sendable>(_ start: (@escaping @Sendable (T) -> Void) -> Void) throws -> T {
        let box = ResultBox<T>()
        start { box.set($0) }
        return try box.get()
    }

    static func read(_ store: DurableStore, _ id: UUID) throws -> JobRecord? {
        try wait { done in store.job(id, then: done) }.get()
    }

    static func list(_ store: DurableStore, status: JobStatus? = nil, owner: String? = nil, limit: Int = 100) throws
        -> (jobs: [JobRecord], counts: JobCounts)
    {
        try wait { done in store.list(status: status, owner: owner, limit: limit) { done($0.map { ($0.jobs, $0.counts) }) } }.get()
    }
}

struct StoreTimeout: Error {}

final class ResultBox<T: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is written once before the semaphore is signalled, read after.
    private var value: T?
    private let ready = DispatchSemaphore(value: 0)
    func set(_ value: T) {
        self.value = value
        ready.signal()
    }
    func get() throws -> T {
        guard ready.wait(timeout: .now() + 10) == .success, let value else { throw StoreTimeout() }
        return value
    }
}
