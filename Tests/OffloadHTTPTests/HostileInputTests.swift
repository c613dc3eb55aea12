import Foundation
import Testing

/// Requests no well-behaved client sends, against the real binary in a child process. After
/// each, the service answers a normal request correctly; at the end its fd count and its job
/// counts are what the well-formed requests alone would leave.
@Suite struct HostileInput {
    struct Case: CustomStringConvertible, Sendable {
        let description: String
        let bytes: [UInt8]
        /// The statuses the service may answer with; nil stands for closing the connection
        /// without an answer (malformed beyond answering, or cut off by the connection timeout).
        let status: Set<Int?>
        /// Keep the connection open this long before giving up on an answer.
        var wait: Duration = .seconds(5)
    }

    static func request(_ head: String, _ body: [UInt8] = []) -> [UInt8] {
        Array(head.utf8) + body
    }

    static let cases: [Case] = [
        Case(description: "garbage instead of a request line", bytes: request("GARBAGE\r\n\r\n"), status: [nil]),
        Case(description: "a request line with no version",
             bytes: request("GET /jobs\r\nHost: x\r\n\r\n"), status: [400]),
        Case(description: "binary noise", bytes: (0..<2048).map { UInt8(truncatingIfNeeded: $0 &* 7919) }, status: [400, nil]),
        Case(description: "a header just over the 8 KiB limit",
             bytes: request("GET /jobs HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 8_200))\r\nConnection: close\r\n\r\n"),
             status: [431]),
        // The connection's pool is the header limit plus 4 KiB: a head that fills it to within
        // an answer's headers (about 11.9 to 12.1 KB) leaves libmicrohttpd 0.9.75 no room for
        // any answer, and it closes the connection; on either side of that band, 431.
        Case(description: "a header of 11 KB (in the pool, over the limit)",
             bytes: request("GET /jobs HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 11_000))\r\nConnection: close\r\n\r\n"),
             status: [431]),
        Case(description: "a head that fills libmicrohttpd's pool to its last bytes",
             bytes: request("GET /jobs HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 11_950))\r\nConnection: close\r\n\r\n"),
             status: [431, nil]),
        Case(description: "a header of 14 KB (past libmicrohttpd's pool)",
             bytes: request("GET /jobs HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 14_000))\r\nConnection: close\r\n\r\n"),
             status: [431]),
        Case(description: "headers past libmicrohttpd's pool",
             bytes: request("GET /jobs HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 30_000))\r\nConnection: close\r\n\r\n"),
             status: [431]),
        Case(description: "500 empty headers",
             bytes: request("GET /jobs HTTP/1.1\r\nHost: x\r\n\((0..<500).map { "X-\($0):\r\n" }.joined())Connection: close\r\n\r\n"),
             status: [431]),
        Case(description: "175 query arguments",
             bytes: request("GET /jobs?\((0..<175).map { "a\($0)=1" }.joined(separator: "&")) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
             status: [400]),
        Case(description: "HTTP/1.1 without Host",
             bytes: request("GET /jobs HTTP/1.1\r\nConnection: close\r\n\r\n"), status: [400]),
        Case(description: "a bare CR ending the request line",
             bytes: request("GET /jobs HTTP/1.1\rHost: x\r\nConnection: close\r\n\r\n"), status: [400]),
        Case(description: "white space before a header's colon",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length : 2\r\nConnection: close\r\n\r\nab"), status: [400]),
        // RFC 9112, 5.2: a server may replace obs-fold with spaces; libmicrohttpd does.
        Case(description: "a folded header",
             bytes: request("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\nConnection: close\r\n\r\n"), status: [200]),
        Case(description: "a Content-Length that is not a number",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n"), status: [400]),
        Case(description: "a negative Content-Length",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\nConnection: close\r\n\r\n"), status: [400]),
        Case(description: "a Content-Length past any integer",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\nConnection: close\r\n\r\n"),
             status: [413]),
        Case(description: "Content-Length 2^64 - 1 (libmicrohttpd's \"unknown size\")",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\nConnection: close\r\n\r\nabc"),
             status: [413]),
        Case(description: "a transfer coding besides chunked",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
             status: [501]),
        Case(description: "two Transfer-Encoding headers",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
             status: [501]),
        Case(description: "two different Content-Lengths",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\nConnection: close\r\n\r\nhello"),
             status: [400]),
        Case(description: "Content-Length with chunked encoding",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
             status: [400]),
        Case(description: "a chunk size that is not hex",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
             status: [400]),
        Case(description: "a chunk size past any integer",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nffffffffffffffffffff\r\nabc"),
             status: [413]),
        Case(description: "a chunk longer than its size",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nabcdefgh\r\n0\r\n\r\n"),
             status: [400]),
        Case(description: "headers that never end (slowloris)",
             bytes: request("GET /jobs HTTP/1.1\r\nHost: x\r\n"), status: [nil]),
        Case(description: "a body that never arrives",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"), status: [nil]),
        Case(description: "deeply nested JSON",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40001\r\nConnection: close\r\n\r\n",
                            Array(String(repeating: "[", count: 40_000).utf8) + [UInt8(ascii: "]")]),
             status: [400]),
        Case(description: "a huge number",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 19\r\nConnection: close\r\n\r\n{\"input\": 1e999999}"),
             status: [400]),
        Case(description: "JSON that is not UTF-8",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nConnection: close\r\n\r\n", [0x7b, 0xff, 0xfe, 0x7d]),
             status: [415]),
        Case(description: "a body over the limit",
             bytes: request("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\nConnection: close\r\n\r\n", Array(repeating: 0x41, count: 70_000)),
             status: [413]),
        // libmicrohttpd ends the path at the NUL: this is a GET /jobs, answered as one.
        Case(description: "a NUL in the path",
             bytes: request("GET /jobs\0/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), status: [200, 400, nil]),
        Case(description: "a percent-encoded path escape",
             bytes: request("GET /jobs/%2e%2e%2fkeys HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), status: [404]),
    ]

    @Test func everyHostileRequestIsAnsweredOrCutOffAndTheServiceCarriesOn() async throws {
        // One loop: each loop keeps the wait context (and its eventfd) of its last job for the
        // next, so with several the baseline would depend on which loops the first jobs ran on.
        let service = try ServiceProcess([
            "--connection-timeout", "1s", "--max-header-size", "8KiB", "--max-body", "64KiB", "--engine-threads", "1",
        ])
        defer { _ = service.stop() }
        var completed = 0
        func normalRequestWorks() throws {
            let reply = try post(port: service.port, "ASYNC-OK")
            #expect(reply.status == 200 && reply.body.contains("ebf9f3e4e987e5e1"))
            completed += 1
        }
        try normalRequestWorks()
        let baseline = service.openFileDescriptors
        for hostile in Self.cases {
            let clock = ContinuousClock()
            let start = clock.now
            let answer = try rawExchange(port: service.port, hostile.bytes, timeout: hostile.wait)
            let status = answer.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
            #expect(hostile.status.contains(status), "\(hostile): answered \(answer.prefix(60))")
            if status == nil {
                // The service closed the connection; the client did not give up waiting.
                #expect(clock.now - start < hostile.wait - .milliseconds(500), "\(hostile): the connection stayed open")
            }
            try normalRequestWorks()
        }
        // A client that goes away in the middle of its body.
        _ = try rawExchange(
            port: service.port,
            Array("POST /encrypt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nhalf a body".utf8),
            closeAfterSending: true)
        try normalRequestWorks()
        #expect(try await eventually { service.openFileDescriptors <= baseline },
                "fds: \(service.openFileDescriptors) now, \(baseline) before")
        let jobs = try get(port: service.port, "/jobs?limit=1000").body
        let counts = try #require(try JSONSerialization.jsonObject(with: Data(jobs.utf8)) as? [String: Any])["counts"]
        #expect(counts as? [String: Int] == ["queued": 0, "running": 0, "completed": completed, "failed": 0])
    }
}
