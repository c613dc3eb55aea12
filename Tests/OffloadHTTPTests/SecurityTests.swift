import Foundation
import TestSupport
import Testing
@testable import OffloadHTTP

@Suite struct BearerTokenAuth {
    static let token = "s3cr3t-token-0123456789abcdef"

    @Test func everyRouteButHealthAndReadinessNeedsTheToken() async throws {
        try await withServer({ $0.accessTokens = try! AccessTokens.single(Self.token) }) { server in
            for path in ["/jobs", "/keys", "/metrics", "/openapi.yaml", "/nowhere"] {
                let missing = try await server.get(path)
                #expect(missing.status == 401, "\(path)")
                #expect(missing.errorCode == "unauthorized")
                #expect(missing.headers["www-authenticate"] == #"Bearer realm="offload-http""#)
            }
            let posted = try await server.post("/encrypt", "ASYNC-OK")
            #expect(posted.status == 401)
            let wrong = try await server.request("GET", "/jobs", headers: ["Authorization": "Bearer not-the-token-at-all"])
            #expect(wrong.status == 401)
            #expect(wrong.headers["www-authenticate"] == #"Bearer realm="offload-http", error="invalid_token""#)
            let prefix = try await server.request("GET", "/jobs", headers: ["Authorization": "Bearer " + Self.token.dropLast()])
            #expect(prefix.status == 401, "a prefix of the token is not the token")
            let basic = try await server.request("GET", "/jobs", headers: ["Authorization": "Basic " + Self.token])
            #expect(basic.status == 401)
            for path in ["/healthz", "/readyz"] {
                let probe = try await server.get(path)
                #expect(probe.status == 200, "\(path)")
            }
            let authorized = try await server.request(
                "POST", "/encrypt", body: Data("ASYNC-OK".utf8), headers: ["Authorization": "Bearer " + Self.token])
            #expect(authorized.status == 200)
            #expect(authorized.json["output_hex"] as? String == "ebf9f3e4e987e5e1")
            #expect(server.server.engine.store.counts.completed == 1, "refused requests made no job")
            // Two Authorization headers, the right one first: which counts would depend on who
            // reads them, so neither does.
            let doubled = try rawExchange(port: server.port, Array((
                "POST /encrypt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(Self.token)\r\n"
                    + "Authorization: Bearer someone-else\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi").utf8))
            #expect(doubled.hasPrefix("HTTP/1.1 400"), "\(doubled.prefix(80))")
            #expect(doubled.contains("ambiguous_authorization"))
            #expect(server.server.engine.store.counts.completed == 1)
        }
    }

    @Test func tokensMustBeLongAndTokenFilesPrivate() throws {
        #expect(throws: ServerError.self) { try AuthToken("short") }
        #expect(throws: ServerError.self) { try AuthToken("has spaces in it, which headers mangle") }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID())").path
        defer { unlink(path) }
        try (Self.token + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        #expect(throws: ServerError.self) { try AccessTokens.load(file: path) }
        chmod(path, 0o600)
        #expect(try AccessTokens.load(file: path).principal(for: "Bearer " + Self.token) == Principal(name: "default", role: .admin))
    }

    @Test func tokenFilesNameTheirPrincipals() throws {
        let tokens = try AccessTokens.parse("""
            # who may call the service
            alice:alice-token-0123456789

            bob:bob-token-0123456789abc
            ops:ops-token-0123456789abc:admin
            prometheus:scrape-token-0123456789:metrics
            """, source: "tokens")
        #expect(tokens.principals == [
            Principal(name: "alice", role: .user), Principal(name: "bob", role: .user),
            Principal(name: "ops", role: .admin), Principal(name: "prometheus", role: .metrics),
        ])
        #expect(tokens.principal(for: "Bearer bob-token-0123456789abc")?.name == "bob")
        #expect(tokens.principal(for: "Bearer bob-token-0123456789ab") == nil)
        let refused: [(text: String, says: String)] = [
            ("alice:alice-token-0123456789\nalice:other-token-0123456789", "named twice"),
            ("alice:same-token-0123456789\nbob:same-token-0123456789", "same token"),
            ("alice:alice-token-0123456789:root", "Line 1"),
            ("alice:alice-token-0123456789:user", "Line 1"),
            ("alice:short", "Line 1"),
            ("a lice:alice-token-0123456789", "may hold only"),
            ("one-token-0123456789\ntwo-token-0123456789", "Line 1"),
            ("# nothing but a comment", "no token"),
        ]
        for (text, says) in refused {
            #expect(performing: { try AccessTokens.parse(text, source: "tokens") }, throws: { error in
                let description = (error as? ServerError)?.description ?? ""
                // The message names the problem, never a token.
                return description.contains(says) && !description.contains("0123456789")
            })
        }
    }
}

