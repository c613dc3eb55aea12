import Engine
import Foundation
import Testing
@testable import OffloadHTTP

@Suite struct LoadAndFaults {
    @Test func theExcessGets503WithRetryAfterAndEverythingAcceptedCompletes() async throws {
        try await withServer({
            $0.engine.threads = 1
            $0.engine.maxJobsPerThread = 2
            $0.engine.maxQueuedJobsPerThread = 2
            $0.engine.device.latency = .milliseconds(300)
        }) { server in
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for index in 0..<12 { group.addTask { try await server.post("/encrypt", "job \(index)") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let ok = replies.filter { $0.status == 200 }
            let refused = replies.filter { $0.status == 503 }
            #expect(ok.count + refused.count == 12, "every request got 200 or 503")
            #expect(ok.count >= 4, "the pool and the queue were used")
            #expect(!refused.isEmpty)
            #expect(refused.allSatisfy { $0.headers["retry-after"] == "1" && $0.errorCode == "overloaded" })
            #expect(ok.allSatisfy { $0.json["status"] as? String == "completed" })
            #expect(server.server.engine.jobsInFlight == 0)
        }
    }

    @Test func aStalledOperationAnswers504WithTheJobAndTheServiceGoesOn() async throws {
        try await withServer({
            $0.engine.device.stallRate = 1
            $0.engine.jobTimeout = .milliseconds(200)
        }) { server in
            let reply = try await server.post("/encrypt", "ASYNC-OK")
            #expect(reply.status == 504)
            #expect(reply.json["status"] as? String == "failed")
            #expect((reply.json["error"] as? [String: Any])?["code"] as? String == "job_timeout")
            #expect(reply.json["output_hex"] == nil)
            let list = try await server.get("/jobs?status=failed")
            #expect((list.json["jobs"] as? [Any])?.count == 1)
        }
    }

    @Test func aDeviceErrorAnswers502WithTheFailedJob() async throws {
        try await withServer({ $0.engine.device.errorRate = 1 }) { server in
            let reply = try await server.post("/encrypt", "ASYNC-OK")
            #expect(reply.status == 502)
            #expect(reply.json["status"] as? String == "failed")
            #expect((reply.json["error"] as? [String: Any])?["code"] as? String == "device_error")
            let id = try #require(reply.json["id"] as? String)
            let stored = try await server.get("/jobs/\(id)")
            #expect(stored.json["status"] as? String == "failed")
        }
    }

    @Test(arguments: NotificationMode.allCases)
    func clientsThatDisconnectWhileTheirJobIsOnTheDeviceLeakNothing(notification: NotificationMode) async throws {
        let service = try ServiceProcess([
            "--device-latency", "300ms", "--notify", notification.rawValue, "--engine-threads", "1",
        ])
        defer { _ = service.stop() }
        // Warm up with as many jobs at once as the test sends, so that the engine's pool of
        // reusable wait contexts (one eventfd each in fd mode) is as large before as after.
        #expect(try postAllAtOnce(port: service.port, count: 20, "warm") == Array(repeating: 200, count: 20))
        let baseline = service.openFileDescriptors
        let request = Array("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nASYNC-OK".utf8)
        for _ in 0..<20 {
            _ = try rawExchange(port: service.port, request, closeAfterSending: true)
        }
        // Every job finishes and stays on record, and the service lets go of every connection.
        #expect(try await eventually {
            (try? get(port: service.port, "/jobs?status=completed&limit=1000").body)?
                .components(separatedBy: "\"id\"").count == 41
        })
        #expect(try await eventually { service.openFileDescriptors <= baseline },
                "fds: \(service.openFileDescriptors) now, \(baseline) before")
        let after = try post(port: service.port, "ASYNC-OK")
        #expect(after.body.contains("ebf9f3e4e987e5e1"))
    }
}
