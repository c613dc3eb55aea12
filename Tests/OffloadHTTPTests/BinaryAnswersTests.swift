import Foundation
import Testing
@testable import OffloadHTTP

/// `Accept: application/octet-stream`: the raw output, with the job's fields in headers.
@Suite struct BinaryAnswers {
    static let binary = ["Accept": "application/octet-stream", "Content-Type": "application/octet-stream"]

    @Test func aRawInputGetsItsRawOutputWithTheJobInHeaders() async throws {
        try await withServer { server in
            let input = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0) })
            let reply = try await server.request("POST", "/encrypt", body: input, headers: Self.binary)
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "application/octet-stream")
            #expect(reply.body == Data(input.map { $0 ^ 0xAA }), "the output, not its hex")
            #expect(reply.headers["vary"] == "Accept")
            #expect(reply.headers["offload-job-status"] == "completed")
            #expect(reply.headers["offload-algorithm"] == "xor-0xaa")
            #expect(reply.headers["offload-input-bytes"] == "100000")
            #expect(reply.headers["offload-provider"] == "offloadsim")
            #expect(reply.headers["offload-timings-ms"]?.contains("device=") == true)
            let id = try #require(reply.headers["offload-job-id"])
            let job = try await server.get("/jobs/\(id)")
            #expect(job.json["id"] as? String == id && job.json["output_bytes"] as? Int == 100_000)
        }
    }

    @Test func aSealedOutputOpensFromItsRawBytes() async throws {
        try await withServer { server in
            let sealed = try await server.request(
                "POST", "/encrypt?algorithm=aes-256-gcm", body: Data("binary secret".utf8), headers: Self.binary)
            #expect(sealed.status == 200 && sealed.body.count == 12 + 13 + 16, "nonce, ciphertext, tag")
            #expect(sealed.headers["offload-key"] == "default")
            let opened = try await server.request(
                "POST", "/decrypt?algorithm=aes-256-gcm", body: sealed.body, headers: Self.binary)
            #expect(opened.status == 200 && opened.body == Data("binary secret".utf8))
            // A failed job is answered as JSON whatever the client accepts: it has no output.
            var tampered = sealed.body
            tampered[20] ^= 1
            let refused = try await server.request(
                "POST", "/decrypt?algorithm=aes-256-gcm", body: tampered, headers: Self.binary)
            #expect(refused.status == 400 && refused.errorCode == "authentication_failed")
            #expect(refused.headers["content-type"] == "application/json")
        }
    }

    @Test(arguments: [
        ("application/octet-stream", true),
        ("application/json, application/octet-stream;q=0.5", false),
        ("application/json;q=0.4, application/octet-stream", true),
        ("application/octet-stream;q=0", false),
        ("*/*", false),
        ("text/html, application/octet-stream;q=0.1", true),
    ])
    func acceptDecidesTheForm(accept: String, binary: Bool) async throws {
        try await withServer { server in
            let reply = try await server.request(
                "POST", "/encrypt", body: Data("ASYNC-OK".utf8),
                headers: ["Accept": accept, "Content-Type": "application/octet-stream"])
            #expect(reply.status == 200)
            #expect((reply.headers["content-type"] == "application/octet-stream") == binary, "\(accept)")
            #expect(binary ? reply.body == Data(hexBytes("ebf9f3e4e987e5e1")) : reply.json["output_hex"] as? String == "ebf9f3e4e987e5e1")
        }
    }
}
