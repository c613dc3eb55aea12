import Foundation
import Testing
@testable import Engine

/// The job store in process: what it keeps, what it forgets first, and its counts.
@Suite struct JobStoreRetention {
    static func finish(_ store: JobStore, output: Int = 0, owner: String? = nil, shard: Int = 0) -> UUID {
        let entry = store.create(JobRequest(input: [1], owner: owner), provider: "test", shard: shard).entry
        store.update(entry) { record in
            record.status = .completed
            record.output = [UInt8](repeating: 7, count: output)
            record.completedAt = .now()
        }
        return entry.id
    }

    @Test func theOldestFinishedJobsGoFirstAndUnfinishedOnesStay() {
        let store = JobStore(retainedFinishedJobs: 2)
        let running = store.create(JobRequest(input: [1]), provider: "test").record
        let ids = (0..<4).map { _ in Self.finish(store) }
        #expect(store.job(running.id) != nil, "a job not finished is always kept")
        #expect(store.job(ids[0]) == nil && store.job(ids[1]) == nil)
        #expect(store.job(ids[2]) != nil && store.job(ids[3]) != nil)
        #expect(store.counts.completed == 2 && store.counts.queued == 1)
    }

    @Test func outputsBeyondTheirByteBudgetEvictTheOldest() {
        let store = JobStore(retainedFinishedJobs: 100, retainedOutputBytes: 250)
        let ids = (0..<3).map { _ in Self.finish(store, output: 100) }
        #expect(store.job(ids[0]) == nil, "three outputs of 100 bytes do not fit in 250")
        #expect(store.job(ids[1]) != nil && store.job(ids[2]) != nil)
        #expect(store.retainedBytes == 200)
    }

    @Test func eachOwnerSeesItsOwnJobsAndCounts() {
        let store = JobStore()
        _ = Self.finish(store, owner: "alice")
        _ = Self.finish(store, owner: "alice")
        let bobs = Self.finish(store, owner: "bob")
        #expect(store.list(owner: "bob", limit: 10).jobs.map(\.id) == [bobs])
        #expect(store.list(owner: "alice", limit: 10).counts.completed == 2)
        #expect(store.list(limit: 10).counts.completed == 3)
    }

    @Test func eachLoopsShardKeepsItsOwnNewestAndTheListMergesThemNewestFirst() {
        let store = JobStore(shards: 2, retainedFinishedJobs: 2, retainedOutputBytes: 300)
        let first = (0..<3).map { _ in Self.finish(store, shard: 0) }
        let second = (0..<2).map { _ in Self.finish(store, shard: 1) }
        #expect(first.allSatisfy { $0.uuid.15 % 2 == 0 } && second.allSatisfy { $0.uuid.15 % 2 == 1 })
        #expect(store.job(first[0]) == nil, "shard 0 keeps its two newest, whatever shard 1 holds")
        #expect([first[1], first[2], second[0], second[1]].allSatisfy { store.job($0) != nil })
        #expect(store.list(limit: 10).jobs.map(\.id) == [second[1], second[0], first[2], first[1]])
        #expect(store.list(limit: 3).jobs.map(\.id) == [second[1], second[0], first[2]])
        #expect(store.counts.completed == 4 && store.finishedTotals.completed == 5)
        // Each shard has 150 bytes for outputs.
        let kept = Self.finish(store, output: 150, shard: 1)
        #expect(store.job(kept) != nil && store.job(second[1]) != nil && store.job(second[0]) == nil)
        let tooLarge = Self.finish(store, output: 151, shard: 1)
        #expect(store.job(tooLarge) == nil, "larger than its shard's bytes: not kept")
        #expect(store.job(kept) != nil && store.retainedBytes == 150, "and nothing older went for it")
        #expect(store.job(UUID()) == nil)
    }

    /// Thousands of jobs through a store that keeps three: the creation order is compacted
    /// many times over, and the list still holds exactly the newest three, newest first.
    @Test func theListStaysExactThroughManyCompactions() {
        let store = JobStore(retainedFinishedJobs: 3)
        let ids = (0..<5_000).map { _ in Self.finish(store, output: 8) }
        #expect(store.list(limit: 10).jobs.map(\.id) == Array(ids.suffix(3).reversed()))
        #expect(store.counts.completed == 3 && store.finishedTotals.completed == 5_000)
        #expect(store.retainedBytes == 24)
        #expect(store.job(ids[4_996]) == nil && store.job(ids[4_997]) != nil)
    }

    /// An update gives back what its change returns: a record finished with an output too large
    /// to keep carries it in that copy, while the store forgets it.
    @Test func anUpdateGivesBackWhatItsChangeTakesEvenOfARecordTheStoreDoesNotKeep() {
        let store = JobStore(retainedOutputBytes: 100)
        let entry = store.create(JobRequest(input: [1]), provider: "test").entry
        let finished = store.update(entry) { (record: inout JobRecord) -> JobRecord in
            record.status = .completed
            record.output = [UInt8](repeating: 9, count: 101)
            return record
        }
        #expect(finished?.output?.count == 101)
        #expect(store.job(entry.id) == nil && store.retainedBytes == 0)
        #expect(store.update(entry) { _ in } == nil, "a forgotten record is not changed")
    }
}
