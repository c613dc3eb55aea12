import Engine
import Foundation

/// One write to the `jobs` table.
enum StoreWrite: Sendable {
    /// A new row: an async job when it is accepted, with the moment it must have finished by.
    /// A row that exists is left alone.
    case insert(JobRecord, deadline: Int64?)
    /// A job's progress or result. Only an unfinished row changes: a job another replica
    /// already failed as lost stays failed.
    case update(JobRecord)
}

/// A blocking connection to one store, used by one thread at a time (`DurableStore` gives the
/// writer and the reader one each).
protocol StoreConnection: AnyObject {
    /// Runs the writes in one transaction: all or none.
    func write(_ writes: [StoreWrite], instance: String) throws(StoreError)
    func job(_ id: UUID) throws(StoreError) -> JobRecord?
    /// Up to `limit` jobs, newest first, with the counts of all (both filtered by owner).
    func list(status: JobStatus?, owner: String?, limit: Int) throws(StoreError) -> (jobs: [JobRecord], counts: JobCounts)
    /// Marks failed the unfinished jobs of `instance` (any deadline), or those whose deadline
    /// has passed (any instance); returns how many.
    func failUnfinished(instance: String?, deadlineBefore: Int64?, error: EngineError, now: Int64) throws(StoreError) -> Int
    /// Adds finished jobs to `instance`'s totals; returns the totals of every instance.
    func addTotals(instance: String, completed: Int, failed: Int) throws(StoreError) -> (completed: Int, failed: Int)
    // Keys (schema version 2). Each change is a transaction of its own.
    /// Every key that is not deleted, with its versions.
    func loadKeys() throws(StoreError) -> [StoredKey]
    func createKey(name: String, type: String, now: Int64, seal: KeySealer) throws(StoreError) -> KeyChange
    /// Adds the next version; concurrent rotations get consecutive numbers.
    func rotateKey(name: String, now: Int64, seal: KeySealer) throws(StoreError) -> KeyChange
    func updateKey(name: String, minDecryptionVersion: Int?, deletionAllowed: Bool?, now: Int64) throws(StoreError) -> KeyChange
    func deleteKey(name: String, now: Int64) throws(StoreError) -> KeyChange
    /// A value of the store's own (the master key's check value).
    func meta(_ name: String) throws(StoreError) -> [UInt8]?
    /// Sets it unless it is set; returns the value the store holds afterwards.
    func setMetaIfAbsent(_ name: String, _ value: [UInt8]) throws(StoreError) -> [UInt8]
    /// Deletes finished jobs beyond the newest `keeping` and those finished before `finishedBefore`.
    func prune(keeping: Int, finishedBefore: Int64) throws(StoreError) -> Int
}
