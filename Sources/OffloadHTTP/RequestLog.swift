internal import CLinux
import Dispatch
import Engine
import Foundation
import Glibc
import Logging
import Synchronization

/// How log lines are written: `text` for people (swift-log's stream format), `json` one
/// object per line for collectors.
public enum LogFormat: Sendable {
    case text, json
}

/// The request log: one line per finished request, formatted and written by a thread of its
/// own, so that serving never waits for the log. Formatting and writing a line on the HTTP
/// thread cost about a fifth of the throughput, and a stdout nobody reads (a full pipe) would
/// have stopped the whole server. The lines are formatted here rather than through swift-log
/// (in the same two formats): its handlers format a timestamp and a metadata dictionary per
/// line, which at tens of thousands of lines a second took 30% of a 2-core machine.
///
/// Lines wait in bounded buffers, one per engine loop (each loop records its requests' lines in
/// its own, which no other loop locks: one buffer for all had its lock and its storage pass
/// between the cores every request); the writer takes them all together and writes their lines
/// in time order. When a buffer is full (stdout blocked for long), new lines are dropped and
/// counted, and the count is logged once writing resumes. `stop` writes what is left before the
/// process exits.
final class RequestLog: Sendable {
    struct Entry: Sendable {
        /// The client's IP address: its first `clientAddressLength` bytes (4 or 16), written
        /// as text by the log's thread, not on the request's way.
        var clientAddress = InlineArray<16, UInt8>(repeating: 0)
        var clientAddressLength = 0
        let method: String
        let path: String
        let status: Int?
        /// The job's operation, algorithm and key name (never its data), when it ran one.
        var job: JobFacts?
        let jobID: UUID?
        /// From the head's arrival to the end.
        let nanoseconds: UInt64
        /// How the request ended when it did not end with its answer sent.
        let outcome: String?
        /// When it ended, for the line's time.
        let wallNanoseconds: Int64
    }

    /// What the request log says of a job: how it was asked, never its input or output.
    struct JobFacts: Sendable {
        let operation: JobOperation
        let algorithm: Algorithm?
        let keyName: String?
        /// Items of a batch; nil for a single job.
        let batchItems: Int?
    }

    private struct Pending {
        var entries: [Entry] = []
        var dropped = 0
    }

    /// One loop's lines waiting for the writer.
    private final class Buffer: Sendable {
        let pending = Mutex(Pending())
    }

    /// Lines that may wait for the writer, over all loops; beyond, lines are dropped (and counted).
    static let capacity = 65_536
    /// Largest write: lines written together in one write no longer than this reach a pipe
    /// whole, never interleaved with another thread's log line (POSIX's PIPE_BUF).
    private static let atomicWriteBytes = 4096

    private let logger: Logger
    /// ` info <label>:`, the text lines' fixed part after the time.
    private let textLevelAndLabel: [UInt8]
    private let format: LogFormat
    private let output: Int32
    private let buffers: [Buffer]
    /// The most lines one loop's buffer holds.
    private let bufferCapacity: Int
    private let stopping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// Whether request lines are written at all (the log level is info or finer).
    let isEnabled: Bool

    /// `loops`: how many engine loops record lines (each passes its index to `record`).
    init(logger: Logger, format: LogFormat, loops: Int, output: Int32 = STDOUT_FILENO) {
        self.logger = logger
        buffers = (0..<max(1, loops)).map { _ in Buffer() }
        bufferCapacity = max(1, Self.capacity / max(1, loops))
        textLevelAndLabel = Array(" info \(logger.label):".utf8)
        self.format = format
        self.output = output
        isEnabled = logger.logLevel <= .info
        guard isEnabled else { return }
        let thread = Thread { [self] in write() }
        thread.name = "offload-http.log"
        thread.start()
    }

    /// Queues a line from engine loop `loop`. Never blocks on the output.
    func record(_ entry: consuming Entry, fromLoop loop: Int) {
        guard isEnabled else { return }
        // Moved into the buffer through an optional, not copied (a copy retains the entry's
        // strings, and the original is released right after).
        var moving = Optional(entry)
        // No wake-up per line: the writer looks every `writeInterval` (a wake-up per line, when
        // the writer keeps up, cost a context switch per request).
        buffers[loop].pending.withLock { pending in
            guard pending.entries.count < bufferCapacity else {
                pending.dropped += 1
                return
            }
            pending.entries.append(moving.take()!)
        }
    }

    /// The writer thread's nice value (the loops keep the process's, 0).
    static let writerNiceness: Int32 = 10

