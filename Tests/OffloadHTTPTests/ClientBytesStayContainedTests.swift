import Foundation
import Testing
@testable import OffloadHTTP

/// What a client sends never grows the metrics, never forges log lines, and never leaves a
/// keep-alive client sending on a connection that is about to close.
@Suite struct ClientBytesStayContained {
    @Test func junkMethodsAreCountedAsOtherAndNeverBecomeLabels() async throws {
        try await withServer { server in
            for index in 0..<20 {
                let method = "JUNK\(index)" + String(repeating: "X", count: 200)
                _ = try rawExchange(
                    port: server.port, Array("\(method) /jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            }
            let metrics = String(decoding: try await server.get("/metrics").body, as: UTF8.self)
            #expect(!metrics.contains("JUNK"))
            let other = metrics.split(separator: "\n").filter {
                $0.hasPrefix("offload_http_requests_total{") && $0.contains(#"method="other""#)
            }
            #expect(other.count == 1, "\(other)")
            #expect(other.first?.hasSuffix(" 20") == true || other.first?.hasSuffix(" 20.0") == true, "\(other)")
        }
    }

    @Test func logLinesShowControlCharactersEscaped() {
        #expect(RequestLog.printable("/jobs") == "/jobs")
        #expect(RequestLog.printable("/a\nfake=line") == "/a\\x0Afake=line")
        #expect(RequestLog.printable("\u{1b}[31mred") == "\\x1B[31mred")
        #expect(RequestLog.printable("tab\there\r") == "tab\\x09here\\x0D")
        // The escape character itself is escaped, so an escape in the log is always ours.
        #expect(RequestLog.printable("a\\x0Ab") == "a\\x5Cx0Ab")
        #expect(RequestLog.printable("/café") == "/café")
    }

    @Test func anUnreadStandardOutputNeverStopsServingAndNoLineIsLostAtShutdown() async throws {
        // Nobody reads the service's stdout until it stops: 3,000 request lines are far more
        // than a pipe holds (64 KiB).
        let service = try ServiceProcess(["--device-latency", "0ms"])
        let clock = ContinuousClock()
        let started = clock.now
        var answered = 0
        for _ in 0..<3000 where try post(port: service.port, "ASYNC-OK").status == 200 {
            answered += 1
        }
        #expect(answered == 3000)
        #expect(clock.now - started < .seconds(60), "serving waited for the log")
        let (status, log) = service.stop()
        #expect(status == 0)
        let lines = log.split(separator: "\n").filter { $0.contains("request") && $0.contains("/encrypt") }
        #expect(lines.count == 3000, "every request has its line, written before the process exited")
        // The text format names the client, the job and its operation, never the data.
        #expect(lines.allSatisfy {
            $0.contains("client.address=127.0.0.1 ") && $0.contains(" job.algorithm=xor-0xaa ")
                && $0.contains(" job.operation=encrypt ") && !$0.contains("ASYNC-OK")
        })
        #expect(lines.allSatisfy { $0.contains(/\sjob\.id=[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\s/) })
    }

    @Test func answersAfterShutdownBeginsCloseTheConnection() async throws {
        // Long enough that shutdown begins while the job is on the device, even on a loaded machine.
        let server = try TestServer { $0.engine.device.latency = .seconds(2) }
        let request = Array("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nASYNC-OK".utf8)
        let connection = try RawConnection(port: server.port)
        try connection.send(request)  // keep-alive: no Connection header from the client
        #expect(try await eventually { server.server.engine.jobsInFlight == 1 }, "the job is on the device")
        // A thread of its own: the tests' cooperative threads may all be busy with blocking
        // clients of other tests, and the shutdown must begin while the job is on the device.
        let stopped = DispatchSemaphore(value: 0)
        Thread {
            server.stop()
            stopped.signal()
        }.start()
        let answer = connection.receiveAll()
        stopped.wait()
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer.prefix(80))")
        #expect(answer.contains("Connection: close"), "\(answer.prefix(400))")
    }
}
