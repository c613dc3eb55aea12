import Engine
import Foundation
import Testing
@testable import OffloadHTTP

@Suite struct AEAD {
    @Test(arguments: aeadCases)
    func encryptThenDecryptGivesThePlaintextBack(algorithm: String, provider: String) async throws {
        try await withServer({ $0.engine.provider = provider }) { server in
            let aad = Data("order 42".utf8).base64EncodedString()
            let sealed = try await server.postJSON(
                "/encrypt", ["input": "attack at dawn", "algorithm": algorithm, "aad_base64": aad])
            #expect(sealed.status == 200)
            #expect(sealed.json["key"] as? String == "default")
            #expect(sealed.json["provider"] as? String == provider)
            #expect((sealed.json["pauses"] as? Int ?? -1) >= (provider == "offloadsim" ? 1 : 0))
            let ciphertext = try #require(sealed.json["output_hex"] as? String)
            #expect(hexBytes(ciphertext).count == 14 + 28, "nonce, ciphertext and tag")
            #expect(!ciphertext.contains(hexString(Array("attack".utf8))))
            let opened = try await server.postJSON(
                "/decrypt", ["input_hex": ciphertext, "algorithm": algorithm, "aad_base64": aad])
            #expect(opened.status == 200)
            #expect(opened.json["operation"] as? String == "decrypt")
            #expect(opened.json["output_hex"] as? String == hexString(Array("attack at dawn".utf8)))
        }
    }

    @Test(arguments: aeadCases)
    func tamperedDataWrongAADAndWrongKeyFailAuthenticationWithoutPlaintext(algorithm: String, provider: String) async throws {
        let keyFile = try writeKeyFile(["alpha": Array(repeating: 1, count: 32), "beta": Array(repeating: 2, count: 32)])
        defer { unlink(keyFile) }
        let keys = try KeyFile.load(file: keyFile, defaultName: "alpha")
        try await withServer({ $0.keyFile = keys; $0.engine.provider = provider }) { server in
            let aad = Data("header".utf8).base64EncodedString()
            let sealed = try await server.postJSON("/encrypt", ["input": "secret", "algorithm": algorithm, "aad_base64": aad])
            var bytes = hexBytes(try #require(sealed.json["output_hex"] as? String))
            let good = hexString(bytes)
            bytes[14] ^= 0x01
            let attempts: [[String: Any]] = [
                ["input_hex": hexString(bytes), "algorithm": algorithm, "aad_base64": aad],  // tampered
                ["input_hex": good, "algorithm": algorithm, "aad_base64": Data("other".utf8).base64EncodedString()],
                ["input_hex": good, "algorithm": algorithm],  // AAD left out
                ["input_hex": good, "algorithm": algorithm, "aad_base64": aad, "key": "beta"],  // wrong key
            ]
            for attempt in attempts {
                let reply = try await server.postJSON("/decrypt", attempt)
                #expect(reply.status == 400)
                #expect((reply.json["error"] as? [String: Any])?["code"] as? String == "authentication_failed")
                #expect(reply.json["output_hex"] == nil)
                #expect(reply.json["status"] as? String == "failed")
            }
            let right = try await server.postJSON(
                "/decrypt", ["input_hex": good, "algorithm": algorithm, "aad_base64": aad, "key": "alpha"])
            #expect(right.json["output_hex"] as? String == hexString(Array("secret".utf8)))
        }
    }

    @Test(arguments: ["offloadsim", "default"])
    func inputsTooShortToBeCiphertextAndUnknownKeysAre400(provider: String) async throws {
        try await withServer({ $0.engine.provider = provider }) { server in
            let short = try await server.postJSON("/decrypt", ["input_hex": "00ff", "algorithm": "aes-256-gcm"])
            #expect(short.errorCode == "invalid_ciphertext")
            let unknown = try await server.postJSON("/encrypt", ["input": "x", "algorithm": "aes-256-gcm", "key": "nope"])
            #expect(unknown.errorCode == "unknown_key")
            let raw = try await server.post("/encrypt?algorithm=chacha20-poly1305&key=default", "raw body")
            #expect(raw.status == 200)
            #expect(raw.json["output_bytes"] as? Int == 8 + 28)
        }
    }

    @Test func ciphertextsOfTheSimulationOpenWithSoftwareCryptoAndBack() async throws {
        // The simulated accelerator computes real AES-GCM and ChaCha20-Poly1305: what one
        // service seals with a key, another on OpenSSL's default provider opens, and back.
        let keyFile = try writeKeyFile(["shared": Array(repeating: 7, count: 32)])
        defer { unlink(keyFile) }
        let keys = try KeyFile.load(file: keyFile, defaultName: nil)
        try await withServer({ $0.keyFile = keys }) { simulation in
            try await withServer({ $0.keyFile = keys; $0.engine.provider = "default" }) { software in
                for algorithm in ["aes-256-gcm", "chacha20-poly1305"] {
                    for (sealer, opener) in [(simulation, software), (software, simulation)] {
                        let sealed = try await sealer.postJSON("/encrypt", ["input": "portable", "algorithm": algorithm])
                        let ciphertext = try #require(sealed.json["output_hex"] as? String)
                        let opened = try await opener.postJSON("/decrypt", ["input_hex": ciphertext, "algorithm": algorithm])
                        #expect(opened.json["output_hex"] as? String == hexString(Array("portable".utf8)))
                    }
                }
            }
        }
    }

    @Test func theSoftwareProviderRefusesXORWithAClearMessage() async throws {
        try await withServer({ $0.engine.provider = "default" }) { server in
            let reply = try await server.post("/encrypt", "ASYNC-OK")
            #expect(reply.status == 400)
            #expect(reply.errorCode == "unsupported_algorithm")
            #expect(reply.errorMessage?.contains("offloadsim") == true)
            let batch = try await server.postJSON(
                "/encrypt", ["batch": [["input": "a", "algorithm": "xor-0xaa"], ["input": "b", "algorithm": "aes-256-gcm"]]])
            let results = try #require(batch.json["results"] as? [[String: Any]])
            #expect((results[0]["error"] as? [String: Any])?["code"] as? String == "unsupported_algorithm")
            #expect(results[1]["status"] as? String == "completed")
        }
    }

    @Test func noncesNeverRepeatOverTenThousandEncryptions() async throws {
        try await withServer({ $0.engine.device.latency = .zero }) { server in
            var nonces = Set<String>()
            for _ in 0..<10 {
                let batch = Array(repeating: ["input": "same plaintext", "algorithm": "aes-256-gcm"], count: 1000)
                let reply = try await server.postJSON("/encrypt", ["batch": batch])
                let results = try #require(reply.json["results"] as? [[String: Any]])
                for result in results {
                    let sealed = try #require(result["output_hex"] as? String)
                    nonces.insert(String(sealed.prefix(24)))
                }
            }
            #expect(nonces.count == 10_000)
        }
    }
}
