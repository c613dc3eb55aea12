import Engine
import Foundation
import Glibc
@testable import OffloadHTTP
import Testing

/// `/rewrap` and `/datakey`: ciphertexts moved to a key's latest version without their plaintext
/// leaving the job, and data keys for envelope encryption.
@Suite struct RewrapAndDataKeys {
    @Test func rewrapMovesAnOldCiphertextToTheLatestVersion() async throws {
        try await KeyManagement.withKeyServer { server, _ in
            _ = try await KeyManagement.json(server, "POST", "/keys", ["name": "orders"])
            let aad = Data("order 7".utf8).base64EncodedString()
            let v1 = try #require(try await server.postJSON("/encrypt", ["input": "pay 10", "key": "orders", "aad_base64": aad])
                .json["ciphertext"] as? String)
            _ = try await KeyManagement.json(server, "POST", "/keys/orders/rotate")
            let rewrapped = try await server.postJSON("/rewrap", ["ciphertext": v1, "aad_base64": aad])
            #expect(rewrapped.status == 200)
            #expect(rewrapped.json["operation"] as? String == "rewrap")
            #expect(rewrapped.json["key_version"] as? Int == 2)
            let v2 = try #require(rewrapped.json["ciphertext"] as? String)
            #expect(v2.hasPrefix("offload:orders:v2:"))
            // The answer holds no plaintext, in hex or otherwise.
            #expect(!String(decoding: rewrapped.body, as: UTF8.self).contains(hexString(Array("pay 10".utf8))))
            _ = try await KeyManagement.json(server, "PATCH", "/keys/orders", ["min_decryption_version": 2])
            let opened = try await server.postJSON("/decrypt", ["ciphertext": v2, "aad_base64": aad])
            #expect(opened.json["output_hex"] as? String == hexString(Array("pay 10".utf8)))
            // v1 no longer decrypts, nor rewraps.
            #expect(try await server.postJSON("/rewrap", ["ciphertext": v1, "aad_base64": aad]).errorCode == "key_version_disabled")
            // Tampered, or the wrong aad: authentication fails, nothing is sealed.
            let wrong = try await server.postJSON("/rewrap", ["ciphertext": v2])
            #expect(wrong.status == 400)
            #expect(wrong.errorCode == "authentication_failed")
            #expect(wrong.json["ciphertext"] == nil)
            #expect(try await server.postJSON("/rewrap", ["input": "x"]).errorCode == "missing_input")
            let batch = try await server.postJSON("/rewrap", ["batch": [["ciphertext": v2, "aad_base64": aad]]])
            #expect(((batch.json["results"] as? [[String: Any]])?.first?["ciphertext"] as? String)?.hasPrefix("offload:orders:v2:") == true)
        }
    }

    @Test func aDataKeyOpensWithDecryptAndItsPlaintextIsNeverKept() async throws {
        try await KeyManagement.withKeyServer { server, _ in
            let made = try await server.postJSON("/datakey", ["key": "default", "bits": 256])
            #expect(made.status == 200)
            #expect(made.json["operation"] as? String == "datakey")
            let plaintext = try #require((made.json["plaintext_base64"] as? String).flatMap { Data(base64Encoded: $0) })
            #expect(plaintext.count == 32)
            let ciphertext = try #require(made.json["ciphertext"] as? String)
            let opened = try await server.postJSON("/decrypt", ["ciphertext": ciphertext])
            #expect(opened.json["output_hex"] as? String == hexString(Array(plaintext)))
            let id = try #require(made.json["id"] as? String)
            let record = String(decoding: try await server.get("/jobs/\(id)").body, as: UTF8.self)
            #expect(!record.contains("plaintext_base64"))
            #expect(!record.contains(plaintext.base64EncodedString()))
            #expect(!record.contains(hexString(Array(plaintext))))

            let wrapped = try await server.postJSON("/datakey", ["bits": 128, "plaintext": false])
            #expect(wrapped.json["plaintext_base64"] == nil)
            #expect(wrapped.json["input_bytes"] as? Int == 16)
            #expect(try await server.postJSON("/datakey", ["bits": 100]).errorCode == "invalid_field")
            #expect(try await server.postJSON("/datakey", ["key": "nope"]).errorCode == "unknown_key")
            _ = try await KeyManagement.json(server, "POST", "/keys", ["name": "mac", "type": "hmac-sha256"])
            #expect(try await server.postJSON("/datakey", ["key": "mac"]).errorCode == "wrong_key_type")
            let asyncPlain = try await server.request(
                "POST", "/datakey", body: Data(#"{"plaintext": true}"#.utf8),
                headers: ["Content-Type": "application/json", "Prefer": "respond-async"])
            #expect(asyncPlain.errorCode == "invalid_field")
        }
    }
}
