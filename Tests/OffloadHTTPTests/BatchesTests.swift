import Engine
import Foundation
import Testing
@testable import OffloadHTTP

@Suite struct Batches {
    @Test func resultsComeInInputOrderWithFailuresInPlace() async throws {
        try await withServer { server in
            let items: [[String: Any]] = [
                ["input": "first"], ["input_hex": "not hex"], ["input": "third", "algorithm": "aes-256-gcm"],
                ["input": ""], ["input_base64": "Zm91cnRo"],
            ]
            let reply = try await server.postJSON("/encrypt", ["batch": items])
            #expect(reply.status == 200)
            let results = try #require(reply.json["results"] as? [[String: Any]])
            #expect(results.count == 5)
            #expect(results[0]["output_hex"] as? String == hexString(Array("first".utf8).map { $0 ^ 0xaa }))
            #expect((results[1]["error"] as? [String: Any])?["code"] as? String == "invalid_hex")
            #expect(results[1]["id"] == nil, "an invalid item never ran")
            #expect(results[2]["algorithm"] as? String == "aes-256-gcm")
            #expect(results[2]["output_bytes"] as? Int == 5 + 28)
            #expect((results[3]["error"] as? [String: Any])?["code"] as? String == "empty_input")
            #expect(results[4]["output_hex"] as? String == hexString(Array("fourth".utf8).map { $0 ^ 0xaa }))
            #expect(server.server.engine.store.counts.completed == 3)
        }
    }

    @Test(arguments: [
        (#"{"batch": []}"#, "invalid_batch"),
        (#"{"batch": {"input": "a"}}"#, "invalid_batch"),
        (#"{"batch": [{"input": "a"}], "input": "b"}"#, "invalid_batch"),
    ])
    func badBatchesAreRefused(body: String, code: String) async throws {
        try await withServer { server in
            let reply = try await server.post("/encrypt", body, contentType: "application/json")
            #expect(reply.status == 400)
            #expect(reply.errorCode == code)
        }
    }

    @Test func aBatchOfMoreThanAThousandItemsIsRefused() async throws {
        try await withServer { server in
            let reply = try await server.postJSON("/encrypt", ["batch": Array(repeating: ["input": "a"], count: 1001)])
            #expect(reply.status == 400)
            #expect(reply.errorCode == "batch_too_large")
        }
    }

    @Test func aBatchWithNoValidItemAnswersAtOnce() async throws {
        try await withServer { server in
            let reply = try await server.postJSON("/encrypt", ["batch": [["input": ""], ["nope": 1]]])
            #expect(reply.status == 200)
            let results = try #require(reply.json["results"] as? [[String: Any]])
            #expect(results.compactMap { ($0["error"] as? [String: Any])?["code"] as? String }
                == ["empty_input", "unknown_field"])
        }
    }

    @Test func aBatchWhoseItemsWereAllRefusedForLoadIs503WithRetryAfter() async throws {
        try await withServer({
            $0.engine.threads = 1
            $0.engine.maxJobsPerThread = 1
            $0.engine.maxQueuedJobsPerThread = 0
            $0.engine.device.latency = .milliseconds(500)
        }) { server in
            let holder = Task { try await server.post("/encrypt", "holds the only slot") }
            #expect(try await eventually { server.server.engine.jobsInFlight == 1 }, "the first job holds the only slot")
            let refused = try await server.postJSON("/encrypt", ["batch": [["input": "a"], ["input": "b"]]])
            #expect(refused.status == 503)
            #expect(refused.headers["retry-after"] == "1")
            #expect(refused.errorCode == "overloaded")
            #expect(try await holder.value.status == 200)
        }
    }
}
