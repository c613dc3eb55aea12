import Foundation
import Glibc
import Testing
@testable import OffloadHTTP

/// Clients that trickle a byte at a time (slowloris) are cut off by a deadline on the whole
/// request head and body, not kept alive by every byte they send; a client that does not take
/// its answer, by a deadline on the answer.
@Suite struct SlowClients {
    /// Sends `bytes` one at a time, `interval` apart, until the server closes the connection
    /// or `limit` passes; returns how long the connection stayed open, or nil if it did not close.
    static func trickle(_ bytes: [UInt8], after prefix: [UInt8] = [], port: Int,
                        interval: Duration = .milliseconds(200), limit: Duration = .seconds(6)) async throws -> Duration? {
        let connection = try RawConnection(port: port)
        try connection.send(prefix)
        let clock = ContinuousClock()
        let start = clock.now
        var index = 0
        while clock.now - start < limit {
            var byte = bytes[index % bytes.count]
            index += 1
            if Glibc.send(connection.fd, &byte, 1, Int32(MSG_NOSIGNAL)) <= 0 { return clock.now - start }
            var scratch = [UInt8](repeating: 0, count: 512)
            let received = recv(connection.fd, &scratch, scratch.count, Int32(MSG_DONTWAIT))
            if received == 0 || (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { return clock.now - start }
            try await Task.sleep(for: interval)
        }
        return nil
    }

    @Test func aHeadThatTricklesInIsCutOffAtTheTimeoutWhateverItSends() async throws {
        try await withServer({ $0.connectionTimeoutSeconds = 1 }) { server in
            let head = Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 64)
            let open = try await Self.trickle(head, port: server.port)
            let lasted = try #require(open, "a trickling head was never cut off")
            #expect(lasted >= .milliseconds(900) && lasted < .seconds(3), "open for \(lasted)")
            let health = try await server.get("/healthz")
            #expect(health.status == 200)
        }
    }

    @Test func aBodyThatTricklesInIsCutOffAtItsDeadline() async throws {
        try await withServer({ $0.connectionTimeoutSeconds = 1 }) { server in
            let head = Array("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n".utf8)
            let open = try await Self.trickle(Array("body".utf8), after: head, port: server.port)
            let lasted = try #require(open, "a trickling body was never cut off")
            // The timeout plus a second per 64 KiB of declared body: 2 s for 100,000 bytes.
            #expect(lasted >= .milliseconds(1900) && lasted < .seconds(4), "open for \(lasted)")
            #expect(server.server.connectionsCutOff == 1)
        }
    }

    /// libmicrohttpd's own timeout is off; the service's deadlines alone close a connection
    /// whose client never reads. On loopback the kernel takes the whole answer into the
    /// socket's send buffer (it grows to megabytes), so libmicrohttpd is done with it and the
    /// connection then awaits a head that never comes: cut off at the timeout.
    @Test func aClientThatNeverReadsItsAnswerIsCutOff() async throws {
        try await withServer({ $0.connectionTimeoutSeconds = 1 }) { server in
            let connection = try RawConnection(port: server.port, receiveBuffer: 4096)
            let body = [UInt8](repeating: 0x41, count: 256 * 1024)
            try connection.send(Array((
                "POST /encrypt HTTP/1.1\r\nHost: x\r\nAccept: application/octet-stream\r\n"
                    + "Content-Length: \(body.count)\r\n\r\n").utf8) + body)
            let clock = ContinuousClock()
            let start = clock.now
            while server.server.connectionsCutOff == 0 && clock.now - start < .seconds(10) {
                try await Task.sleep(for: .milliseconds(50))
            }
            let lasted = clock.now - start
            #expect(server.server.connectionsCutOff == 1, "a client that never read its answer was never cut off")
            // At most the timeout plus a second per 64 KiB of the answer (had it stayed unsent).
            #expect(lasted >= .milliseconds(900) && lasted < .seconds(6), "open for \(lasted)")
            let health = try await server.get("/healthz")
            #expect(health.status == 200)
            withExtendedLifetime(connection) {}
        }
    }

    @Test func promptKeepAliveClientsAreNotCutOff() async throws {
        try await withServer({ $0.connectionTimeoutSeconds = 1 }) { server in
            let connection = try RawConnection(port: server.port, timeout: .seconds(3))
            for _ in 0..<4 {
                try connection.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = recv(connection.fd, &buffer, buffer.count, 0)
                #expect(count > 0 && String(decoding: buffer[..<max(count, 0)], as: UTF8.self).hasPrefix("HTTP/1.1 200"))
                try await Task.sleep(for: .milliseconds(600))  // each pause under the timeout
            }
            #expect(server.server.connectionsCutOff == 0)
        }
    }
}
