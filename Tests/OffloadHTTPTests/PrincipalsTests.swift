import Foundation
import TestSupport
import Testing
@testable import OffloadHTTP

/// Jobs belong to the principal whose token created them: no one else sees them, but an admin.
@Suite struct Principals {
    static let tokens = try! AccessTokens.parse("""
        alice:alice-token-0123456789
        bob:bob-token-0123456789abc
        ops:ops-token-0123456789abc:admin
        """, source: "test")

    static func bearer(_ name: String) -> [String: String] {
        ["Authorization": "Bearer \(name)-token-0123456789" + (name == "alice" ? "" : "abc")]
    }

    @Test func aMetricsTokenReadsMetricsAndNothingElse() async throws {
        let tokens = try AccessTokens.parse("""
            alice:alice-token-0123456789
            prometheus:scrape-token-0123456789:metrics
            """, source: "test")
        try await withServer({ $0.accessTokens = tokens }) { server in
            let scraper = ["Authorization": "Bearer scrape-token-0123456789"]
            let metrics = try await server.request("GET", "/metrics", headers: scraper)
            #expect(metrics.status == 200)
            #expect(String(decoding: metrics.body, as: UTF8.self).contains("offload_jobs_in_flight"))
            for (method, path) in [("POST", "/encrypt"), ("GET", "/jobs"), ("GET", "/keys"), ("GET", "/stats")] {
                let refused = try await server.request(method, path, body: method == "POST" ? Data("x".utf8) : nil, headers: scraper)
                #expect(refused.status == 403, "\(method) \(path)")
                #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "forbidden")
            }
            #expect(server.server.engine.store.counts.completed == 0)
            #expect(try await server.request("GET", "/metrics").status == 401)
        }
    }

    @Test func eachPrincipalSeesItsOwnJobsAndAnAdminSeesAll() async throws {
        try await withServer({ $0.accessTokens = Self.tokens }) { server in
            let bearer = Self.bearer
            let alices = try await server.request(
                "POST", "/encrypt", body: Data("ASYNC-OK".utf8), headers: bearer("alice"))
            #expect(alices.status == 200)
            #expect(alices.json["owner"] as? String == "alice")
            let bobsAsync = try await server.request(
                "POST", "/encrypt", body: Data("ASYNC-OK".utf8),
                headers: bearer("bob").merging(["Prefer": "respond-async"]) { $1 })
            #expect(bobsAsync.status == 202)
            let bobsBatch = try await server.request(
                "POST", "/encrypt", body: Data(#"{"batch":[{"input":"a"},{"input":"b"}]}"#.utf8),
                headers: bearer("bob").merging(["Content-Type": "application/json"]) { $1 })
            #expect(bobsBatch.status == 200)
            let alice = try #require(alices.json["id"] as? String)
            let bob = try #require(bobsAsync.json["id"] as? String)

            #expect(try await server.request("GET", "/jobs/\(alice)", headers: bearer("alice")).status == 200)
            let hidden = try await server.request("GET", "/jobs/\(alice)", headers: bearer("bob"))
            #expect(hidden.status == 404, "bob must not see alice's job")
            #expect(hidden.errorCode == "job_not_found")
            #expect(try await server.request("GET", "/jobs/\(alice)", headers: bearer("ops")).status == 200)
            // Bob's async job finishes on the engine; the store says when.
            let bobsID = try #require(UUID(uuidString: bob))
            #expect(try await eventually { server.server.engine.store.job(bobsID)?.status == .completed })
            #expect(try await server.request("GET", "/jobs/\(bob)", headers: bearer("bob")).status == 200)
            #expect(try await server.request("GET", "/jobs/\(bob)", headers: bearer("alice")).status == 404)

            func listed(_ name: String) async throws -> (ids: Set<String>, completed: Int?) {
                let list = try await server.request("GET", "/jobs", headers: bearer(name))
                let jobs = try #require(list.json["jobs"] as? [[String: Any]])
                let counts = list.json["counts"] as? [String: Int]
                #expect(jobs.allSatisfy { name == "ops" || $0["owner"] as? String == name })
                return (Set(jobs.compactMap { $0["id"] as? String }), counts?["completed"])
            }
            let (aliceSees, aliceCount) = try await listed("alice")
            #expect(aliceSees == [alice] && aliceCount == 1)
            let (bobSees, bobCount) = try await listed("bob")
            #expect(bobSees.count == 3 && bobSees.contains(bob) && !bobSees.contains(alice) && bobCount == 3)
            let (opsSees, opsCount) = try await listed("ops")
            #expect(opsSees == aliceSees.union(bobSees) && opsCount == 4)
        }
    }
}
