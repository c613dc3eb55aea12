import Engine
import Foundation
import Glibc
@testable import OffloadHTTP
import Store
import TestSupport
import Testing

/// Job records in the embedded SQLite store, through the HTTP API: what a restart keeps, what a
/// killed process leaves, and what a file that is not ours does.
@Suite struct DurableJobs {
    static func temporaryStore() -> (directory: URL, path: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("offload-jobs-\(UUID())")
        return (directory, directory.appendingPathComponent("jobs.sqlite3").path)
    }

    /// Polls the job until it has finished (at most 10 s).
    static func finished(_ server: TestServer, _ id: String) async throws -> Reply {
        for _ in 0..<1000 {
            let reply = try await server.get("/jobs/\(id)")
            if let status = reply.json["status"] as? String, status == "completed" || status == "failed" { return reply }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ServiceError("job \(id) did not finish")
    }

    @Test func anAsyncJobAndItsResultSurviveARestart() async throws {
        let (directory, path) = Self.temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        let id = try await withServer({ $0.store = .sqlite(path: path) }) { server in
            let accepted = try await server.request(
                "POST", "/encrypt", body: Data("ASYNC-OK".utf8), headers: ["Prefer": "respond-async"])
            #expect(accepted.status == 202)
            let id = try #require(accepted.json["id"] as? String)
            let done = try await Self.finished(server, id)
            #expect(done.json["output_hex"] as? String == "ebf9f3e4e987e5e1")
            return id
        }
        try await withServer({ $0.store = .sqlite(path: path) }) { server in
            let again = try await server.get("/jobs/\(id)")
            #expect(again.status == 200)
            #expect(again.json["status"] as? String == "completed")
            #expect(again.json["output_hex"] as? String == "ebf9f3e4e987e5e1")
            let list = try await server.get("/jobs")
            let jobs = try #require(list.json["jobs"] as? [[String: Any]])
            #expect(jobs.contains { $0["id"] as? String == id })
            #expect((list.json["counts"] as? [String: Int])?["completed"] == 1)
        }
    }

    @Test func synchronousJobsStayInMemoryAndOnlyTheirTotalsAreStored() async throws {
        let (directory, path) = Self.temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        let id = try await withServer({ $0.store = .sqlite(path: path) }) { server in
            var id = ""
            for _ in 0..<5 {
                let reply = try await server.post("/encrypt", "ASYNC-OK")
                #expect(reply.status == 200)
                id = try #require(reply.json["id"] as? String)
            }
            // Found at once, on the instance that ran it, by id and in the list with its counts.
            #expect(try await server.get("/jobs/\(id)").json["status"] as? String == "completed")
            let list = try await server.get("/jobs")
            #expect(((list.json["jobs"] as? [[String: Any]]) ?? []).count == 5)
            #expect((list.json["counts"] as? [String: Int])?["completed"] == 5)
            return id
        }
        try await withServer({ $0.store = .sqlite(path: path) }) { server in
            // The record is gone with the process; the totals of finished jobs are not.
            #expect(try await server.get("/jobs/\(id)").status == 404)
            // Written once a second: the first instance wrote its five at its stop.
            var totals: [String: Any] = [:]
            for _ in 0..<300 {
                totals = try await server.get("/stats").json["jobs"] as? [String: Any] ?? [:]
                if totals["store_completed_total"] != nil { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(totals["store_completed_total"] as? Int == 5, "\(totals)")
        }
    }

    @Test func anAsyncJobRunningHereIsListedAndCountedOnce() async throws {
        let (directory, path) = Self.temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withServer({
            $0.store = .sqlite(path: path)
            $0.engine.device.latency = .seconds(2)
        }) { server in
            let accepted = try await server.request(
                "POST", "/encrypt", body: Data("ASYNC-OK".utf8), headers: ["Prefer": "respond-async"])
            let id = try #require(accepted.json["id"] as? String)
            // In the store (queued) and in memory (running): one job, shown as it runs.
            let list = try await server.get("/jobs")
            let jobs = (list.json["jobs"] as? [[String: Any]]) ?? []
            #expect(jobs.count == 1)
            #expect(jobs.first?["id"] as? String == id)
            #expect(jobs.first?["status"] as? String == "running")
            let counts = (list.json["counts"] as? [String: Int]) ?? [:]
            #expect(counts.values.reduce(0, +) == 1, "\(counts)")
            #expect(try await Self.finished(server, id).json["status"] as? String == "completed")
            // Counted completed once its result is committed (a moment after it is answered).
            var settled: [String: Int]?
            for _ in 0..<500 {
                settled = try await server.get("/jobs").json["counts"] as? [String: Int]
                if settled?["completed"] == 1 { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(settled == ["queued": 0, "running": 0, "completed": 1, "failed": 0])
        }
    }

    @Test func aJobLeftUnfinishedByAKilledProcessEndsFailedAfterItsRestart() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("offload-state-\(UUID())")
        defer { try? FileManager.default.removeItem(at: state) }
        let first = try ServiceProcess(["--device-latency", "60s", "--replica", "r1"], stateDirectory: state)
        let accepted = try rawPost(port: first.port, "ASYNC-OK", headers: "Prefer: respond-async\r\n")
        #expect(accepted.status == 202)
        let id = try #require(accepted.body.firstMatch(of: /"id":"([0-9a-f-]+)"/).map { String($0.1) })
        #expect(try get(port: first.port, "/jobs/\(id)").body.contains(#""status":"running""#))
        _ = first.stop(with: SIGKILL)

        let second = try ServiceProcess(["--replica", "r1"], stateDirectory: state)
        let reply = try get(port: second.port, "/jobs/\(id)")
        #expect(reply.status == 200)
        #expect(reply.body.contains(#""status":"failed""#))
        #expect(reply.body.contains(#""code":"instance_lost""#))
        let (status, _) = second.stop()
        #expect(status == 0)
    }

    @Test func aFileThatIsNotAStoreStopsTheStartAndIsLeftAsItIs() throws {
        let (directory, path) = Self.temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7919) })
        try garbage.write(to: URL(fileURLWithPath: path))
        var configuration = ServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.store = .sqlite(path: path)
        #expect(performing: { try OffloadServer.start(configuration, logger: .init(label: "test")) }, throws: { error in
            "\(error)".contains("not a readable SQLite database") && "\(error)".contains(path)
        })
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))

        // Another program's SQLite database: refused, untouched.
        let foreign = directory.appendingPathComponent("other.sqlite3").path
        let made = try ChildProcess(
            "/usr/bin/env", ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table notes (t text)'); c.commit()", foreign])
        #expect(made.wait() == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: foreign))
        configuration.store = .sqlite(path: foreign)
        #expect(performing: { try OffloadServer.start(configuration, logger: .init(label: "test")) }, throws: { error in
            "\(error)".contains("another program")
        })
        #expect(try Data(contentsOf: URL(fileURLWithPath: foreign)) == before)
    }

    @Test func theCommandExitsNonZeroWhenTheStoreCannotBeOpened() throws {
        func start(_ arguments: [String]) throws -> (status: Int32, log: String) {
            let process = try ChildProcess(
                ServiceProcess.executable.path, ["--port", "0", "--store", "postgres://nobody@127.0.0.1:1/none"] + arguments,
                stdout: .pipe, stderr: .pipe)
            let output = process.output!.readDataToEndOfFile()
            return (process.wait(), String(decoding: output, as: UTF8.self))
        }
        // Replicas must share their master key: none given is refused before anything else.
        let withoutKey = try start([])
        #expect(withoutKey.status != 0)
        #expect(withoutKey.log.contains("needs --master-key-file"))
        let masterKey = FileManager.default.temporaryDirectory.appendingPathComponent("master-\(UUID()).key").path
        defer { unlink(masterKey) }
        try (Data(repeating: 9, count: 32).base64EncodedString() + "\n").write(toFile: masterKey, atomically: true, encoding: .utf8)
        chmod(masterKey, 0o600)
        let unreachable = try start(["--master-key-file", masterKey])
        #expect(unreachable.status != 0)
        #expect(unreachable.log.contains("could not start"))
        #expect(unreachable.log.contains("Cannot connect to PostgreSQL"))
    }
}

/// A POST with extra header lines, on its own connection.
func rawPost(port: Int, _ body: String, headers: String) throws -> (status: Int, body: String) {
    let response = try rawExchange(
        port: port,
        Array("POST /encrypt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\(headers)Content-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8),
        timeout: .seconds(30))
    let status = response.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
    let text = response.range(of: "\r\n\r\n").map { String(response[$0.upperBound...]) } ?? ""
    return (status, text)
}
