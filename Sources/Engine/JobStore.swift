import DequeModule
import Foundation
import Synchronization

/// Every job's record, newest first, with a bound on how many finished jobs are kept.
/// Jobs that are queued or running are always kept.
///
/// The records are kept in shards, one per engine loop: a loop creates and changes the records
/// of its own jobs under its shard's lock, which no other loop takes, so the loops do not pass
/// a lock and a table between cores for every job. A job's id names its shard (its last byte,
/// modulo the number of shards). Each shard keeps up to `retainedFinishedJobs` of its own
/// newest finished jobs (so a job stays findable for at least that many later jobs of its loop,
/// however unevenly the loops are loaded; a record without output is a few hundred bytes), and
/// an equal share of `retainedOutputBytes` for their outputs (the bound memory relies on).
public final class JobStore: Sendable {
    fileprivate struct State {
        /// Boxed: the table then moves 8-byte references when it grows or deletes, not records
        /// of a few hundred bytes, and a record changes in place in its box.
        var records: [RecordKey: RecordBox] = [:]
        /// Records in creation order; evicted ones (no longer `isStored`, their outputs dropped)
        /// stay until the next compaction, at most as many as are retained plus 1,024. Boxes,
        /// not ids: the list and the compaction read them without a lookup (by id, the
        /// compaction was two hash lookups per job).
        var creationOrder: [RecordBox] = []
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

    private let shards: [Shard]
    /// The most finished jobs each shard keeps; older ones are forgotten.
    public let retainedFinishedJobs: Int
    /// The most output bytes finished jobs keep together; the oldest are forgotten first, and
    /// an output larger than a shard's share of this is not kept at all (its client was
    /// answered with it).
    public let retainedOutputBytes: Int

    public init(shards: Int = 1, retainedFinishedJobs: Int = 10_000, retainedOutputBytes: Int = 256 << 20) {
        precondition((1...256).contains(shards) && retainedFinishedJobs >= 0 && retainedOutputBytes >= 0)
        self.retainedFinishedJobs = retainedFinishedJobs
        self.retainedOutputBytes = retainedOutputBytes
        self.shards = (0..<shards).map { index in
            Shard(
                index: index, retainedFinishedJobs: retainedFinishedJobs,
                retainedOutputBytes: retainedOutputBytes / shards)
        }
    }

    /// The shard that holds `id`'s record (if any does).
    private func shard(of id: UUID) -> Shard {
        shards[Int(id.uuid.15) % shards.count]
    }

    /// A job's place in the store: the loop that runs the job changes its record through it,
    /// without hashing and looking up its id each time.
    struct Entry: Sendable {
        let id: UUID
        fileprivate let box: RecordBox
        fileprivate let shard: Shard
    }

    /// Records a new queued job in shard `shard` (the engine loop that runs it).
    func create(_ request: JobRequest, provider: String, shard index: Int = 0) -> (record: JobRecord, entry: Entry) {
        let shard = shards[index]
        let record = JobRecord(
            id: shard.ids.next(shard: shard.index, of: shards.count), request: request, provider: provider, createdAt: .now())
        let box = RecordBox(record)
        shard.state.withLock { state in
            state.records[RecordKey(record.id)] = box
            state.creationOrder.append(box)
            state.count(record, by: 1)
        }
        return (record, Entry(id: record.id, box: box, shard: shard))
    }

    /// Changes the record of a job `create` made and gives back what `change` returns of it
    /// (nil once the store no longer holds the record); a finished job may then push the
    /// oldest finished job of its shard out. The caller takes only what it needs: a copy of a
    /// record retains its strings and arrays and moves a few hundred bytes, and the bookkeeping
    /// reads the record in its box.
    @discardableResult
    func update<Result>(_ entry: Entry, _ change: (inout JobRecord) -> Result) -> Result? {
        entry.shard.state.withLock { state in
            guard entry.box.isStored else { return nil }
            let before = entry.box.record.status
            let result = change(&entry.box.record)
            Self.recordChanged(entry.box, from: before, in: &state, of: entry.shard)
            return result
        }
    }

    /// Keeps the counts and the retention in step with a record changed in its box.
    private static func recordChanged(_ box: RecordBox, from before: JobStatus, in state: inout State, of shard: Shard) {
        let status = box.record.status
        guard before != status else { return }
        let owner = box.record.owner, storedDurably = box.record.storedDurably
        state.count(before, owner: owner, storedDurably: storedDurably, by: -1)
        state.count(status, owner: owner, storedDurably: storedDurably, by: 1)
        guard status.isFinished && !before.isFinished else { return }
        if status == .completed { state.completedTotal += 1 } else { state.failedTotal += 1 }
        let id = box.record.id
        let outputBytes = box.record.output?.count ?? 0
        if outputBytes > shard.retainedOutputBytes {
            // Larger than the whole bound: not kept (the caller's copy, taken in its change,
            // still has it), and nothing older is pushed out for it.
            state.forget(id)
            return
        }
        if box.record.operation == .decrypt && box.record.output != nil { state.plaintexts.append(id) }
        state.finishedOrder.append(id)
        state.outputBytes += outputBytes
        evictExcessFinished(&state, keeping: shard.retainedFinishedJobs, bytes: shard.retainedOutputBytes)
    }

    /// Forgets a job that was never run (its submission was refused).
    func remove(_ id: UUID) {
        shard(of: id).state.withLock { state in _ = state.forget(id) }
    }

    /// Forgets finished jobs that a durable store now holds (jobs not finished are kept, and so
    /// are plaintexts: the store never holds those).
    public func forget(_ ids: [UUID]) {
        for id in ids {
            shard(of: id).state.withLock { state in
                guard let box = state.records[RecordKey(id)], box.record.status.isFinished,
                    box.record.operation != .decrypt || box.record.output == nil
                else { return }
                state.outputBytes -= state.forget(id) ?? 0
            }
        }
    }

    /// Drops a decryption's plaintext: it was fetched once (its record then says
    /// `output_retained: false`).
    public func dropPlaintext(_ id: UUID) {
        shard(of: id).state.withLock { state in state.dropOutput(id) }
    }

    /// Drops the plaintexts of decryptions finished before `cutoff` (wall clock): kept for the
    /// first fetch only so long.
    public func dropPlaintexts(finishedBefore cutoff: Int64) {
        for shard in shards {
            shard.state.withLock { state in
                var kept: [UUID] = []
                for id in state.plaintexts {
                    guard let record = state.records[RecordKey(id)]?.record, record.output != nil else { continue }
                    if (record.completedAt?.wallNanoseconds ?? 0) < cutoff { state.dropOutput(id) } else { kept.append(id) }
                }
                state.plaintexts = kept
            }
        }
    }

    /// The job's record while it is retained.
    public func job(_ id: UUID) -> JobRecord? {
        shard(of: id).state.withLock { $0.records[RecordKey(id)]?.record }
    }

    /// Up to `limit` jobs, newest first, optionally only those in `status`, with the counts of
    /// all retained jobs; with `owner`, only that owner's jobs and counts.
    public func list(status: JobStatus? = nil, owner: String? = nil, limit: Int) -> (jobs: [JobRecord], counts: JobCounts) {
        var jobs: [JobRecord] = []
        var counts = JobCounts()
        for shard in shards {
            shard.state.withLock { state in
                var index = state.creationOrder.endIndex
                var taken = 0
                while index > state.creationOrder.startIndex && taken < limit {
                    index -= 1
                    let box = state.creationOrder[index]
                    guard box.isStored else { continue }
                    let record = box.record
                    if (status == nil || record.status == status) && (owner == nil || record.owner == owner) {
                        jobs.append(record)
                        taken += 1
                    }
                }
                counts.add(owner.map { state.countsByOwner[$0] ?? JobCounts() } ?? state.counts)
            }
        }
        if shards.count > 1 {
            jobs.sort { $0.createdAt.monotonicNanoseconds > $1.createdAt.monotonicNanoseconds }
        }
        return (Array(jobs.prefix(limit)), counts)
    }

    public var counts: JobCounts {
        sum { $0.counts }
    }

    /// The counts of the retained jobs a durable store holds too (all, or `owner`'s).
    public func durableCounts(owner: String? = nil) -> JobCounts {
        sum { state in owner.map { state.durableCountsByOwner[$0] ?? JobCounts() } ?? state.durableCounts }
    }

    /// Jobs completed and failed since start, including those no longer retained.
    public var finishedTotals: (completed: Int, failed: Int) {
        shards.reduce((0, 0)) { totals, shard in
            shard.state.withLock { (totals.0 + $0.completedTotal, totals.1 + $0.failedTotal) }
        }
    }

    /// Bytes of output the retained finished jobs hold.
    public var retainedBytes: Int {
        shards.reduce(0) { total, shard in total + shard.state.withLock { $0.outputBytes } }
    }

    /// The sum of `counts` over the shards.
    private func sum(_ counts: (State) -> JobCounts) -> JobCounts {
        var total = JobCounts()
        for shard in shards { total.add(shard.state.withLock { counts($0) }) }
        return total
    }

    private static func evictExcessFinished(_ state: inout State, keeping limit: Int, bytes byteLimit: Int) {
        while state.finishedOrder.count > limit || (state.outputBytes > byteLimit && !state.finishedOrder.isEmpty) {
            let evicted = state.finishedOrder.removeFirst()
            if let outputBytes = state.forget(evicted) {
                state.outputBytes -= outputBytes
            }
        }
        // Compact the creation order once most of its entries are dead, so memory stays
        // proportional to what is retained.
        if state.creationOrder.count > 2 * state.records.count + 1024 {
            state.creationOrder.removeAll { !$0.isStored }
        }
    }
}

extension JobStore.State {
    /// Takes a record out of the table and its counts; its entry no longer changes it. Returns
    /// the bytes of output the record held (nil when the table did not hold it). The record is
    /// read in its box, not copied out.
    @discardableResult
    fileprivate mutating func forget(_ id: UUID) -> Int? {
        guard let box = records.removeValue(forKey: RecordKey(id)) else { return nil }
        box.isStored = false
        count(box.record.status, owner: box.record.owner, storedDurably: box.record.storedDurably, by: -1)
        let outputBytes = box.record.output?.count ?? 0
        // The box waits in the creation order until the next compaction: without its output,
        // which the bound on retained bytes counts as gone.
        box.record.output = nil
        return outputBytes
    }