/// Jobs belong to the principal whose token created them: no one else sees them, but an admin.
@Suite struct Principals {
    static let tokens = try! AccessTokens.parse("""
        alice:alice-token-0123456789
        bob:bob-token-0123456789abc
        ops:ops-token-0123456789abc:admin
        """, source: "test")

    static func bearer(_ name: String) -> [String: String] {
        ["Authorization": "Bearer \(name)-token-0123456789" + (name == "alice" ? "" : "abc")]
    }

    @Test func aMetricsTokenReadsMetricsAndNothingElse() async throws {
        let tokens = try AccessTokens.parse("""
            alice:alice-token-0123456789
            prometheus:scrape-token-0123456789:metrics
            """, source: "test")
        try await withServer({ $0.accessTokens = tokens }) { server in
            let scraper = ["Authorization": "Bearer scrape-token-0123456789"]
            let metrics = try await server.request("GET", "/metrics", headers: scraper)
            #expect(metrics.status == 200)
            #expect(String(decoding: metrics.body, as: UTF8.self).contains("offload_jobs_in_flight"))
            for (method, path) in [("POST", "/encrypt"), ("GET", "/jobs"), ("GET", "/keys"), ("GET", "/stats")] {
                let refused = try await server.request(method, path, body: method == "POST" ? Data("x".utf8) : nil, headers: scraper)
                #expect(refused.status == 403, "\(method) \(path)")
                #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "forbidden")
            }
            #expect(server.server.engine.store.counts.completed == 0)
            #expect(try await server.request("GET", "/metrics").status == 401)
        }
    }

    @Test func eachPrincipalSeesItsOwnJobsAndAnAdminSeesAll() async throws {
        try await withServer({ $0.accessTokens = Self.tokens }) { server in
            let bearer = Self.bearer
            let alices = try await server.request(
                "POST", "/encrypt", body: Data("ASYNC-OK".utf8), headers: bearer("alice"))
            #expect(alices.status == 200)
            #expect(alices.json["owner"] as? String == "alice")
            let bobsAsync = try await server.request(
                "POST", "/encrypt", body: Data("ASYNC-OK".utf8),
                headers: bearer("bob").merging(["Prefer": "respond-async"]) { $1 })
            #expect(bobsAsync.status == 202)
            let bobsBatch = try await server.request(
                "POST", "/encrypt", body: Data(#"{"batch":[{"input":"a"},{"input":"b"}]}"#.utf8),
                headers: bearer("bob").merging(["Content-Type": "application/json"]) { $1 })
            #expect(bobsBatch.status == 200)
            let alice = try #require(alices.json["id"] as? String)
            let bob = try #require(bobsAsync.json["id"] as? String)

            #expect(try await server.request("GET", "/jobs/\(alice)", headers: bearer("alice")).status == 200)
            let hidden = try await server.request("GET", "/jobs/\(alice)", headers: bearer("bob"))
            #expect(hidden.status == 404, "bob must not see alice's job")
            #expect(hidden.errorCode == "job_not_found")
            #expect(try await server.request("GET", "/jobs/\(alice)", headers: bearer("ops")).status == 200)
            // Bob's async job finishes on the engine; the store says when.
            let bobsID = try #require(UUID(uuidString: bob))
            #expect(try await eventually { server.server.engine.store.job(bobsID)?.status == .completed })
            #expect(try await server.request("GET", "/jobs/\(bob)", headers: bearer("bob")).status == 200)
            #expect(try await server.request("GET", "/jobs/\(bob)", headers: bearer("alice")).status == 404)

            func listed(_ name: String) async throws -> (ids: Set<String>, completed: Int?) {
                let list = try await server.request("GET", "/jobs", headers: bearer(name))
                let jobs = try #require(list.json["jobs"] as? [[String: Any]])
                let counts = list.json["counts"] as? [String: Int]
                #expect(jobs.allSatisfy { name == "ops" || $0["owner"] as? String == name })
                return (Set(jobs.compactMap { $0["id"] as? String }), counts?["completed"])
            }
            let (aliceSees, aliceCount) = try await listed("alice")
            #expect(aliceSees == [alice] && aliceCount == 1)
            let (bobSees, bobCount) = try await listed("bob")
            #expect(bobSees.count == 3 && bobSees.contains(bob) && !bobSees.contains(alice) && bobCount == 3)
            let (opsSees, opsCount) = try await listed("ops")
            #expect(opsSees == aliceSees.union(bobSees) && opsCount == 4)
        }
    }
}

/// Runs a command and returns its exit status and standard output.
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let child = try ChildProcess(executable, arguments, stdout: .pipe)
    let data = child.output!.readDataToEndOfFile()
    return (child.wait(), String(decoding: data, as: UTF8.self))
}