    /// How long lines may wait before they are written.
    static let writeInterval = DispatchTimeInterval.milliseconds(50)

    /// Writes every queued line, then ends the writer; waits at most `timeout` for an output
    /// that does not drain.
    func stop(timeout: Duration = .seconds(5)) {
        guard isEnabled else { return }
        stopping.store(true, ordering: .releasing)
        wake.signal()
        _ = finished.wait(timeout: .now() + .milliseconds(Int(timeout.components.seconds * 1000)))
    }

    private func write() {
        // Below the engine loops: the writer formats a burst of lines every `writeInterval`,
        // and at the loops' priority that burst took a core from a loop serving requests. Raising
        // one's own nice value needs no privilege; were it refused, the writer would only keep
        // the loops' priority.
        _ = CLinux_set_thread_niceness(Self.writerNiceness)
        var text = TextTime()
        var lines = ByteWriter(capacity: 64 * 1024)
        var lineEnds: [Int] = []
        var taken: [[Entry]] = buffers.map { _ in [] }
        while true {
            _ = wake.wait(timeout: .now() + Self.writeInterval)
            while true {
                // Read before the buffers are taken: a line recorded before `stop` is then in them.
                let stopping = stopping.load(ordering: .acquiring)
                var dropped = 0
                for index in buffers.indices {
                    // Swapped, not copied: the arrays' storage is reused turn after turn.
                    taken[index].removeAll(keepingCapacity: true)
                    dropped += buffers[index].pending.withLock { pending in
                        swap(&taken[index], &pending.entries)
                        defer { pending.dropped = 0 }
                        return pending.dropped
                    }
                }
                if dropped > 0 {
                    logger.warning("request log lines dropped: the output did not keep up", metadata: ["lines": "\(dropped)"])
                }
                lines.removeAll()
                lineEnds.removeAll(keepingCapacity: true)
                Self.inTimeOrder(taken) { entry in
                    switch format {
                    case .text: appendText(entry, time: &text, to: &lines)
                    case .json: appendJSON(entry, to: &lines)
                    }
                    lineEnds.append(lines.count)
                }
                writeWhole(lines, lineEnds: lineEnds)
                if lineEnds.isEmpty {
                    if stopping {
                        finished.signal()
                        return
                    }
                    break
                }
            }
        }
    }

    /// Calls `body` with every entry of the loops' lists, earliest first: each list is in the
    /// order its loop finished the requests, so the next line is the earliest of their heads.
    private static func inTimeOrder(_ lists: [[Entry]], _ body: (Entry) -> Void) {
        guard lists.count > 1 else {
            lists.first?.forEach(body)
            return
        }
        var next = lists.map(\.startIndex)
        while true {
            var earliest: Int?
            for list in lists.indices where next[list] < lists[list].endIndex {
                if let current = earliest,
                    lists[current][next[current]].wallNanoseconds <= lists[list][next[list]].wallNanoseconds { continue }
                earliest = list
            }
            guard let list = earliest else { return }
            body(lists[list][next[list]])
            next[list] += 1
        }
    }

    /// Writes the lines in writes of whole lines, each at most `atomicWriteBytes` unless one
    /// line alone is longer.
    private func writeWhole(_ lines: borrowing ByteWriter, lineEnds: [Int]) {
        let total = lines.count
        lines.withBytes { bytes in
            var start = 0
            var index = 0
            while start < total {
                var end = lineEnds[index]
                index += 1
                while index < lineEnds.count && lineEnds[index] - start <= Self.atomicWriteBytes {
                    end = lineEnds[index]
                    index += 1
                }
                var written = start
                while written < end {
                    let count = Glibc.write(output, bytes.baseAddress! + written, end - written)
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 { return }  // stdout is gone: nothing more can be written
                    written += count
                }
                start = end
            }
        }
    }

