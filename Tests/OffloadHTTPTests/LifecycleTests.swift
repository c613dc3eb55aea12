import Foundation
import Testing
@testable import OffloadHTTP

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
