import Foundation
import Testing
@testable import OffloadHTTP

@Suite struct JobsRoute {
    @Test func theListShowsJobsNewestFirstWithCountsAndNoOutputs() async throws {
        try await withServer { server in
            var ids: [String] = []
            for text in ["first", "second", "third"] {
                let reply = try await server.post("/encrypt", text)
                ids.append(try #require(reply.json["id"] as? String))
            }
            let list = try await server.get("/jobs")
            #expect(list.status == 200)
            let jobs = try #require(list.json["jobs"] as? [[String: Any]])
            #expect(jobs.compactMap { $0["id"] as? String } == ids.reversed())
            #expect(jobs.allSatisfy { $0["output_hex"] == nil }, "the list never shows outputs")
            #expect(jobs.allSatisfy { $0["status"] as? String == "completed" })
            let counts = try #require(list.json["counts"] as? [String: Int])
            #expect(counts == ["queued": 0, "running": 0, "completed": 3, "failed": 0])
        }
    }

    @Test func statusAndLimitFilterTheList() async throws {
        try await withServer { server in
            for text in ["a", "b", "c"] { _ = try await server.post("/encrypt", text) }
            let limited = try await server.get("/jobs?limit=2")
            #expect((limited.json["jobs"] as? [Any])?.count == 2)
            let completed = try await server.get("/jobs?status=completed&limit=1000")
            #expect((completed.json["jobs"] as? [Any])?.count == 3)
            let failed = try await server.get("/jobs?status=failed")
            #expect((failed.json["jobs"] as? [Any])?.count == 0)
            #expect((failed.json["counts"] as? [String: Int])?["completed"] == 3)
        }
    }

    @Test(arguments: [
        ("/jobs?limit=0", "invalid_limit"),
        ("/jobs?limit=1001", "invalid_limit"),
        ("/jobs?limit=ten", "invalid_limit"),
        ("/jobs?status=done", "invalid_status"),
        ("/jobs?sort=asc", "unknown_parameter"),
        ("/jobs/not-a-uuid", "invalid_job_id"),
    ])
    func badQueriesAndIdsGet400(path: String, code: String) async throws {
        try await withServer { server in
            let reply = try await server.get(path)
            #expect(reply.status == 400)
            #expect(reply.errorCode == code)
        }
    }

    @Test func oneJobByIdIncludesItsOutput() async throws {
        try await withServer { server in
            let created = try await server.post("/encrypt", "ASYNC-OK")
            let id = try #require(created.json["id"] as? String)
            let reply = try await server.get("/jobs/\(id)")
            #expect(reply.status == 200)
            #expect(reply.json["id"] as? String == id)
            #expect(reply.json["output_hex"] as? String == "ebf9f3e4e987e5e1")
            let uppercase = try await server.get("/jobs/\(id.uppercased())")
            #expect(uppercase.json["id"] as? String == id)
        }
    }

    @Test func anUnknownJobGets404() async throws {
        try await withServer { server in
            let reply = try await server.get("/jobs/\(UUID().uuidString)")
            #expect(reply.status == 404)
            #expect(reply.errorCode == "job_not_found")
        }
    }

    @Test func finishedJobsBeyondTheRetentionBoundAreForgotten() async throws {
        try await withServer({ $0.engine.retainedFinishedJobs = 2 }) { server in
            var ids: [String] = []
            for text in ["a", "b", "c"] {
                ids.append(try #require(try await server.post("/encrypt", text).json["id"] as? String))
            }
            let forgotten = try await server.get("/jobs/\(ids[0])")
            #expect(forgotten.status == 404)
            let kept = try await server.get("/jobs/\(ids[2])")
            #expect(kept.status == 200)
            let list = try await server.get("/jobs")
            #expect((list.json["jobs"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [ids[2], ids[1]])
        }
    }
}

@Suite struct Routing {
    @Test(arguments: ["/index.html", "/page/", "/encrypt/", "/jobs/", "/job", "/jobs/\(UUID())/extra"])
    func anUnknownPathGets404(path: String) async throws {
        try await withServer { server in
            let reply = try await server.get(path)
            #expect(reply.status == 404)
            #expect(reply.errorCode == "not_found")
        }
    }

    @Test(arguments: [
        ("GET", "/encrypt", "POST, OPTIONS"),
        ("PUT", "/encrypt", "POST, OPTIONS"),
        ("POST", "/jobs", "GET, HEAD, OPTIONS"),
        ("DELETE", "/jobs/\(UUID())", "GET, HEAD, OPTIONS"),
    ])
    func aWrongMethodGets405WithAllow(method: String, path: String, allow: String) async throws {
        try await withServer { server in
            let reply = try await server.request(method, path, body: method == "GET" ? nil : Data("x".utf8))
            #expect(reply.status == 405)
            #expect(reply.headers["allow"] == allow)
            #expect(reply.errorCode == "method_not_allowed")
        }
    }

    @Test func headAnswersLikeGetWithoutABody() async throws {
        try await withServer { server in
            let reply = try await server.request("HEAD", "/jobs")
            #expect(reply.status == 200)
            #expect(reply.body.isEmpty)
        }
    }
}

@Suite struct Lifecycle {
    @Test func portZeroPicksAFreePort() async throws {
        try await withServer { server in
            #expect(server.port > 0)
            let reply = try await server.get("/jobs")
            #expect(reply.status == 200)
        }
    }

    @Test func aPortInUseIsAClearError() async throws {
        try await withServer { server in
            var configuration = ServerConfiguration()
            configuration.host = "127.0.0.1"
            configuration.port = server.port
            #expect(throws: ServerError.self) { try OffloadServer.start(configuration, logger: .init(label: "test")) }
        }
    }

    @Test func shutdownAnswersEveryJobInFlightThenRefusesConnections() async throws {
        let server = try TestServer { $0.engine.device.latency = .milliseconds(400) }
        let port = server.port
        let inFlight = Task {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<5 { group.addTask { try await server.post("/encrypt", "job \(index)").status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        // Wait until all five jobs are on the device, then stop.
        #expect(try await eventually { server.server.engine.jobsInFlight >= 5 }, "five jobs in flight")
        server.server.shutdown(timeout: .seconds(10))
        let statuses = try await inFlight.value
        #expect(statuses == [200, 200, 200, 200, 200])
        #expect(throws: (any Error).self) { try rawExchange(port: port, Array("GET /jobs HTTP/1.1\r\n\r\n".utf8)) }
        server.session.invalidateAndCancel()
    }
}
