import Foundation
@testable import OffloadHTTP
import Testing

/// One version, said the same everywhere a user or an operator looks for it.
@Suite struct Versions {
    @Test func theVersionIsTheSameInTheAPITheDocumentTheMetricsAndTheCommand() async throws {
        try await withServer { server in
            let reply = try await server.get("/version")
            #expect(reply.status == 200)
            let version = try #require(reply.json["version"] as? String)
            #expect(version == ServiceVersion.current)
            #expect((reply.json["openssl"] as? String)?.hasPrefix("OpenSSL 3") == true)
            #expect((reply.json["libmicrohttpd"] as? String)?.isEmpty == false)
            #expect(reply.json["provider"] as? String == "offloadsim")

            let document = String(decoding: try await server.get("/openapi.yaml").body, as: UTF8.self)
            #expect(document.contains("\n  version: \(version)\n"))

            _ = try await server.post("/encrypt", "ASYNC-OK")
            let metrics = String(decoding: try await server.get("/metrics").body, as: UTF8.self)
            #expect(metrics.contains("offload_build_info{"))
            #expect(metrics.contains("version=\"\(version)\""))
            // A job that did not fail is counted with error="none", not an empty label.
            #expect(!metrics.contains("error=\"\""))
            #expect(metrics.contains("error=\"none\""))
        }
        let command = try run(ServiceProcess.executable.path, ["--version"])
        #expect(command.status == 0)
        #expect(command.output.trimmingCharacters(in: .whitespacesAndNewlines) == ServiceVersion.current)
    }
}
