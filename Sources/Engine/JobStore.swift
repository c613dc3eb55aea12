import DequeModule
import Foundation
import Synchronization

/// Every job's record, newest first, with a bound on how many finished jobs are kept.
/// Jobs that are queued or running are always kept.
public final class JobStore: Sendable {
    fileprivate struct State {
        /// Boxed: the table then moves 8-byte references when it grows or deletes, not records
        /// of a few hundred bytes, and a record changes in place in its box.
        var records: [UUID: RecordBox] = [:]
        /// Ids in creation order; ids of evicted jobs stay until the next compaction.
        var creationOrder: [UUID] = []
        /// Ids of finished jobs in the order they finished, oldest first.
        var finishedOrder = Deque<UUID>()
        var counts = JobCounts()
        /// The counts of each owner's retained jobs (jobs without an owner are in `counts` only).
        var countsByOwner: [String: JobCounts] = [:]
        /// The part of `counts` and `countsByOwner` that a durable store holds too.
        var durableCounts = JobCounts()
        var durableCountsByOwner: [String: JobCounts] = [:]
        /// Jobs finished since start, retained or not.
        var completedTotal = 0
        var failedTotal = 0
        /// Bytes of output the retained finished jobs hold.
        var outputBytes = 0
        /// Finished decryptions that still hold their plaintext (async ones, until fetched or
        /// expired), in the order they finished.
        var plaintexts: [UUID] = []
    }

    private let state = Mutex(State())
    private let ids = JobIDGenerator()
    /// The most finished jobs kept; older ones are forgotten.
    public let retainedFinishedJobs: Int
    /// The most output bytes finished jobs keep together; the oldest are forgotten first, and
    /// an output larger than this is not kept at all (its client was answered with it).
    public let retainedOutputBytes: Int

    public init(retainedFinishedJobs: Int = 10_000, retainedOutputBytes: Int = 256 << 20) {
        precondition(retainedFinishedJobs >= 0 && retainedOutputBytes >= 0)
        self.retainedFinishedJobs = retainedFinishedJobs
        self.retainedOutputBytes = retainedOutputBytes
    }

    /// Records a new queued job.
    func create(_ request: JobRequest, provider: String) -> JobRecord {
        let record = JobRecord(id: ids.next(), request: request, provider: provider, createdAt: .now())
        state.withLock { state in
            state.records[record.id] = RecordBox(record)
            state.creationOrder.append(record.id)
            state.count(record, by: 1)
        }
        return record
    }

    /// Changes a job's record and returns the new value; a finished job may then
    /// push the oldest finished job out.
    @discardableResult
    func update(_ id: UUID, _ change: (inout JobRecord) -> Void) -> JobRecord? {
        state.withLock { state in
            guard let box = state.records[id] else { return nil }
            let before = box.record.status
            change(&box.record)
            let record = box.record
            if before != record.status {
                state.count(record, in: before, by: -1)
                state.count(record, by: 1)
                if record.status.isFinished && !before.isFinished {
                    if record.status == .completed { state.completedTotal += 1 } else { state.failedTotal += 1 }
                    if record.operation == .decrypt && record.output != nil { state.plaintexts.append(id) }
                    state.finishedOrder.append(id)
                    state.outputBytes += record.output?.count ?? 0
                    Self.evictExcessFinished(&state, keeping: retainedFinishedJobs, bytes: retainedOutputBytes)
                }
            }
            return record
        }
    }

    /// Forgets a job that was never run (its submission was refused).
    func remove(_ id: UUID) {
        state.withLock { state in
            if let record = state.records.removeValue(forKey: id)?.record {
                state.count(record, by: -1)
            }
        }
    }

    /// Forgets finished jobs that a durable store now holds (jobs not finished are kept, and so
    /// are plaintexts: the store never holds those).
    public func forget(_ ids: [UUID]) {
        state.withLock { state in
            for id in ids {
                guard let record = state.records[id]?.record, record.status.isFinished,
                    record.operation != .decrypt || record.output == nil
                else { continue }
                state.records[id] = nil
                state.count(record, by: -1)
                state.outputBytes -= record.output?.count ?? 0
            }
        }
    }

