import Engine
import Foundation
import Logging
import Store
import Testing

@Suite struct StoreRetention {
    @Test func finishedJobsBeyondTheRetainedNumberAreDeletedNewestKept() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("offload-store-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try DurableStore(
            location: .sqlite(path: directory.appendingPathComponent("jobs.sqlite3").path), instance: "test",
            retainedJobs: 5, retention: .seconds(3600), jobDeadline: .seconds(60), logger: Logger(label: "test"))
        defer { store.close() }
        var ids: [UUID] = []
        for index in 0..<20 {
            let created = Timestamp(storedWallNanoseconds: Timestamp.now().wallNanoseconds + Int64(index) * 1_000_000)
            let queued = StoreSamples.record(status: .queued, createdAt: created)
            ids.append(queued.id)
            #expect(try StoreSamples.wait { done in store.accepted(queued, committed: done) })
            store.finished(StoreSamples.finished(queued, output: [UInt8(index)]))
        }
        // Retention runs once a second on the writer thread.
        var counts = JobCounts()
        for _ in 0..<300 {
            counts = try StoreSamples.list(store).counts
            if counts.completed == 5 { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(counts.completed == 5)
        #expect(try StoreSamples.read(store, ids[19]) != nil)
        #expect(try StoreSamples.read(store, ids[0]) == nil)
    }

    @Test func anUnfinishedJobPastItsDeadlineEndsFailedAsLost() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("offload-store-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try DurableStore(
            location: .sqlite(path: directory.appendingPathComponent("jobs.sqlite3").path), instance: "other",
            retainedJobs: 100, retention: .seconds(3600), jobDeadline: .milliseconds(100), logger: Logger(label: "test"))
        defer { store.close() }
        let record = StoreSamples.record(status: .queued)
        #expect(try StoreSamples.wait { done in store.accepted(record, committed: done) } == true)
        #expect(try StoreSamples.read(store, record.id)?.status == .queued)
        var read: JobRecord?
        for _ in 0..<300 {
            read = try StoreSamples.read(store, record.id)
            if read?.status == .failed { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(read?.status == .failed)
        #expect(read?.error == DurableStore.instanceLost)
        // Its result, arriving late, does not bring it back.
        store.finished(StoreSamples.finished(record, output: [1]))
        #expect(try StoreSamples.wait { done in store.accepted(StoreSamples.record(status: .queued), committed: done) })
        #expect(try StoreSamples.read(store, record.id)?.status == .failed)
    }

    @Test func aStoreURLIsParsedAndItsPasswordNeverShown() throws {
        #expect(try StoreLocation(parsing: "memory:") == .memory)
        #expect(try StoreLocation(parsing: "sqlite:/var/lib/x.sqlite3") == .sqlite(path: "/var/lib/x.sqlite3"))
        #expect(try StoreLocation(parsing: "sqlite:///var/lib/x.sqlite3") == .sqlite(path: "/var/lib/x.sqlite3"))
        let postgres = try StoreLocation(parsing: "postgres://app:s3cret@db:5432/jobs")
        #expect(!"\(postgres)".contains("s3cret"))
        #expect(throws: StoreError.self) { try StoreLocation(parsing: "sqlite:") }
        #expect(throws: StoreError.self) { try StoreLocation(parsing: "mysql://db/jobs") }
        #expect(performing: { try StoreLocation(parsing: "redis://:s3cret@db") }, throws: { !"\($0)".contains("s3cret") })
    }
}
