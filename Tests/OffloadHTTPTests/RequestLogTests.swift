import Foundation
import Glibc
import Logging
@testable import OffloadHTTP
import Testing

/// Each engine loop queues its requests' lines apart; the writer still writes every line once,
/// in time order across the loops.
@Suite struct RequestLogLines {
    @Test func linesOfSeveralLoopsAreWrittenOnceEachInTimeOrder() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]) }
        var logger = Logger(label: "offload-http")
        logger.logLevel = .info
        let log = RequestLog(logger: logger, format: .json, loops: 3, output: ends[1])
        // Three loops, their lines interleaved in time; each loop's own in order.
        let start: Int64 = 1_764_633_600_000_000_000
        for step in 0..<30 {
            let entry = RequestLog.Entry(
                method: "POST", path: "/encrypt/\(step)", status: 200, job: nil, jobID: nil,
                nanoseconds: 1_000_000, outcome: nil, wallNanoseconds: start + Int64(step) * 1_000_000)
            log.record(entry, fromLoop: step % 3)
        }
        log.stop()
        close(ends[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while case let count = read(ends[0], &buffer, buffer.count), count > 0 { output += buffer[..<count] }
        let paths = try String(decoding: output, as: UTF8.self).split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(object["http.path"] as? String)
        }
        #expect(paths == (0..<30).map { "/encrypt/\($0)" })
    }

    /// The threads of this process at the writer's nice value, from /proc (field 19 of a
    /// thread's stat, counted after the parenthesised name, which may hold spaces).
    static func threadsAtWriterNiceness() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").filter { task in
            guard let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After the name: state is field 3, nice field 19.
            return fields.count > 16 && Int32(fields[16]) == RequestLog.writerNiceness
        }.count
    }

    /// The writer formats its lines in bursts: it runs below the engine loops, so that a burst
    /// never takes a core from a loop serving requests.
    @Test func theWriterRunsBelowTheLoopsPriority() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        let before = try Self.threadsAtWriterNiceness()
        var logger = Logger(label: "offload-http")
        logger.logLevel = .info
        let log = RequestLog(logger: logger, format: .text, loops: 1, output: ends[1])
        let deadline = Date().addingTimeInterval(5)
        while try Self.threadsAtWriterNiceness() == before && Date() < deadline { usleep(10_000) }
        #expect(try Self.threadsAtWriterNiceness() == before + 1)
        log.stop()
        #expect(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) == 0, "the rest of the process keeps its priority")
    }
}
