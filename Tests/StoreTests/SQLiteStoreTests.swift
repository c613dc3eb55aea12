import Engine
import Foundation
import Logging
import Store
import Testing

/// The embedded store against a real SQLite file in a temporary directory.
@Suite struct SQLiteStoreTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("offload-store-\(UUID())")
    var path: String { directory.appendingPathComponent("jobs.sqlite3").path }

    func open(instance: String = "test", retainedJobs: Int = 100, deadline: Duration = .seconds(60)) throws -> DurableStore {
        try DurableStore(
            location: .sqlite(path: path), instance: instance, retainedJobs: retainedJobs, retention: .seconds(3600),
            jobDeadline: deadline, logger: Logger(label: "test"))
    }

    @Test func anAcceptedJobAndItsResultSurviveARestart() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try open()
        let queued = StoreSamples.record(status: .queued)
        #expect(try StoreSamples.wait { done in store.accepted(queued, committed: done) } == true)
        let completed = StoreSamples.finished(queued, output: [0xEB, 0xF9])
        store.finished(completed)
        store.close()

        let reopened = try open()
        defer { reopened.close() }
        let read = try #require(try StoreSamples.read(reopened, queued.id))
        #expect(read.status == .completed)
        #expect(read.output == [0xEB, 0xF9])
        #expect(read.outputBytes == 2)
        #expect(read.owner == "alice")
        #expect(read.keyName == "primary")
        #expect(read.createdAt.wallNanoseconds == queued.createdAt.wallNanoseconds)
    }
}