    fileprivate mutating func dropOutput(_ id: UUID) {
        guard let box = records[RecordKey(id)], let output = box.record.output else { return }
        outputBytes -= output.count
        box.record.output = nil
    }

    /// Adds `delta` to the counts of the record's status, overall and for its owner.
    fileprivate mutating func count(_ record: JobRecord, by delta: Int) {
        count(record.status, owner: record.owner, storedDurably: record.storedDurably, by: delta)
    }

    /// Adds `delta` to the counts of `status`, overall and for `owner`.
    fileprivate mutating func count(_ status: JobStatus, owner: String?, storedDurably: Bool, by delta: Int) {
        counts[status] += delta
        if storedDurably { durableCounts[status] += delta }
        guard let owner else { return }
        countsByOwner[owner, default: JobCounts()][status] += delta
        if countsByOwner[owner] == JobCounts() { countsByOwner[owner] = nil }
        if storedDurably {
            durableCountsByOwner[owner, default: JobCounts()][status] += delta
            if durableCountsByOwner[owner] == JobCounts() { durableCountsByOwner[owner] = nil }
        }
    }
}

/// One engine loop's part of the store.
private final class Shard: Sendable {
    let state: Mutex<JobStore.State>
    let ids = JobIDGenerator()
    let index: Int
    let retainedFinishedJobs: Int
    let retainedOutputBytes: Int

