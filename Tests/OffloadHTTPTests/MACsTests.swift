import Engine
import Foundation
import Glibc
@testable import OffloadHTTP
import Testing

/// `/hmac` and `/verify` with HMAC-SHA-256 keys, checked against Python's own HMAC.
@Suite struct MACs {
    @Test func anHMACVerifiesAndMatchesAnIndependentImplementation() async throws {
        try await KeyManagement.withKeyServer { server, _ in
            let created = try await KeyManagement.json(server, "POST", "/keys", ["name": "webhooks", "type": "hmac-sha256"])
            #expect(created.status == 201)
            let made = try await server.postJSON("/hmac", ["key": "webhooks", "input": "payload 1"])
            #expect(made.status == 200)
            #expect(made.json["operation"] as? String == "hmac")
            #expect(made.json["algorithm"] as? String == "hmac-sha256")
            let mac = try #require(made.json["hmac"] as? String)
            #expect(mac.hasPrefix("offload:webhooks:v1:"))
            #expect(Data(base64Encoded: String(mac.split(separator: ":")[3]))?.count == 32)

            let valid = try await server.postJSON("/verify", ["key": "webhooks", "input": "payload 1", "hmac": mac])
            #expect(valid.status == 200)
            #expect(valid.json["valid"] as? Bool == true)
            #expect(valid.json["output_hex"] == nil)
            #expect(try await server.postJSON("/verify", ["key": "webhooks", "input": "payload 2", "hmac": mac]).json["valid"]
                as? Bool == false)
            // Malformed or another key's: not valid, not an error.
            for bad in ["garbage", "offload:webhooks:v1:!!", "offload:other:v1:" + String(mac.split(separator: ":")[3])] {
                let reply = try await server.postJSON("/verify", ["key": "webhooks", "input": "payload 1", "hmac": bad])
                #expect(reply.status == 200, "\(bad)")
                #expect(reply.json["valid"] as? Bool == false, "\(bad)")
            }
            // After a rotation the v1 MAC still verifies; a new MAC is v2.
            _ = try await KeyManagement.json(server, "POST", "/keys/webhooks/rotate")
            #expect(try await server.postJSON("/verify", ["key": "webhooks", "input": "payload 1", "hmac": mac]).json["valid"]
                as? Bool == true)
            #expect((try await server.postJSON("/hmac", ["key": "webhooks", "input": "x"]).json["hmac"] as? String)?
                .hasPrefix("offload:webhooks:v2:") == true)

            // Wrong key types, both ways.
            #expect(try await server.postJSON("/hmac", ["key": "default", "input": "x"]).errorCode == "wrong_key_type")
            #expect(try await server.postJSON("/encrypt", ["key": "webhooks", "input": "x"]).errorCode == "wrong_key_type")
            #expect(try await server.postJSON("/hmac", ["input": "x"]).errorCode == "invalid_field")
            #expect(try await server.postJSON("/encrypt", ["input": "x", "algorithm": "hmac-sha256"]).errorCode
                == "unknown_algorithm")
            #expect(try await server.postJSON("/verify", ["key": "webhooks", "input": "x", "hmac": "offload:webhooks:v9:AAAA"])
                .errorCode == "unknown_key_version")
        }
    }
}
