import Foundation
import TestSupport
import Testing
@testable import OffloadHTTP

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