    init(index: Int, retainedFinishedJobs: Int, retainedOutputBytes: Int) {
        var state = JobStore.State()
        // Room for twice the retained jobs: the table then stays under a third full instead of
        // up to three quarters. Every job evicts one, and a removal from an open-addressed table
        // rehashes the entries after it up to the next empty bucket: at zero latency this cut
        // the cost of creating and evicting records by a third (callgrind: from 4,600 to 3,100
        // of a request's 61,500 instructions), for 400 KiB more per loop at the default 10,000.
        state.records.reserveCapacity(2 * min(retainedFinishedJobs, 1 << 20))
        self.state = Mutex(state)
        self.index = index
        self.retainedFinishedJobs = retainedFinishedJobs
        self.retainedOutputBytes = retainedOutputBytes
    }
}

/// A job's id as the store's table hashes it: its two halves folded into one word. A UUID hashes
/// its 16 bytes through the hasher's byte buffer (about 400 instructions, twice a job); the ids
/// are random (version 4, from the DRBG, made here, never by a client), so one word of them
/// spreads as well.
private struct RecordKey: Hashable {
    let id: UUID

    init(_ id: UUID) { self.id = id }

    func hash(into hasher: inout Hasher) {
        let folded = withUnsafeBytes(of: id.uuid) { raw in
            raw.loadUnaligned(as: UInt64.self) ^ raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        }
        hasher.combine(folded)
    }

    static func == (left: Self, right: Self) -> Bool { left.id == right.id }
}

/// A record in the store's table, changed in place under its shard's lock (hence unchecked:
/// the lock, not the type, keeps it to one thread at a time).
private final class RecordBox: @unchecked Sendable {
    var record: JobRecord
    /// False once the table no longer holds it.
    var isStored = true
    init(_ record: JobRecord) { self.record = record }
}