@Suite struct HTTPS {
    @Test func theServiceSpeaksHTTPSWithTheGivenCertificate() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (certificate, key) = ("\(folder)/cert.pem", "\(folder)/key.pem")
        let made = try run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        #expect(made.status == 0)
        chmod(key, 0o600)
        let credentials = try TLSCredentials.load(certificate: certificate, key: key)
        try await withServer({ $0.tls = credentials }) { server in
            let port = String(server.port)
            let secure = try run("/usr/bin/curl", [
                "-s", "--cacert", certificate, "-d", "ASYNC-OK", "https://127.0.0.1:\(port)/encrypt",
            ])
            #expect(secure.status == 0)
            #expect(secure.output.contains(#""output_hex":"ebf9f3e4e987e5e1""#))
            let untrusted = try run("/usr/bin/curl", ["-s", "-o", "/dev/null", "https://127.0.0.1:\(port)/healthz"])
            #expect(untrusted.status != 0, "a client that does not trust the certificate refuses it")
            let plain = try run("/usr/bin/curl", ["-s", "-m", "5", "http://127.0.0.1:\(port)/healthz"])
            #expect(!plain.output.contains("\"ok\""), "plain HTTP gets no answer")
        }
    }

    @Test func aKeyFileOthersCanReadIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("key-\(UUID()).pem").path
        defer { unlink(path) }
        try "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        #expect(throws: ServerError.self) { try TLSCredentials.load(certificate: path, key: path) }
    }
}

@Suite struct ConnectionLimits {
    @Test func connectionsBeyondThePerIPLimitAreClosedAtOnce() async throws {
        try await withServer({ $0.perIPConnectionLimit = 2 }) { server in
            let held = try (0..<2).map { _ in try RawConnection(port: server.port) }
            // Let the daemon accept the two before the third arrives.
            try await Task.sleep(for: .milliseconds(100))
            let clock = ContinuousClock()
            let start = clock.now
            let refused = try rawExchange(
                port: server.port, Array("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            #expect(refused.isEmpty, "the third connection got: \(refused.prefix(40))")
            #expect(clock.now - start < .seconds(2), "it was closed, not left waiting")
            _ = held.count
        }
    }

    /// The limits count every loop's connections together, as one daemon's would not.
    @Test func theLimitsCountConnectionsOverAllLoopsAndFreeTheirPlaceOnClose() {
        let admission = ConnectionAdmission(limit: 3, perAddressLimit: 2)
        let alice: [UInt8] = [127, 0, 0, 1], bob: [UInt8] = [127, 0, 0, 2]
        #expect(admission.admit(1, from: alice) && admission.admit(2, from: alice))
        #expect(!admission.admit(3, from: alice), "a third from one address")
        #expect(admission.admit(4, from: bob))
        #expect(!admission.admit(5, from: bob), "a fourth in all")
        admission.closed(3)  // refused ones were never counted
        #expect(!admission.admit(6, from: bob))
        admission.closed(1)
        #expect(admission.admit(7, from: alice), "a closed connection frees its place")
        let unlimited = ConnectionAdmission(limit: 2, perAddressLimit: 0)
        #expect(unlimited.admit(1, from: alice) && unlimited.admit(2, from: alice) && !unlimited.admit(3, from: bob))
    }
}
