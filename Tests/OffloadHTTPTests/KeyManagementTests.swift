import Engine
import Foundation
import Glibc
@testable import OffloadHTTP
import Testing

/// Keys as a key-management service keeps them: created, rotated, restricted and deleted
/// through the API, ciphertexts that say which key and version made them, plaintext never kept.
@Suite struct KeyManagement {
    /// A server on an SQLite store of its own (the durable path), or in memory.
    static func withKeyServer<T>(
        durable: Bool = true, _ configure: @escaping (inout ServerConfiguration) -> Void = { _ in },
        _ body: (TestServer, String) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("offload-keys-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("jobs.sqlite3").path
        return try await withServer({
            if durable { $0.store = .sqlite(path: path) }
            configure(&$0)
        }) { server in try await body(server, path) }
    }

    static func json(_ server: TestServer, _ method: String, _ path: String, _ object: [String: Any]? = nil) async throws -> Reply {
        try await server.request(
            method, path, body: try object.map { try JSONSerialization.data(withJSONObject: $0) },
            headers: object == nil ? [:] : ["Content-Type": "application/json"])
    }

    @Test(arguments: [true, false])
    func aRoundTripAcrossARotation(durable: Bool) async throws {
        try await Self.withKeyServer(durable: durable) { server, _ in
            let created = try await Self.json(server, "POST", "/keys", ["name": "orders", "type": "aes-256-gcm"])
            #expect(created.status == 201)
            #expect(created.headers["location"] == "/keys/orders")
            #expect(created.json["latest_version"] as? Int == 1)

            let first = try await server.postJSON("/encrypt", ["input": "hello", "key": "orders"])
            #expect(first.status == 200)
            #expect(first.json["algorithm"] as? String == "aes-256-gcm")
            #expect(first.json["key_version"] as? Int == 1)
            let v1 = try #require(first.json["ciphertext"] as? String)
            #expect(v1.hasPrefix("offload:orders:v1:"))

            let rotated = try await Self.json(server, "POST", "/keys/orders/rotate")
            #expect(rotated.status == 200)
            #expect(rotated.json["latest_version"] as? Int == 2)
            let second = try await server.postJSON("/encrypt", ["input": "hello", "key": "orders"])
            let v2 = try #require(second.json["ciphertext"] as? String)
            #expect(v2.hasPrefix("offload:orders:v2:"))

            for ciphertext in [v1, v2] {
                let opened = try await server.postJSON("/decrypt", ["ciphertext": ciphertext])
                #expect(opened.status == 200)
                #expect(opened.json["output_hex"] as? String == hexString(Array("hello".utf8)))
            }
            let raised = try await Self.json(server, "PATCH", "/keys/orders", ["min_decryption_version": 2])
            #expect(raised.json["min_decryption_version"] as? Int == 2)
            let refused = try await server.postJSON("/decrypt", ["ciphertext": v1])
            #expect(refused.status == 400)
            #expect(refused.errorCode == "key_version_disabled")
            #expect(try await server.postJSON("/decrypt", ["ciphertext": v2]).status == 200)

            let shown = try await server.get("/keys/orders")
            #expect((shown.json["versions"] as? [String: Any])?.keys.sorted() == ["1", "2"])
        }
    }

    @Test func badKeysAndCiphertextsGetTheirOwnCodes() async throws {
        try await Self.withKeyServer { server, _ in
            _ = try await Self.json(server, "POST", "/keys", ["name": "orders"])
            let good = try #require(try await server.postJSON("/encrypt", ["input": "x", "key": "orders"]).json["ciphertext"] as? String)
            let data = good.split(separator: ":")[3]
            let cases: [(String, String)] = [
                ("orders:v1:\(data)", "malformed_ciphertext"),
                ("offload:orders:1:\(data)", "malformed_ciphertext"),
                ("offload:orders:v01:\(data)", "malformed_ciphertext"),
                ("offload:nope:v1:\(data)", "unknown_key"),
                ("offload:orders:v9:\(data)", "unknown_key_version"),
                ("offload:orders:v1:!!!!", "invalid_base64"),
                ("offload:orders:v1:AAAA", "invalid_ciphertext"),
            ]
            for (ciphertext, code) in cases {
                let reply = try await server.postJSON("/decrypt", ["ciphertext": ciphertext])
                #expect(reply.status == 400, "\(ciphertext)")
                #expect(reply.errorCode == code, "\(ciphertext): \(reply.errorMessage ?? "")")
                #expect(!(reply.errorMessage ?? "").isEmpty)
            }
            let mixed = try await server.postJSON("/decrypt", ["ciphertext": good, "key": "orders"])
            #expect(mixed.errorCode == "ambiguous_input")

            #expect(try await Self.json(server, "POST", "/keys", ["name": "orders"]).status == 409)
            #expect(try await Self.json(server, "POST", "/keys", ["name": "Bad:Name"]).errorCode == "invalid_key_name")
            #expect(try await Self.json(server, "POST", "/keys", ["name": "plain", "type": "xor-0xaa"]).errorCode
                == "unsupported_key_type")
            #expect(try await Self.json(server, "POST", "/keys/nope/rotate").status == 404)
            #expect(try await Self.json(server, "PATCH", "/keys/orders", ["min_decryption_version": 5]).errorCode == "invalid_field")
            #expect(try await Self.json(server, "PATCH", "/keys/orders", ["deletion_allowed": 1]).errorCode == "invalid_field")

            let kept = try await Self.json(server, "DELETE", "/keys/orders")
            #expect(kept.status == 409)
            #expect(kept.errorCode == "key_deletion_not_allowed")
            #expect(try await Self.json(server, "PATCH", "/keys/orders", ["deletion_allowed": true]).status == 200)
            #expect(try await Self.json(server, "DELETE", "/keys/orders").status == 204)
            #expect(try await server.get("/keys/orders").errorCode == "key_not_found")
            #expect(try await server.postJSON("/decrypt", ["ciphertext": good]).errorCode == "unknown_key")
        }
    }

