import Foundation
import Synchronization
import TestSupport
import Testing

/// The real `offload-http` binary running as a child process on 127.0.0.1 with a free port,
/// for what only a separate process shows: its own fd table, signals, its exit status.
final class ServiceProcess: @unchecked Sendable {
    // @unchecked: `process` and `log` are used from the test that owns this object only.
    let process: ChildProcess
    let port: Int
    /// Standard error goes to a file: sanitizer reports must not mix with the log on stdout.
    private let errors = FileManager.default.temporaryDirectory.appendingPathComponent("offload-http-\(UUID()).stderr")
    private var log = ""

    /// The binary next to the test bundle (SwiftPM builds both into the same folder).
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("offload-http")
    }

    /// Where the default store (an SQLite file under `$XDG_STATE_HOME`) goes: a directory of
    /// its own per process unless a test passes one (to restart a service on the same store).
    let stateDirectory: URL
    private let ownsStateDirectory: Bool

    init(_ arguments: [String], stateDirectory: URL? = nil, environment: [String: String] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable.path) else {
            throw ServiceError("no built offload-http at \(Self.executable.path); run the tests with swift test")
        }
        ownsStateDirectory = stateDirectory == nil
        self.stateDirectory = stateDirectory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("offload-http-state-\(UUID())")
        var variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        variables["XDG_STATE_HOME"] = self.stateDirectory.path
        // A test's SIGTERM stops at once unless the test is about the drain delay.
        if environment["OFFLOAD_DRAIN_DELAY"] == nil { variables["OFFLOAD_DRAIN_DELAY"] = "0s" }
        process = try ChildProcess(
            Self.executable.path, ["--host", "127.0.0.1", "--port", "0"] + arguments, environment: variables,
            stdout: .pipe, stderr: .file(errors.path))
        // The "listening" log line says which port was picked (so the log level must show info).
        var port: Int?
        let reader = process.output!
        let flags = fcntl(reader.fileDescriptor, F_GETFL)
        _ = fcntl(reader.fileDescriptor, F_SETFL, flags | O_NONBLOCK)
        let deadline = Date().addingTimeInterval(20)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while port == nil && Date() < deadline && process.isRunning {
            let count = read(reader.fileDescriptor, &buffer, buffer.count)
            if count > 0 {
                log += String(decoding: buffer[0..<count], as: UTF8.self)
                if let match = log.firstMatch(of: /"?port"?[=:]"?(\d+)/) { port = Int(match.1) }
            } else {
                usleep(10_000)
            }
        }
        _ = fcntl(reader.fileDescriptor, F_SETFL, flags)
        guard let port else {
            process.signal(SIGKILL)
            process.wait()
            throw ServiceError("offload-http did not report its port; it printed: \(log)")
        }
        self.port = port
    }

    var pid: Int32 { process.pid }

    /// Jobs submitted and not finished, as `GET /stats` says (-1 when it does not answer).
    var jobsInFlight: Int {
        guard let reply = try? get(port: port, "/stats"),
            let stats = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any],
            let jobs = stats["jobs"] as? [String: Any], let inFlight = jobs["in_flight"] as? Int
        else { return -1 }
        return inFlight
    }

    /// Open file descriptors of the service.
    var openFileDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// Sends `signal` and waits for the process to exit; returns its exit status and what it
    /// logged. Anything on standard error (a crash, a sanitizer report) is recorded as an issue.
    func stop(with signal: Int32 = SIGTERM) -> (status: Int32, log: String) {
        // Read while it exits: a service flushing its log at shutdown must find a reader.
        let reader = process.output!
        let remaining = Mutex(Data())
        let readAll = DispatchSemaphore(value: 0)
        Thread {
            let data = reader.readDataToEndOfFile()
            remaining.withLock { $0 = data }
            readAll.signal()
        }.start()
        process.signal(signal)
        let status = process.wait()
        readAll.wait()
        log += String(decoding: remaining.withLock { $0 }, as: UTF8.self)
        // AddressSanitizer warns once that OpenSSL's fibres switch stacks (its issue 189):
        // expected, so not a finding. Everything else is.
        let stderr = ((try? String(contentsOf: errors, encoding: .utf8)) ?? "")
            .split(separator: "\n")
            .filter { line in
                !line.contains("ASan is ignoring requested __asan_handle_no_return")
                    && line != "False positive error reports may follow"
                    && !line.hasPrefix("For details see https://github.com/google/sanitizers/issues/189")
            }
            .joined(separator: "\n")
        try? FileManager.default.removeItem(at: errors)
        if !stderr.isEmpty { Issue.record("offload-http wrote to standard error:\n\(stderr.prefix(4000))") }
        return (status, log)
    }

    deinit {
        if process.isRunning {
            process.signal(SIGKILL)
            process.wait()
        }
        if ownsStateDirectory { try? FileManager.default.removeItem(at: stateDirectory) }
    }
}

struct ServiceError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One request on its own connection to a child process, answered in full.
func post(port: Int, _ body: String, path: String = "/encrypt") throws -> (status: Int, body: String) {
    try exchange(port: port, "POST \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
}

func get(port: Int, _ path: String) throws -> (status: Int, body: String) {
    try exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
}

/// Sends `count` requests on as many connections before reading any answer, so that they are
/// all in flight at once; returns the statuses.
func postAllAtOnce(port: Int, count: Int, _ body: String) throws -> [Int] {
    let request = Array("POST /encrypt HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
    let connections = try (0..<count).map { _ in try RawConnection(port: port) }
    for connection in connections { try connection.send(request) }
    return connections.map { connection in
        let response = connection.receiveAll()
        return response.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
    }
}

private func exchange(port: Int, _ request: String) throws -> (status: Int, body: String) {
    let response = try rawExchange(port: port, Array(request.utf8), timeout: .seconds(30))
    let status = response.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) } ?? 0
    let body = response.range(of: "\r\n\r\n").map { String(response[$0.upperBound...]) } ?? ""
    return (status, body)
}
