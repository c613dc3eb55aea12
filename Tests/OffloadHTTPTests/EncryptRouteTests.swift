import Foundation
import Testing
@testable import OffloadHTTP

@Suite struct EncryptRoute {
    @Test func theSeedInputGivesTheReferenceOutputWithTheJobsMetadata() async throws {
        try await withServer { server in
            let reply = try await server.post("/encrypt", "ASYNC-OK")
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "application/json")
            let job = reply.json
            #expect(job["output_hex"] as? String == "ebf9f3e4e987e5e1")
            #expect(job["status"] as? String == "completed")
            #expect(job["algorithm"] as? String == "xor-0xaa")
            #expect(job["input_bytes"] as? Int == 8)
            #expect(job["output_bytes"] as? Int == 8)
            #expect((job["pauses"] as? Int ?? 0) >= 1)
            #expect((0..<4).contains(job["device_unit"] as? Int ?? -1))
            #expect((0..<2).contains(job["engine"] as? Int ?? -1))
            let id = try #require(job["id"] as? String)
            #expect(UUID(uuidString: id) != nil)
            for field in ["created_at", "started_at", "completed_at"] {
                let text = try #require(job[field] as? String, "\(field) is missing")
                #expect(text.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(field): \(text)")
            }
            let timings = try #require(job["timings_ms"] as? [String: Any])
            let device = try #require(timings["device"] as? Double)
            let total = try #require(timings["total"] as? Double)
            #expect(device >= 2.0, "the device took its 2 ms latency")
            #expect(total >= device)
            #expect(timings["queued"] as? Double != nil)
            #expect(job["error"] == nil)
        }
    }

    @Test(arguments: [
        (["input": "ASYNC-OK"], "ebf9f3e4e987e5e1"),
        (["input_hex": "4153594E432D4f4b"], "ebf9f3e4e987e5e1"),
        (["input_base64": "QVNZTkMtT0s="], "ebf9f3e4e987e5e1"),
        (["input_base64": "QVNZTkMtT0s"], "ebf9f3e4e987e5e1"),
        (["input_base64": "QQ=="], "eb"),
        (["input": "ASYNC-OK", "algorithm": "xor-0xaa"], "ebf9f3e4e987e5e1"),
    ])
    func everyJSONInputFieldWorks(body: [String: String], expected: String) async throws {
        try await withServer { server in
            let reply = try await server.postJSON("/encrypt", body)
            #expect(reply.status == 200)
            #expect(reply.json["output_hex"] as? String == expected)
        }
    }

    @Test func rawBodiesTakeTheAlgorithmFromTheQuery() async throws {
        try await withServer { server in
            let named = try await server.post("/encrypt?algorithm=xor-0xaa", "ASYNC-OK")
            #expect(named.json["output_hex"] as? String == "ebf9f3e4e987e5e1")
            let unknown = try await server.post("/encrypt?algorithm=rot13", "ASYNC-OK")
            #expect(unknown.status == 400)
            #expect(unknown.errorCode == "unknown_algorithm")
        }
    }

    @Test(arguments: [
        ("", "text/plain", 400, "empty_input"),
        ("{", "application/json", 400, "malformed_json"),
        ("[1, 2]", "application/json", 400, "malformed_json"),
        ("\"text\"", "application/json", 400, "malformed_json"),
        ("{}", "application/json", 400, "missing_input"),
        (#"{"input": "a", "input_hex": "00"}"#, "application/json", 400, "ambiguous_input"),
        (#"{"input": ""}"#, "application/json", 400, "empty_input"),
        (#"{"input": 42}"#, "application/json", 400, "invalid_field"),
        (#"{"input_hex": "abc"}"#, "application/json", 400, "invalid_hex"),
        (#"{"input_hex": "zz"}"#, "application/json", 400, "invalid_hex"),
        (#"{"input_base64": "!!!!"}"#, "application/json", 400, "invalid_base64"),
        (#"{"input_base64": "===="}"#, "application/json", 400, "invalid_base64"),
        (#"{"input_base64": "QQ=A"}"#, "application/json", 400, "invalid_base64"),
        (#"{"input_base64": "QVNZT"}"#, "application/json", 400, "invalid_base64"),
        (#"{"input_base64": "QQ==="}"#, "application/json", 400, "invalid_base64"),
        (#"{"input": "a", "algorithm": "des"}"#, "application/json", 400, "unknown_algorithm"),
        (#"{"input": "a", "algorithm": "xor-0xaa", "key": "default"}"#, "application/json", 400, "key_not_applicable"),
        (#"{"input": "a", "key": "main"}"#, "application/json", 400, "unknown_key"),
        (#"{"input": "a", "aad_base64": "AA=="}"#, "application/json", 400, "aad_not_applicable"),
        (#"{"input": "a", "inptu": "b"}"#, "application/json; charset=utf-8", 400, "unknown_field"),
        (#"{"input": "a", "algorithm": "aes-256-gcm", "algorithm": "xor-0xaa"}"#, "application/json", 400, "duplicate_field"),
        (#"{"input_hex": "00", "input_h\u0065x": "01"}"#, "application/json", 400, "duplicate_field"),
        (#"{"batch": [{"input": "a", "key": "x", "key": "y"}], "batch": []}"#, "application/json", 400, "duplicate_field"),
    ])
    func badInputGetsAClearError(body: String, contentType: String, status: Int, code: String) async throws {
        try await withServer { server in
            let reply = try await server.post("/encrypt", body, contentType: contentType)
            #expect(reply.status == status)
            #expect(reply.errorCode == code)
            #expect(!(reply.errorMessage ?? "").isEmpty)
            #expect(server.server.engine.store.list(limit: 10).jobs.isEmpty, "no job was created")
        }
    }

    @Test func aJSONBodyThatIsNotUTF8Gets415() async throws {
        try await withServer { server in
            let reply = try await server.request(
                "POST", "/encrypt", body: Data([0x7b, 0xff, 0xfe, 0x7d]), headers: ["Content-Type": "application/json"])
            #expect(reply.status == 415)
            #expect(reply.errorCode == "unsupported_media_type")
        }
    }

    @Test func unknownQueryParametersAreRejected() async throws {
        try await withServer { server in
            let reply = try await server.post("/encrypt?mode=fast", "ASYNC-OK")
            #expect(reply.status == 400)
            #expect(reply.errorCode == "unknown_parameter")
        }
    }

    @Test func aBodyOverTheLimitGets413WhetherDeclaredOrChunked() async throws {
        try await withServer({ $0.maxBodyBytes = 1024 }) { server in
            let declared = try rawExchange(
                port: server.port,
                Array("POST /encrypt HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2048\r\n\r\n".utf8)
                    + [UInt8](repeating: 0x41, count: 2048))
            #expect(declared.hasPrefix("HTTP/1.1 413"), "\(declared.prefix(200))")
            #expect(declared.contains("payload_too_large"))

            let chunk = [UInt8](repeating: 0x41, count: 800)
            let chunkedRequest = Array("POST /encrypt HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
                + Array("320\r\n".utf8) + chunk + Array("\r\n320\r\n".utf8) + chunk + Array("\r\n0\r\n\r\n".utf8)
            let chunked = try rawExchange(port: server.port, chunkedRequest)
            #expect(chunked.hasPrefix("HTTP/1.1 413"), "\(chunked.prefix(200))")

            // Exactly at the limit is accepted.
            let atLimit = try await server.request("POST", "/encrypt", body: Data(repeating: 0x41, count: 1024))
            #expect(atLimit.status == 200)
            #expect(atLimit.json["output_bytes"] as? Int == 1024)
            #expect(server.server.engine.store.counts.completed == 1, "only the accepted body made a job")
        }
    }

    @Test func concurrentRequestsOverlapOnTheDevice() async throws {
        let requests = 10
        try await withServer({ $0.engine.device.latency = .milliseconds(500) }) { server in
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for index in 0..<requests {
                    group.addTask { try await server.post("/encrypt", "request \(index)") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.status == 200 })
            let ids = replies.compactMap { $0.json["id"] as? String }
            #expect(Set(ids).count == requests)
            // Overlap from the jobs' own times, not a wall-clock bound: one after another, each
            // would start after the previous one's 500 ms on the device ended; together, every
            // job started before the first one completed.
            let records = ids.compactMap { UUID(uuidString: $0).flatMap(server.server.engine.store.job) }
            #expect(records.count == requests)
            let completions = records.compactMap { $0.completedAt?.monotonicNanoseconds }
            let firstCompletion = try #require(completions.min())
            let starts = records.compactMap { $0.startedAt?.monotonicNanoseconds }
            let lastStart = try #require(starts.max())
            #expect(lastStart < firstCompletion, "every request's job started before the first completed")
        }
    }
}
