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

/// Runs a command and returns its exit status and standard output.
func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let child = try ChildProcess(executable, arguments, stdout: .pipe)
    let data = child.output!.readDataToEndOfFile()
    return (child.wait(), String(decoding: data, as: UTF8.self))
}
