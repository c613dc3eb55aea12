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
        // One engine loop: with more, each keeps its own newest (JobStore).
        try await withServer({ $0.engine.retainedFinishedJobs = 2; $0.engine.threads = 1 }) { server in
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