    /// swift-log's stream format: `2026-11-28T09:36:45+0000 info offload-http: key=value ... [OffloadHTTP] request`,
    /// metadata keys in order.
    private func appendText(_ entry: Entry, time: inout TextTime, to line: inout ByteWriter) {
        line.append(time.formatted(wallNanoseconds: entry.wallNanoseconds))
        line.append(textLevelAndLabel)
        line.append(" client.address=")
        Self.appendAddress(of: entry, to: &line)
        line.append(" duration_ms=")
        line.appendMilliseconds(nanoseconds: entry.nanoseconds)
        line.append(" http.method=")
        Self.appendPrintable(entry.method, to: &line)
        if let outcome = entry.outcome {
            line.append(" http.outcome=")
            line.append(string: outcome)
        }
        line.append(" http.path=")
        Self.appendPrintable(entry.path, to: &line)
        line.append(" http.status=")
        if let status = entry.status {
            line.appendDecimal(UInt(clamping: status))
        } else {
            line.byte(UInt8(ascii: "-"))
        }
        if let job = entry.job {
            if let algorithm = job.algorithm {
                line.append(" job.algorithm=")
                line.append(string: algorithm.rawValue)
            }
            if let items = job.batchItems {
                line.append(" job.batch_items=")
                line.appendDecimal(UInt(clamping: items))
            }
        }
        if let jobID = entry.jobID {
            line.append(" job.id=")
            line.appendUUID(jobID)
        }
        if let job = entry.job {
            if let keyName = job.keyName {
                line.append(" job.key=")
                line.append(string: keyName)
            }
            line.append(" job.operation=")
            line.append(string: job.operation.rawValue)
        }
        line.append(" [OffloadHTTP] request\n")
    }

    /// `printable(text)`, appended without making a string when there is nothing to escape.
    private static func appendPrintable(_ text: String, to line: inout ByteWriter) {
        let plain = text.utf8.withContiguousStorageIfAvailable { utf8 in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == 0x7f || $0 == UInt8(ascii: "\\") }) else { return false }
            line.append(utf8)
            return true
        }
        if plain != true { line.append(string: printable(text)) }
    }

    /// The JSON handler's format: every field a string, keys in order.
    private func appendJSON(_ entry: Entry, to line: inout ByteWriter) {
        var json = JSONWriter(capacity: 256)
        json.beginObject()
        var address = ByteWriter(capacity: 64)
        Self.appendAddress(of: entry, to: &address)
        json.field("client.address", String(decoding: address.bytes, as: UTF8.self))
        // Numbers as numbers, for collectors that sum and compare them.
        json.key("duration_ms")
        json.milliseconds(nanoseconds: entry.nanoseconds)
        json.field("http.method", entry.method)
        if let outcome = entry.outcome { json.field("http.outcome", outcome) }
        json.field("http.path", entry.path)
        json.field("http.status", entry.status)
        if let job = entry.job {
            if let algorithm = job.algorithm { json.field("job.algorithm", algorithm.rawValue) }
            if let items = job.batchItems { json.field("job.batch_items", items) }
        }
        if let jobID = entry.jobID {
            json.key("job.id")
            json.uuid(jobID)
        }
        if let job = entry.job {
            if let keyName = job.keyName { json.field("job.key", keyName) }
            json.field("job.operation", job.operation.rawValue)
        }
        json.field("label", logger.label)
        json.field("level", "info")
        json.field("message", "request")
        json.key("time")
        json.timestamp(wallNanoseconds: entry.wallNanoseconds)
        json.endObject()
        json.withBytes { line.append($0.assumingMemoryBound(to: UInt8.self)) }
        line.byte(UInt8(ascii: "\n"))
    }

    /// The client's address as text (`192.0.2.1`, `2001:db8::1`), or `-` when unknown. IPv4
    /// digits are written directly: `inet_ntop` formats them with `sprintf`, which cost more
    /// than the rest of the line.
    private static func appendAddress(of entry: Entry, to line: inout ByteWriter) {
        switch entry.clientAddressLength {
        case 4:
            for index in 0..<4 {
                if index > 0 { line.byte(UInt8(ascii: ".")) }
                line.appendDecimal(UInt(entry.clientAddress[index]))
            }
        case 16:
            var bytes = entry.clientAddress
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let written = withUnsafeBytes(of: &bytes) { raw in
                inet_ntop(AF_INET6, raw.baseAddress, &buffer, socklen_t(buffer.count))
            }
            guard written != nil else { return line.byte(UInt8(ascii: "-")) }
            line.append(buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) })
        default:
            line.byte(UInt8(ascii: "-"))
        }
    }

    /// The text format's local time, formatted once per second.
    private struct TextTime {
        var second: Int = -1
        var formatted: [UInt8] = []

        mutating func formatted(wallNanoseconds: Int64) -> [UInt8] {
            var seconds = time_t(wallNanoseconds / 1_000_000_000)
            guard seconds != second else { return formatted }
            second = seconds
            var local = tm()
            localtime_r(&seconds, &local)
            var buffer = [CChar](repeating: 0, count: 64)
            let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
            formatted = buffer[0..<count].map { UInt8(bitPattern: $0) }
            return formatted
        }
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
