import Engine
import Foundation
import Testing
@testable import OffloadHTTP

/// Writes a key file with the given mode and returns its path.
func writeKeyFile(_ keys: [String: [UInt8]], mode: mode_t = 0o600) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID()).json").path
    let object = keys.mapValues { Data($0).base64EncodedString() }
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    chmod(path, mode)
    return path
}

func hexBytes(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

func hexString(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

@Suite struct AsyncJobs {
    @Test func respondAsyncAnswers202ThenTheJobCanBePolledToCompletion() async throws {
        try await withServer({ $0.engine.device.latency = .milliseconds(200) }) { server in
            let accepted = try await server.request(
                "POST", "/encrypt", body: Data("ASYNC-OK".utf8), headers: ["Prefer": "respond-async"])
            #expect(accepted.status == 202)
            let id = try #require(accepted.json["id"] as? String)
            #expect(accepted.headers["location"] == "/jobs/\(id)")
            #expect(accepted.headers["preference-applied"] == "respond-async")
            #expect(["queued", "running"].contains(accepted.json["status"] as? String))
            #expect(accepted.json["output_hex"] == nil)
            var polled = try await server.get("/jobs/\(id)")
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(5)
            while polled.json["status"] as? String != "completed" && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                polled = try await server.get("/jobs/\(id)")
            }
            #expect(polled.json["status"] as? String == "completed")
            #expect(polled.json["output_hex"] as? String == "ebf9f3e4e987e5e1")
        }
    }
}

/// Every AEAD test runs on the simulated accelerator and on OpenSSL's software provider.
let aeadCases = [("aes-256-gcm", "offloadsim"), ("chacha20-poly1305", "offloadsim"),
                 ("aes-256-gcm", "default"), ("chacha20-poly1305", "default")]

/// The `paths` of the OpenAPI document: each path and its operations' methods. The document is
/// ours and written in block style, so the two indentation levels below `paths:` are enough.
struct OpenAPIPaths {
    var operations: [String: Set<String>] = [:]

    init(yaml: String) {
        var inPaths = false
        var current: String?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if !line.hasPrefix(" ") && !line.isEmpty { break }
            if let match = line.wholeMatch(of: #/  (/\S*):/#) {
                current = String(match.1)
                operations[String(match.1), default: []] = []
            } else if let match = line.wholeMatch(of: #/    (get|post|put|delete|patch|head|options):/#), let current {
                operations[current, default: []].insert(String(match.1))
            }
        }
    }
}
