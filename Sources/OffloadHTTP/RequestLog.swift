import Dispatch
import Foundation
import Logging
import Synchronization

/// The request log: one line per finished request, formatted and written by a thread of its
/// own, so that serving never waits for the log. Formatting and writing a line on the HTTP
/// thread cost about a fifth of the throughput, and a stdout nobody reads (a full pipe) would
/// have stopped the whole server.
///
/// Lines wait in a bounded buffer; when it is full (stdout blocked for long), new lines are
/// dropped and counted, and the count is logged once writing resumes. `stop` writes what is
/// left before the process exits.
final class RequestLog: Sendable {
    struct Entry: Sendable {
        let method: String
        let path: String
        let status: Int?
        let jobID: UUID?
        let duration: Duration
        /// How the request ended when it did not end with its answer sent.
        let outcome: String?
    }

    private struct Pending {
        var entries: [Entry] = []
        var dropped = 0
        var stopping = false
    }

    /// Lines that may wait for the writer; beyond, lines are dropped (and counted).
    static let capacity = 65_536

    private let logger: Logger
    private let pending = Mutex(Pending())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// Whether request lines are written at all (the log level is info or finer).
    let isEnabled: Bool

    init(logger: Logger) {
        self.logger = logger
        isEnabled = logger.logLevel <= .info
        guard isEnabled else { return }
        let thread = Thread { [self] in write() }
        thread.name = "offload-http.log"
        thread.start()
    }

    /// Queues a line. Never blocks on the output.
    func record(_ entry: Entry) {
        guard isEnabled else { return }
        let wasEmpty = pending.withLock { pending in
            guard pending.entries.count < Self.capacity else {
                pending.dropped += 1
                return false
            }
            pending.entries.append(entry)
            return pending.entries.count == 1
        }
        if wasEmpty { wake.signal() }
    }

    /// Writes every queued line, then ends the writer; waits at most `timeout` for an output
    /// that does not drain.
    func stop(timeout: Duration = .seconds(5)) {
        guard isEnabled else { return }
        pending.withLock { $0.stopping = true }
        wake.signal()
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        _ = finished.wait(timeout: .now() + .nanoseconds(Int(nanoseconds)))
    }

    private func write() {
        while true {
            wake.wait()
            while true {
                let (entries, dropped, stopping) = pending.withLock { pending in
                    defer {
                        pending.entries.removeAll(keepingCapacity: true)
                        pending.dropped = 0
                    }
                    return (pending.entries, pending.dropped, pending.stopping)
                }
                if dropped > 0 {
                    logger.warning("request log lines dropped: the output did not keep up", metadata: ["lines": "\(dropped)"])
                }
                for entry in entries { logger.info("request", metadata: Self.metadata(of: entry)) }
                if entries.isEmpty {
                    if stopping {
                        finished.signal()
                        return
                    }
                    break
                }
            }
        }
    }

    private static func metadata(of entry: Entry) -> Logger.Metadata {
        let (seconds, attoseconds) = entry.duration.components
        let microseconds = seconds * 1_000_000 + attoseconds / 1_000_000_000_000
        var metadata: Logger.Metadata = [
            "http.method": "\(printable(entry.method))",
            "http.path": "\(printable(entry.path))",
            "http.status": entry.status.map { "\($0)" } ?? "-",
            "duration_ms": "\(Double(microseconds) / 1000)",
        ]
        if let jobID = entry.jobID { metadata["job.id"] = "\(jobID.uuidString.lowercased())" }
        if let outcome = entry.outcome { metadata["http.outcome"] = "\(outcome)" }
        return metadata
    }

    /// The client's text with control characters escaped as `\xHH` (as nginx writes them), so
    /// that a `%0a` in a path cannot forge a log line nor `%1b` drive a terminal.
    static func printable(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f || $0 == UInt8(ascii: "\\") }) else { return text }
        var escaped = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7f || scalar == "\\" {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                escaped += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
