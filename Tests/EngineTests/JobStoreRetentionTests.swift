import Foundation
import Testing
@testable import Engine

/// The job store in process: what it keeps, what it forgets first, and its counts.
@Suite struct JobStoreRetention {
    static func finish(_ store: JobStore, output: Int = 0, owner: String? = nil) -> UUID {
        let record = store.create(JobRequest(input: [1], owner: owner), provider: "test")
        _ = store.update(record.id) { record in
            record.status = .completed
            record.output = [UInt8](repeating: 7, count: output)
            record.completedAt = .now()
        }
        return record.id
    }

    @Test func theOldestFinishedJobsGoFirstAndUnfinishedOnesStay() {
        let store = JobStore(retainedFinishedJobs: 2)
        let running = store.create(JobRequest(input: [1]), provider: "test")
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
}
