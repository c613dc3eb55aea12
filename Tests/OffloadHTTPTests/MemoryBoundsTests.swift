import Foundation
import Testing
@testable import OffloadHTTP

/// What the service holds in memory is bounded in bytes, not only in count: retained outputs,
/// request bodies being received and jobs in flight.
@Suite struct MemoryBounds {
    @Test func retainedOutputsAreBoundedInBytesOldestFirst() async throws {
        // One engine loop: with more, each keeps its share of the bound (JobStore).
        try await withServer({ $0.engine.retainedOutputBytes = 3 * 1024; $0.engine.threads = 1 }) { server in
            var ids: [String] = []
            for index in 0..<6 {
                let reply = try await server.post("/encrypt", String(repeating: "\(index)", count: 1024))
                #expect(reply.status == 200, "the client gets its output whatever is retained")
                ids.append(try #require(reply.json["id"] as? String))
            }
            #expect(server.server.engine.store.retainedBytes <= 3 * 1024)
            #expect(try await server.get("/jobs/\(ids[0])").status == 404, "the oldest went first")
            #expect(try await server.get("/jobs/\(ids[5])").json["output_hex"] != nil)
            let listed = try await server.get("/jobs")
            #expect((listed.json["jobs"] as? [[String: Any]])?.count == 3)
            // An output larger than the whole bound is answered, and not kept.
            let large = try await server.post("/encrypt", String(repeating: "x", count: 4096))
            #expect(large.status == 200 && (large.json["output_hex"] as? String)?.count == 8192)
            #expect(try await server.get("/jobs/\(try #require(large.json["id"] as? String))").status == 404)
        }
    }

    @Test func bodiesBeyondTheMemoryForBodiesAre503BeforeTheyAreRead() async throws {
        try await withServer({
            $0.maxBodyBytes = 64 * 1024
            $0.maxBytesInFlight = 100 * 1024
        }) { server in
            // Two slow bodies of 60 KiB announced: the second does not fit beside the first.
            let head = "POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 61440\r\nConnection: close\r\n\r\n"
            let first = try RawConnection(port: server.port)
            try first.send(Array(head.utf8) + Array(repeating: UInt8(ascii: "a"), count: 100))
            #expect(try await eventually { server.server.requestsInProgress == 1 }, "the first body holds its share")
            let second = try rawExchange(port: server.port, Array(head.utf8))
            #expect(second.hasPrefix("HTTP/1.1 503"), "\(second.prefix(80))")
            #expect(second.contains("memory_exhausted") && second.contains("Retry-After: 1"))
            // The first finishes its body and is answered; its share is given back.
            try first.send(Array(repeating: UInt8(ascii: "a"), count: 61440 - 100))
            #expect(first.receiveAll().hasPrefix("HTTP/1.1 200"))
            #expect(try await eventually { server.server.requestsInProgress == 0 }, "the first request gave its share back")
            let third = try rawExchange(
                port: server.port, Array(head.utf8) + Array(repeating: UInt8(ascii: "b"), count: 61440))
            #expect(third.hasPrefix("HTTP/1.1 200"), "\(third.prefix(80))")
        }
    }

    @Test func chunkedBodiesTakeTheirShareAsTheyArrive() async throws {
        try await withServer({
            $0.maxBodyBytes = 64 * 1024
            $0.maxBytesInFlight = 64 * 1024
        }) { server in
            let holder = try RawConnection(port: server.port)
            try holder.send(Array("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 40000\r\n\r\nxx".utf8))
            #expect(try await eventually { server.server.requestsInProgress == 1 }, "the held body holds its share")
            let chunk = String(40000, radix: 16)
            let chunked = try rawExchange(port: server.port, Array((
                "POST /encrypt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    + "\(chunk)\r\n" + String(repeating: "c", count: 40000) + "\r\n0\r\n\r\n").utf8))
            #expect(chunked.hasPrefix("HTTP/1.1 503"), "\(chunked.prefix(80))")
            #expect(chunked.contains("memory_exhausted"))
        }
    }

    @Test func jobsInFlightHoldTheirBytesUntilTheyFinishAndReadinessSaysSo() async throws {
        try await withServer({
            $0.maxBodyBytes = 64 * 1024
            $0.maxBytesInFlight = 100 * 1024
            $0.engine.device.latency = .milliseconds(700)
        }) { server in
            // An async job of 40 KB is answered at once and holds its input and output (80 KB)
            // on the device: a second 40 KB body no longer fits.
            let input = Data(repeating: 0x41, count: 40_000)
            let accepted = try await server.request("POST", "/encrypt", body: input, headers: ["Prefer": "respond-async"])
            #expect(accepted.status == 202)
            let refused = try await server.request("POST", "/encrypt", body: input)
            #expect(refused.status == 503 && refused.errorCode == "memory_exhausted")
            #expect(refused.headers["retry-after"] == "1")
            let notReady = try await server.get("/readyz")
            #expect(notReady.status == 503 && notReady.errorCode == "memory_exhausted")
            let metrics = String(decoding: try await server.get("/metrics").body, as: UTF8.self)
            #expect(metrics.contains("offload_memory_in_flight_limit_bytes 102400"))
            // Once the job finishes its bytes are given back.
            let text = try #require(accepted.json["id"] as? String)
            let id = try #require(UUID(uuidString: text))
            #expect(try await eventually { server.server.engine.store.job(id)?.status == .completed })
            #expect(try await eventually(within: .seconds(2)) { server.server.requestsInProgress == 0 })
            #expect(try await server.get("/readyz").status == 200)
            let after = try await server.request("POST", "/encrypt", body: input)
            #expect(after.status == 200)
        }
    }

    @Test func largeOutputsAnsweredDirectlyAreNotKept() async throws {
        try await withServer { server in
            let input = Data(repeating: 0x41, count: 100_000)
            let answered = try await server.request("POST", "/encrypt", body: input)
            #expect((answered.json["output_hex"] as? String)?.count == 200_000, "the client gets its output")
            let id = try #require(answered.json["id"] as? String)
            let kept = try await server.get("/jobs/\(id)")
            #expect(kept.status == 200 && kept.json["status"] as? String == "completed")
            #expect(kept.json["output_bytes"] as? Int == 100_000)
            #expect(kept.json["output_hex"] == nil && kept.json["output_retained"] as? Bool == false)
            #expect(server.server.engine.store.retainedBytes == 0)
            // A small output, and the output of an async job whatever its size, are kept.
            let small = try await server.post("/encrypt", "ASYNC-OK")
            let smallID = try #require(small.json["id"] as? String)
            #expect(try await server.get("/jobs/\(smallID)").json["output_hex"] as? String == "ebf9f3e4e987e5e1")
            let detached = try await server.request("POST", "/encrypt", body: input, headers: ["Prefer": "respond-async"])
            let detachedText = try #require(detached.json["id"] as? String)
            let detachedID = try #require(UUID(uuidString: detachedText))
            #expect(try await eventually { server.server.engine.store.job(detachedID)?.status == .completed })
            let polled = try await server.get("/jobs/\(detachedText)")
            #expect((polled.json["output_hex"] as? String)?.count == 200_000 && polled.json["output_retained"] == nil)
        }
    }

    @Test func theHeapIsTrimmedOnceABurstIsOverAndNotWhileWorkIsInFlight() async throws {
        let budget = MemoryBudget(limit: 1 << 30)
        defer { budget.stop() }
        budget.take(MemoryBudget.trimAfterBytes)
        budget.take(1)
        try await Task.sleep(for: .milliseconds(600))
        #expect(budget.heapTrims == 0, "work is still in flight")
        budget.release(MemoryBudget.trimAfterBytes)
        try await Task.sleep(for: .milliseconds(600))
        #expect(budget.heapTrims == 0, "one byte is still in flight")
        budget.release(1)
        #expect(try await eventually { budget.heapTrims == 1 })
        budget.take(1024)
        budget.release(1024)
        try await Task.sleep(for: .milliseconds(600))
        #expect(budget.heapTrims == 1, "too little came and went since the last trim")
    }
}
