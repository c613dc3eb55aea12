import Foundation
import TestSupport
import Testing

/// The real binary as a child process: signals, exit status and what it logs.
@Suite struct ServiceProcessLifecycle {
    @Test func sigtermWithTwentyRequestsInFlightAnswersAllTwentyAndExitsZero() async throws {
        let service = try ServiceProcess(["--device-latency", "500ms"])
        let request = Array("POST /encrypt HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 8\r\n\r\nASYNC-OK".utf8)
        let connections = try (0..<20).map { _ in try RawConnection(port: service.port) }
        for connection in connections { try connection.send(request) }
        #expect(try await eventually { service.jobsInFlight == 20 }, "all twenty are on the device")
        let clock = ContinuousClock()
        let stopped = clock.now
        kill(service.pid, SIGTERM)
        let answers = connections.map { $0.receiveAll() }
        let (status, log) = service.stop()
        #expect(answers.allSatisfy { $0.hasPrefix("HTTP/1.1 200") && $0.contains("ebf9f3e4e987e5e1") },
                "\(answers.filter { !$0.hasPrefix("HTTP/1.1 200") }.map { $0.prefix(80) })")
        #expect(status == 0, "exit status \(status); log: \(log)")
        #expect(clock.now - stopped < .seconds(5))
        #expect(log.contains("stopped"))
    }

    /// What a load balancer that health-checks /readyz needs: after SIGTERM the replica says it
    /// is not ready but still serves, closing each connection after its answer, until the drain
    /// delay ends (or a second signal ends it early); then it stops as usual.
    @Test func sigtermFirstTurnsReadinessOffAndServesOnForTheDrainDelay() async throws {
        let service = try ServiceProcess(["--device-latency", "1ms"], environment: ["OFFLOAD_DRAIN_DELAY": "20s"])
        #expect(try get(port: service.port, "/readyz").status == 200)
        kill(service.pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while try get(port: service.port, "/readyz").status == 200 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let readiness = try get(port: service.port, "/readyz")
        #expect(readiness.status == 503)
        #expect(readiness.body.contains("draining"))
        let connection = try RawConnection(port: service.port)
        try connection.send(Array("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nASYNC-OK".utf8))
        let answer = connection.receiveAll()  // returns once the service closes the connection
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer.prefix(80))")
        #expect(answer.contains("ebf9f3e4e987e5e1"))
        #expect(answer.lowercased().contains("connection: close"))
        // The second SIGTERM (stop() sends it) ends the 20 s delay early.
        let clock = ContinuousClock()
        let stopped = clock.now
        let (status, log) = service.stop()
        #expect(status == 0, "exit status \(status); log: \(log)")
        #expect(clock.now - stopped < .seconds(10))
        #expect(log.contains("not ready"))
        #expect(log.contains("stopped"))
    }

    @Test func jobsStillRunningAtTheShutdownTimeoutAre503AndTheProcessStillExitsZero() async throws {
        let service = try ServiceProcess(["--device-stall-rate", "1", "--shutdown-timeout", "1s"])
        let request = Array("POST /encrypt HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 8\r\n\r\nASYNC-OK".utf8)
        let connections = try (0..<2).map { _ in try RawConnection(port: service.port) }
        for connection in connections { try connection.send(request) }
        #expect(try await eventually { service.jobsInFlight == 2 }, "both jobs are stalled on the device")
        let clock = ContinuousClock()
        let stopped = clock.now
        kill(service.pid, SIGTERM)
        let answers = connections.map { $0.receiveAll() }
        let (status, log) = service.stop()
        #expect(answers.allSatisfy { $0.hasPrefix("HTTP/1.1 503") && $0.contains("shutting_down") })
        #expect(status == 0)
        let elapsed = clock.now - stopped
        #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(4), "stopped after \(elapsed)")
        #expect(log.contains("failed the jobs still running"))
    }

    @Test func jsonLogsHaveOneObjectPerLineAndNoPayloadsOrKeys() async throws {
        let secret = "do-not-log-this-payload"
        let service = try ServiceProcess(["--log-format", "json", "--log-level", "info"])
        let reply = try post(port: service.port, secret)
        #expect(reply.status == 200)
        let sealed = try post(port: service.port, secret, path: "/encrypt?algorithm=aes-256-gcm")
        #expect(sealed.status == 200)
        let (status, log) = service.stop()
        #expect(status == 0)
        let lines = log.split(separator: "\n").filter { !$0.isEmpty }
        #expect(lines.count >= 4)
        let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.count == lines.count, "every line is a JSON object")
        let requests = objects.filter { $0["message"] as? String == "request" }
        #expect(requests.count == 2)
        // Numbers are numbers; times are UTC with milliseconds.
        #expect(requests.allSatisfy { $0["http.status"] as? Int == 200 && $0["http.path"] as? String == "/encrypt" })
        #expect(requests.allSatisfy { $0["job.id"] is String && $0["duration_ms"] is Double })
        // Who asked, and for what (never the data): the client's address, the operation, the
        // algorithm and, for a keyed one, the key's name.
        #expect(requests.allSatisfy { $0["client.address"] as? String == "127.0.0.1" && $0["job.operation"] as? String == "encrypt" })
        #expect(requests.map { $0["job.algorithm"] as? String } == ["xor-0xaa", "aes-256-gcm"])
        #expect(requests.map { $0["job.key"] as? String } == [nil, "default"])
        #expect(objects.allSatisfy { ($0["time"] as? String)?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil })
        let start = try #require(objects.first { $0["message"] as? String == "listening" })
        #expect(start["port"] as? Int == service.port)
        #expect(start["auth"] as? String == "off" && start["tls"] as? String == "off")
        #expect(!log.contains(secret))
        // The default store made a master key beside it, and said where.
        #expect(objects.contains {
            $0["level"] as? String == "warning" && ($0["message"] as? String)?.contains("generated a master key") == true
        })
    }

    /// A request the service's deadlines cut off is logged as a timeout, not as a client that
    /// went away (libmicrohttpd, whose own timeout is off, sees only a read error).
    @Test func aRequestCutOffByItsDeadlineIsLoggedAsATimeout() async throws {
        let service = try ServiceProcess(["--log-format", "json", "--connection-timeout", "1s"])
        // A body declared and never sent: due within the timeout plus a second per 64 KiB.
        let connection = try RawConnection(port: service.port, timeout: .seconds(6))
        try connection.send(Array("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".utf8))
        _ = connection.receiveAll()
        let (status, log) = service.stop()
        #expect(status == 0)
        let requests = log.split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["message"] as? String == "request" }
        #expect(requests.count == 1)
        #expect(requests.first?["http.outcome"] as? String == "timeout")
        #expect(requests.first?["http.path"] as? String == "/encrypt")
    }

    @Test func hangupAndUserSignalsNeitherKillNorStopTheService() async throws {
        let service = try ServiceProcess([])
        // Ignored outright (their default action would kill the process mid-request).
        let status = try String(contentsOfFile: "/proc/\(service.pid)/status", encoding: .utf8)
        let ignored = try #require(status.split(separator: "\n").first { $0.hasPrefix("SigIgn:") })
        let mask = try #require(UInt64(ignored.split(separator: "\t").last!.trimmingCharacters(in: .whitespaces), radix: 16))
        for signal in [SIGHUP, SIGUSR1, SIGUSR2] {
            #expect(mask & (1 << UInt64(signal - 1)) != 0, "signal \(signal) is not ignored")
            kill(service.pid, signal)
        }
        try await Task.sleep(for: .milliseconds(100))
        let reply = try post(port: service.port, "ASYNC-OK")
        #expect(reply.status == 200 && reply.body.contains("ebf9f3e4e987e5e1"))
        let (exit, _) = service.stop()
        #expect(exit == 0)
    }

    @Test(arguments: ["500ms", "1.5s", "999us"])
    func aConnectionTimeoutThatIsNotWholeSecondsIsRefusedAtStart(value: String) throws {
        // libmicrohttpd counts seconds and reads 0 as no timeout: 500ms must not mean "none".
        let child = try ChildProcess(
            ServiceProcess.executable.path, ["--host", "127.0.0.1", "--port", "0", "--connection-timeout", value],
            stderr: .pipe)
        let message = String(decoding: child.errors!.readDataToEndOfFile(), as: UTF8.self)
        #expect(child.wait() != 0)
        #expect(message.contains("--connection-timeout") && message.contains("whole seconds"), "\(message)")
    }
}
