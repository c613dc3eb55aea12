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
    /// Deletes finished jobs beyond the newest `keeping` and those finished before `finishedBefore`.
    func prune(keeping: Int, finishedBefore: Int64) throws(StoreError) -> Int
}