    /// Drops a decryption's plaintext: it was fetched once (its record then says
    /// `output_retained: false`).
    public func dropPlaintext(_ id: UUID) {
        state.withLock { state in state.dropOutput(id) }
    }

    /// Drops the plaintexts of decryptions finished before `cutoff` (wall clock): kept for the
    /// first fetch only so long.
    public func dropPlaintexts(finishedBefore cutoff: Int64) {
        state.withLock { state in
            var kept: [UUID] = []
            for id in state.plaintexts {
                guard let record = state.records[id]?.record, record.output != nil else { continue }
                if (record.completedAt?.wallNanoseconds ?? 0) < cutoff { state.dropOutput(id) } else { kept.append(id) }
            }
            state.plaintexts = kept
        }
    }

    /// The job's record while it is retained.
    public func job(_ id: UUID) -> JobRecord? {
        state.withLock { $0.records[id]?.record }
    }

    /// Up to `limit` jobs, newest first, optionally only those in `status`, with the counts of
    /// all retained jobs; with `owner`, only that owner's jobs and counts.
    public func list(status: JobStatus? = nil, owner: String? = nil, limit: Int) -> (jobs: [JobRecord], counts: JobCounts) {
        state.withLock { state in
            var jobs: [JobRecord] = []
            jobs.reserveCapacity(min(limit, state.records.count))
            var index = state.creationOrder.endIndex
            while index > state.creationOrder.startIndex && jobs.count < limit {
                index -= 1
                guard let record = state.records[state.creationOrder[index]]?.record else { continue }
                if (status == nil || record.status == status) && (owner == nil || record.owner == owner) {
                    jobs.append(record)
                }
            }
            let counts = owner.map { state.countsByOwner[$0] ?? JobCounts() } ?? state.counts
            return (jobs, counts)
        }
    }

    public var counts: JobCounts {
        state.withLock { $0.counts }
    }

    /// The counts of the retained jobs a durable store holds too (all, or `owner`'s).
    public func durableCounts(owner: String? = nil) -> JobCounts {
        state.withLock { state in
            owner.map { state.durableCountsByOwner[$0] ?? JobCounts() } ?? state.durableCounts
        }
    }

    /// Jobs completed and failed since start, including those no longer retained.
    public var finishedTotals: (completed: Int, failed: Int) {
        state.withLock { ($0.completedTotal, $0.failedTotal) }
    }

    /// Bytes of output the retained finished jobs hold.
    public var retainedBytes: Int {
        state.withLock { $0.outputBytes }
    }

    private static func evictExcessFinished(_ state: inout State, keeping limit: Int, bytes byteLimit: Int) {
        while state.finishedOrder.count > limit || (state.outputBytes > byteLimit && !state.finishedOrder.isEmpty) {
            let evicted = state.finishedOrder.removeFirst()
            if let record = state.records.removeValue(forKey: evicted)?.record {
                state.count(record, by: -1)
                state.outputBytes -= record.output?.count ?? 0
            }
        }
        // Compact the creation order once most of its entries are dead, so memory stays
        // proportional to what is retained.
        if state.creationOrder.count > 2 * state.records.count + 1024 {
            state.creationOrder.removeAll { state.records[$0] == nil }
        }
    }
}

extension JobStore.State {
    fileprivate mutating func dropOutput(_ id: UUID) {
        guard let box = records[id], let output = box.record.output else { return }
        outputBytes -= output.count
        box.record.output = nil
    }

    /// Adds `delta` to the counts of `status` (the record's own by default), overall and for its owner.
    fileprivate mutating func count(_ record: JobRecord, in status: JobStatus? = nil, by delta: Int) {
        let status = status ?? record.status
        counts[status] += delta
        if record.storedDurably { durableCounts[status] += delta }
        guard let owner = record.owner else { return }
        countsByOwner[owner, default: JobCounts()][status] += delta
        if countsByOwner[owner] == JobCounts() { countsByOwner[owner] = nil }
        if record.storedDurably {
            durableCountsByOwner[owner, default: JobCounts()][status] += delta
            if durableCountsByOwner[owner] == JobCounts() { durableCountsByOwner[owner] = nil }
        }
    }
}

/// A record in the store's table, changed in place under the store's lock.
private final class RecordBox {
    var record: JobRecord
    init(_ record: JobRecord) { self.record = record }
}