    @Test func twentyConcurrentRotationsGetConsecutiveVersions() async throws {
        try await Self.withKeyServer { server, _ in
            _ = try await Self.json(server, "POST", "/keys", ["name": "busy"])
            let versions = try await withThrowingTaskGroup(of: Int?.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await Self.json(server, "POST", "/keys/busy/rotate").json["latest_version"] as? Int }
                }
                var versions: [Int] = []
                for try await version in group { if let version { versions.append(version) } }
                return versions
            }
            #expect(versions.sorted() == Array(2...21))
            let key = try await server.get("/keys/busy")
            #expect(key.json["latest_version"] as? Int == 21)
            #expect((key.json["versions"] as? [String: Any])?.count == 21)
        }
    }

    @Test func plaintextIsNeverKept() async throws {
        let secret = "the plaintext nobody keeps"
        try await Self.withKeyServer { server, path in
            let sealed = try #require(try await server.postJSON("/encrypt", ["input": secret, "key": "default"]).json["ciphertext"] as? String)
            let opened = try await server.postJSON("/decrypt", ["ciphertext": sealed])
            #expect(opened.json["output_hex"] as? String == hexString(Array(secret.utf8)))
            let id = try #require(opened.json["id"] as? String)
            let record = try await server.get("/jobs/\(id)")
            #expect(record.json["output_hex"] == nil)
            #expect(record.json["output_retained"] as? Bool == false)

            // Async: the first fetch takes it, the next finds none.
            let accepted = try await server.request(
                "POST", "/decrypt", body: try JSONSerialization.data(withJSONObject: ["ciphertext": sealed]),
                headers: ["Content-Type": "application/json", "Prefer": "respond-async"])
            let asyncID = try #require(accepted.json["id"] as? String)
            var first: Reply?
            for _ in 0..<500 {
                let reply = try await server.get("/jobs/\(asyncID)")
                if reply.json["status"] as? String == "completed" { first = reply; break }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(first?.json["output_hex"] as? String == hexString(Array(secret.utf8)))
            let second = try await server.get("/jobs/\(asyncID)")
            #expect(second.json["output_hex"] == nil)
            #expect(second.json["output_retained"] as? Bool == false)

            // Nor in any listed job, nor in the store's file.
            let list = String(decoding: try await server.get("/jobs?limit=1000").body, as: UTF8.self)
            #expect(!list.contains(hexString(Array(secret.utf8))))
            server.server.store?.close()
            for file in [path, path + "-wal"] {
                let bytes = (try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data()
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(file) holds the plaintext")
            }
        }
    }

    @Test func keyMaterialIsSealedAtRestAndAWrongMasterKeyStopsTheStart() async throws {
        let material: [UInt8] = Array(repeating: 0x5A, count: 16) + Array(repeating: 0xA5, count: 16)
        let keyFile = try writeKeyFile(["imported": material])
        defer { unlink(keyFile) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("offload-keys-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("jobs.sqlite3").path
        let keys = try KeyFile.load(file: keyFile, defaultName: nil)
        let ciphertext = try await withServer({ $0.store = .sqlite(path: path); $0.keyFile = keys }) { server in
            let key = try await server.get("/keys/imported")
            #expect(key.json["latest_version"] as? Int == 1)
            return try #require(try await server.postJSON("/encrypt", ["input": "kept", "key": "imported"]).json["ciphertext"] as? String)
        }
        for file in [path, path + "-wal"] {
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data()
            #expect(bytes.range(of: Data(material)) == nil, "\(file) holds the key material in clear")
        }
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("master.key").path))
        // The same store and master key after a restart: the ciphertext still opens.
        try await withServer({ $0.store = .sqlite(path: path) }) { server in
            let opened = try await server.postJSON("/decrypt", ["ciphertext": ciphertext])
            #expect(opened.json["output_hex"] as? String == hexString(Array("kept".utf8)))
        }
        var configuration = ServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.store = .sqlite(path: path)
        configuration.masterKey = try KeyWrap(masterKey: Array(repeating: 1, count: 32))
        #expect(performing: { try OffloadServer.start(configuration, logger: .init(label: "test")) }, throws: { error in
            "\(error)".contains("master key does not open")
        })
    }

    @Test func withTokensOnlyAnAdminChangesKeys() async throws {
        try await withServer({ $0.accessTokens = Principals.tokens }) { server in
            let bearer = Principals.bearer
            let refused = try await server.request(
                "POST", "/keys", body: Data(#"{"name":"team"}"#.utf8),
                headers: bearer("alice").merging(["Content-Type": "application/json"]) { $1 })
            #expect(refused.status == 403)
            #expect(refused.errorCode == "forbidden")
            let made = try await server.request(
                "POST", "/keys", body: Data(#"{"name":"team"}"#.utf8),
                headers: bearer("ops").merging(["Content-Type": "application/json"]) { $1 })
            #expect(made.status == 201)
            // Everyone may use it.
            let used = try await server.request(
                "POST", "/encrypt", body: Data(#"{"input":"x","key":"team"}"#.utf8),
                headers: bearer("alice").merging(["Content-Type": "application/json"]) { $1 })
            #expect(used.status == 200)
        }
    }
}
