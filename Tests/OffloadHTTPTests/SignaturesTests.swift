import Engine
import Foundation
import Glibc
@testable import OffloadHTTP
import Testing

/// `/sign` and `/verify` with ECDSA P-256 and Ed25519 keys; signatures checked by OpenSSL's own
/// command against the `public_key_pem` the service shows (a verifier nobody here wrote).
@Suite struct Signatures {
    @Test(arguments: ["ecdsa-p256", "ed25519"])
    func aSignatureVerifiesHereAndWithOpenSSL(type: String) async throws {
        try await KeyManagement.withKeyServer { server, _ in
            let created = try await KeyManagement.json(server, "POST", "/keys", ["name": "signer", "type": type])
            #expect(created.status == 201)
            let versions = try #require(created.json["versions"] as? [String: [String: Any]])
            let pem = try #require(versions["1"]?["public_key_pem"] as? String)
            #expect(pem.hasPrefix("-----BEGIN PUBLIC KEY-----"))
            #expect(!String(decoding: created.body, as: UTF8.self).contains("PRIVATE"))

            let message = "pay 10 to alice"
            let signed = try await server.postJSON("/sign", ["key": "signer", "input": message])
            #expect(signed.status == 200)
            #expect(signed.json["operation"] as? String == "sign")
            let signature = try #require(signed.json["signature"] as? String)
            #expect(signature.hasPrefix("offload:signer:v1:"))
            let bytes = try #require(Data(base64Encoded: String(signature.split(separator: ":")[3])))
            if type == "ed25519" { #expect(bytes.count == 64) }

            // OpenSSL's command verifies it with the public key, and refuses a changed message.
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("offload-sig-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let files = (pem: directory.appendingPathComponent("public.pem").path,
                         data: directory.appendingPathComponent("data").path,
                         other: directory.appendingPathComponent("other").path,
                         signature: directory.appendingPathComponent("signature").path)
            try pem.write(toFile: files.pem, atomically: true, encoding: .utf8)
            try Data(message.utf8).write(to: URL(fileURLWithPath: files.data))
            try Data("pay 99 to mallory".utf8).write(to: URL(fileURLWithPath: files.other))
            try bytes.write(to: URL(fileURLWithPath: files.signature))
            func openSSLVerifies(_ data: String) throws -> Bool {
                let arguments = type == "ed25519"
                    ? ["pkeyutl", "-verify", "-pubin", "-inkey", files.pem, "-rawin", "-in", data, "-sigfile", files.signature]
                    : ["dgst", "-sha256", "-verify", files.pem, "-signature", files.signature, data]
                return try run("/usr/bin/openssl", arguments).status == 0
            }
            #expect(try openSSLVerifies(files.data))
            #expect(try !openSSLVerifies(files.other))

            func verify(_ input: String, _ signature: String) async throws -> Bool? {
                try await server.postJSON("/verify", ["key": "signer", "input": input, "signature": signature]).json["valid"] as? Bool
            }
            #expect(try await verify(message, signature) == true)
            #expect(try await verify("pay 99 to mallory", signature) == false)
            #expect(try await verify(message, "offload:signer:v1:AAAA") == false)
            #expect(try await verify(message, "not even close") == false)

            // A rotation makes a new key pair; v1's signatures still verify.
            let rotated = try await KeyManagement.json(server, "POST", "/keys/signer/rotate")
            let pem2 = ((rotated.json["versions"] as? [String: [String: Any]])?["2"]?["public_key_pem"] as? String)
            #expect(pem2 != nil && pem2 != pem)
            #expect(try await verify(message, signature) == true)
            #expect((try await server.postJSON("/sign", ["key": "signer", "input": message]).json["signature"] as? String)?
                .hasPrefix("offload:signer:v2:") == true)

            // Wrong key types and fields.
            #expect(try await server.postJSON("/sign", ["key": "default", "input": "x"]).errorCode == "wrong_key_type")
            #expect(try await server.postJSON("/encrypt", ["key": "signer", "input": "x"]).errorCode == "wrong_key_type")
            #expect(try await server.postJSON("/verify", ["key": "signer", "input": "x", "hmac": signature]).errorCode
                == "invalid_field")
        }
    }
}
