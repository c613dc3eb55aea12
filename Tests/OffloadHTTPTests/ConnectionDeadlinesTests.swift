import Engine
import Foundation
import Glibc
@testable import OffloadHTTP
import Testing

/// Each phase of a connection has its deadline, kept by the service (libmicrohttpd's own
/// timeout is off): here in process, on a socket pair, for the phases a client over loopback
/// cannot reach, such as an answer the kernel cannot take whole.
@Suite struct ConnectionDeadlinesInProcess {
    /// A connected pair: the service's end (its deadline's fd) and the client's.
    final class SocketPair {
        let service: Int32
        let client: Int32

        init() throws {
            var ends: [Int32] = [0, 0]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0 else { throw POSIXError(.EMFILE) }
            service = ends[0]
            client = ends[1]
        }

        deinit {
            close(service)
            close(client)
        }

        /// Whether the service's end was shut down: the client then reads end-of-file.
        var isShutDown: Bool {
            var byte: UInt8 = 0
            return recv(client, &byte, 1, Int32(MSG_DONTWAIT)) == 0
        }
    }

    @Test func anAnswerNotTakenInTimeIsCutOffAtTheTimeoutPlusASecondPer64KiB() async throws {
        let deadlines = ConnectionDeadlines(timeoutSeconds: 1)
        defer { deadlines.stop() }
        let pair = try SocketPair()
        let connection = deadlines.opened(fd: pair.service)
        deadlines.headReceived(connection, declaredBytes: 0)
        deadlines.bodyReceived(connection)
        // 128 KiB: the timeout and two seconds.
        deadlines.answerQueued(connection, bytes: 128 * 1024, at: Timestamp.monotonicNow())
        try await Task.sleep(for: .milliseconds(2500))
        #expect(!pair.isShutDown, "cut off before its deadline")
        #expect(deadlines.connectionsCutOff == 0)
        // The timer looks four times a second: a second more is room for a busy machine.
        try await Task.sleep(for: .milliseconds(1500))
        #expect(pair.isShutDown, "an answer past its deadline was never cut off")
        #expect(deadlines.connectionsCutOff == 1)
        #expect(connection.isCutOff)
    }

    @Test func aRunningRequestHasNoDeadlineAndAnAnsweredOneAwaitsItsNextHead() async throws {
        let deadlines = ConnectionDeadlines(timeoutSeconds: 1)
        defer { deadlines.stop() }
        let running = try SocketPair()
        let answered = try SocketPair()
        let first = deadlines.opened(fd: running.service)
        let second = deadlines.opened(fd: answered.service)
        for connection in [first, second] {
            deadlines.headReceived(connection, declaredBytes: 0)
            deadlines.bodyReceived(connection)
        }
        deadlines.answered(second, at: Timestamp.monotonicNow())
        try await Task.sleep(for: .milliseconds(1800))
        #expect(!running.isShutDown, "a request whose job runs was cut off")
        #expect(answered.isShutDown, "an idle connection was not cut off after its answer")
        #expect(deadlines.connectionsCutOff == 1)
        deadlines.closed(first)
        deadlines.closed(second)
    }
}
