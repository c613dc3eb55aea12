import Engine
import Foundation
import Testing
@testable import OffloadHTTP

@Suite struct Operations {
    @Test func healthAndReadinessAnswer() async throws {
        try await withServer { server in
            let health = try await server.get("/healthz")
            #expect(health.status == 200)
            #expect(health.json["status"] as? String == "ok")
            let ready = try await server.get("/readyz")
            #expect(ready.status == 200)
        }
    }

    @Test func everyAnswerNamesTheReplicaWhenOneIsConfigured() async throws {
        try await withServer({ $0.replica = "offload-http-7d9f" }) { server in
            let job = try await server.post("/encrypt", "ASYNC-OK")
            #expect(job.headers["offload-replica"] == "offload-http-7d9f")
            let missing = try await server.get("/nowhere")
            #expect(missing.headers["offload-replica"] == "offload-http-7d9f")
        }
        try await withServer { server in
            let plain = try await server.get("/healthz")
            #expect(plain.headers["offload-replica"] == nil)
        }
    }

    @Test func readinessIs503WhileEveryJobSlotIsTaken() async throws {
        try await withServer({
            $0.engine.threads = 1
            $0.engine.maxJobsPerThread = 1
            $0.engine.device.latency = .seconds(3)  // a wide window, even on a loaded machine
        }) { server in
            let busy = Task { try await server.post("/encrypt", "hold the slot") }
            #expect(try await eventually { server.server.engine.jobsInFlight == 1 })
            let saturated = try await server.get("/readyz")
            #expect(saturated.status == 503)
            #expect(saturated.errorCode == "saturated")
            #expect(saturated.headers["retry-after"] == "1")
            #expect(try await busy.value.status == 200)
            let ready = try await server.get("/readyz")
            #expect(ready.status == 200)
        }
    }

    @Test func metricsChangeAsJobsRun() async throws {
        try await withServer { server in
            func scrape() async throws -> String {
                let reply = try await server.get("/metrics")
                #expect(reply.status == 200)
                #expect(reply.headers["content-type"]?.hasPrefix("text/plain") == true)
                return String(decoding: reply.body, as: UTF8.self)
            }
            func value(_ series: String, in text: String) -> Double {
                text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
                    .flatMap { Double($0.split(separator: " ").last!) } ?? 0
            }
            let completed =
                #"offload_jobs_total{provider="offloadsim",algorithm="xor-0xaa",operation="encrypt",status="completed",error="none"}"#
            let before = try await scrape()
            for _ in 0..<3 { _ = try await server.post("/encrypt", "count me") }
            _ = try await server.post("/encrypt", "")
            let after = try await scrape()
            #expect(value(completed, in: after) - value(completed, in: before) == 3)
            #expect(value(#"offload_http_requests_total{route="/encrypt",method="POST",status="400"}"#, in: after) == 1)
            #expect(value(#"offload_job_duration_seconds_count{algorithm="xor-0xaa"}"#, in: after) == 3)
            #expect(after.contains("offload_jobs_in_flight 0"))
            #expect(after.contains("offload_device_queue_depth"))
            #expect(after.contains(#"offload_device_unit_transfer_seconds_total{unit="0"}"#))
            // Four requests to /encrypt answered between the scrapes, each in the duration histogram.
            let durations = #"offload_http_request_duration_seconds_count{route="/encrypt"}"#
            #expect(value(durations, in: after) - value(durations, in: before) == 4)
            // Every metric family says what it is: a # HELP line beside each # TYPE line.
            let lines = after.split(separator: "\n")
            let typed = Set(lines.filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] })
            let helped = Set(lines.filter { $0.hasPrefix("# HELP ") }.map { $0.split(separator: " ")[2] })
            #expect(typed.count >= 15)
            #expect(typed == helped, "without # HELP: \(typed.subtracting(helped).sorted())")
        }
    }

    @Test func theOpenAPIDocumentIsServedAsEmbedded() async throws {
        try await withServer { server in
            let reply = try await server.get("/openapi.yaml")
            #expect(reply.status == 200)
            #expect(Array(reply.body) == OpenAPIDocument.bytes)
            #expect(String(decoding: reply.body, as: UTF8.self).hasPrefix("openapi: 3.1.0"))
        }
    }

    /// In process: the embedded document against the router's table.
    @Test func theOpenAPIDocumentNamesEveryRouteWithItsMethods() throws {
        let paths = OpenAPIPaths(yaml: String(decoding: OpenAPIDocument.bytes, as: UTF8.self))
        for route in Router.Route.all {
            let methods = try #require(paths.operations[route.template], "\(route.template) is not in the document")
            // HEAD is served wherever GET is and OPTIONS everywhere; the document says so once.
            #expect(methods == Set(route.methods.filter { $0 != "HEAD" && $0 != "OPTIONS" }.map { $0.lowercased() }),
                    "\(route.template)")
        }
        #expect(paths.operations.count == Router.Route.all.count, "the document has no route the server lacks")
    }

    @Test func theDocumentsInfoVersionIsTheServicesVersion() {
        #expect(ServiceVersion.current.wholeMatch(of: #/\d+\.\d+\.\d+/#) != nil)
        #expect(String(decoding: OpenAPIDocument.bytes, as: UTF8.self).contains("\n  version: \(ServiceVersion.current)\n"))
    }
}
