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

@Suite struct Batches {
    @Test func resultsComeInInputOrderWithFailuresInPlace() async throws {
        try await withServer { server in
            let items: [[String: Any]] = [
                ["input": "first"], ["input_hex": "not hex"], ["input": "third", "algorithm": "aes-256-gcm"],
                ["input": ""], ["input_base64": "Zm91cnRo"],
            ]
            let reply = try await server.postJSON("/encrypt", ["batch": items])
            #expect(reply.status == 200)
            let results = try #require(reply.json["results"] as? [[String: Any]])
            #expect(results.count == 5)
            #expect(results[0]["output_hex"] as? String == hexString(Array("first".utf8).map { $0 ^ 0xaa }))
            #expect((results[1]["error"] as? [String: Any])?["code"] as? String == "invalid_hex")
            #expect(results[1]["id"] == nil, "an invalid item never ran")
            #expect(results[2]["algorithm"] as? String == "aes-256-gcm")
            #expect(results[2]["output_bytes"] as? Int == 5 + 28)
            #expect((results[3]["error"] as? [String: Any])?["code"] as? String == "empty_input")
            #expect(results[4]["output_hex"] as? String == hexString(Array("fourth".utf8).map { $0 ^ 0xaa }))
            #expect(server.server.engine.store.counts.completed == 3)
        }
    }

    @Test(arguments: [
        (#"{"batch": []}"#, "invalid_batch"),
        (#"{"batch": {"input": "a"}}"#, "invalid_batch"),
        (#"{"batch": [{"input": "a"}], "input": "b"}"#, "invalid_batch"),
    ])
    func badBatchesAreRefused(body: String, code: String) async throws {
        try await withServer { server in
            let reply = try await server.post("/encrypt", body, contentType: "application/json")
            #expect(reply.status == 400)
            #expect(reply.errorCode == code)
        }
    }

    @Test func aBatchOfMoreThanAThousandItemsIsRefused() async throws {
        try await withServer { server in
            let reply = try await server.postJSON("/encrypt", ["batch": Array(repeating: ["input": "a"], count: 1001)])
            #expect(reply.status == 400)
            #expect(reply.errorCode == "batch_too_large")
        }
    }

    @Test func aBatchWithNoValidItemAnswersAtOnce() async throws {
        try await withServer { server in
            let reply = try await server.postJSON("/encrypt", ["batch": [["input": ""], ["nope": 1]]])
            #expect(reply.status == 200)
            let results = try #require(reply.json["results"] as? [[String: Any]])
            #expect(results.compactMap { ($0["error"] as? [String: Any])?["code"] as? String }
                == ["empty_input", "unknown_field"])
        }
    }

    @Test func aBatchWhoseItemsWereAllRefusedForLoadIs503WithRetryAfter() async throws {
        try await withServer({
            $0.engine.threads = 1
            $0.engine.maxJobsPerThread = 1
            $0.engine.maxQueuedJobsPerThread = 0
            $0.engine.device.latency = .milliseconds(500)
        }) { server in
            let holder = Task { try await server.post("/encrypt", "holds the only slot") }
            #expect(try await eventually { server.server.engine.jobsInFlight == 1 }, "the first job holds the only slot")
            let refused = try await server.postJSON("/encrypt", ["batch": [["input": "a"], ["input": "b"]]])
            #expect(refused.status == 503)
            #expect(refused.headers["retry-after"] == "1")
            #expect(refused.errorCode == "overloaded")
            #expect(try await holder.value.status == 200)
        }
    }
}

/// Every AEAD test runs on the simulated accelerator and on OpenSSL's software provider.
let aeadCases = [("aes-256-gcm", "offloadsim"), ("chacha20-poly1305", "offloadsim"),
                 ("aes-256-gcm", "default"), ("chacha20-poly1305", "default")]

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

@Suite struct Keys {
    @Test func theKeyListShowsNamesAndAlgorithmsButNeverKeyBytes() async throws {
        let secret: [UInt8] = Array(0..<32)
        let keyFile = try writeKeyFile(["main": secret, "backup": Array(repeating: 9, count: 32)])
        defer { unlink(keyFile) }
        let keys = try KeyFile.load(file: keyFile, defaultName: "main")
        try await withServer({ $0.keyFile = keys }) { server in
            let reply = try await server.get("/keys")
            #expect(reply.status == 200)
            let listed = try #require(reply.json["keys"] as? [[String: Any]])
            #expect(listed.compactMap { $0["name"] as? String } == ["backup", "main"])
            #expect(listed.first { $0["name"] as? String == "main" }?["default"] as? Bool == true)
            #expect(reply.json["ephemeral"] as? Bool == false)
            let body = String(decoding: reply.body, as: UTF8.self)
            #expect(!body.contains(Data(secret).base64EncodedString()))
            #expect(!body.contains(hexString(secret)))
        }
    }

    @Test func aKeyFileReadableByOthersIsRefused() throws {
        let keyFile = try writeKeyFile(["main": Array(repeating: 1, count: 32)], mode: 0o644)
        defer { unlink(keyFile) }
        #expect(throws: ServerError.self) { try KeyFile.load(file: keyFile, defaultName: nil) }
    }

    @Test func groupReadIsAllowedOnlyWhenRootOwnsTheKeyFile() throws {
        let keyFile = try writeKeyFile(["main": Array(repeating: 1, count: 32)], mode: 0o640)
        defer { unlink(keyFile) }
        guard getuid() == 0 else { return }  // only root can hand the file to another owner
        #expect(try KeyFile.load(file: keyFile, defaultName: nil).defaultName == "main")
        chown(keyFile, 4242, 4242)
        #expect(throws: ServerError.self) { try KeyFile.load(file: keyFile, defaultName: nil) }
    }

    @Test func badKeyFilesAreRefusedWithoutShowingTheKey() throws {
        let short = try writeKeyFile(["main": Array(repeating: 7, count: 16)])
        defer { unlink(short) }
        do {
            _ = try KeyFile.load(file: short, defaultName: nil)
            Issue.record("a 128-bit key was accepted")
        } catch {
            #expect("\(error)".contains("main"))
            #expect(!"\(error)".contains(Data(Array(repeating: 7, count: 16)).base64EncodedString()))
        }
        let several = try writeKeyFile(["a": Array(repeating: 1, count: 32), "b": Array(repeating: 2, count: 32)])
        defer { unlink(several) }
        #expect(throws: ServerError.self) { try KeyFile.load(file: several, defaultName: nil) }
        #expect(throws: ServerError.self) { try KeyFile.load(file: several, defaultName: "c") }
        #expect(try KeyFile.load(file: several, defaultName: "b").defaultName == "b")
        // The same name twice: JSON parsers keep one of the two, each its own choice.
        let twice = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID()).json").path
        defer { unlink(twice) }
        let first = Data(Array(repeating: 1, count: 32)).base64EncodedString()
        let second = Data(Array(repeating: 2, count: 32)).base64EncodedString()
        try #"{"main": "\#(first)", "m\u0061in": "\#(second)"}"#.write(toFile: twice, atomically: true, encoding: .utf8)
        chmod(twice, 0o600)
        #expect(performing: { try KeyFile.load(file: twice, defaultName: nil) }, throws: { error in
            "\(error)".contains("'main' is named twice") && !"\(error)".contains(first) && !"\(error)".contains(second)
        })
    }
}

@Suite struct Operations {
    @Test func healthAndReadinessAnswer() async throws {
        try await withServer { server in
            let health = try await server.get("/healthz")
            #expect(health.status == 200)
            #expect(health.json["status"] as? String == "ok")
            let ready = try await server.get("/readyz")
            #expect(ready.status == 200)
        }
    }

    @Test func everyAnswerNamesTheReplicaWhenOneIsConfigured() async throws {
        try await withServer({ $0.replica = "offload-http-7d9f" }) { server in
            let job = try await server.post("/encrypt", "ASYNC-OK")
            #expect(job.headers["offload-replica"] == "offload-http-7d9f")
            let missing = try await server.get("/nowhere")
            #expect(missing.headers["offload-replica"] == "offload-http-7d9f")
        }
        try await withServer { server in
            let plain = try await server.get("/healthz")
            #expect(plain.headers["offload-replica"] == nil)
        }
    }

    @Test func readinessIs503WhileEveryJobSlotIsTaken() async throws {
        try await withServer({
            $0.engine.threads = 1
            $0.engine.maxJobsPerThread = 1
            $0.engine.device.latency = .seconds(3)  // a wide window, even on a loaded machine
        }) { server in
            let busy = Task { try await server.post("/encrypt", "hold the slot") }
            #expect(try await eventually { server.server.engine.jobsInFlight == 1 })
            let saturated = try await server.get("/readyz")
            #expect(saturated.status == 503)
            #expect(saturated.errorCode == "saturated")
            #expect(saturated.headers["retry-after"] == "1")
            #expect(try await busy.value.status == 200)
            let ready = try await server.get("/readyz")
            #expect(ready.status == 200)
        }
    }

    @Test func metricsChangeAsJobsRun() async throws {
        try await withServer { server in
            func scrape() async throws -> String {
                let reply = try await server.get("/metrics")
                #expect(reply.status == 200)
                #expect(reply.headers["content-type"]?.hasPrefix("text/plain") == true)
                return String(decoding: reply.body, as: UTF8.self)
            }
            func value(_ series: String, in text: String) -> Double {
                text.split(separator: "\n").first { $0.hasPrefix(series + " ") }
                    .flatMap { Double($0.split(separator: " ").last!) } ?? 0
            }
            let completed =
                #"offload_jobs_total{provider="offloadsim",algorithm="xor-0xaa",operation="encrypt",status="completed",error="none"}"#
            let before = try await scrape()
            for _ in 0..<3 { _ = try await server.post("/encrypt", "count me") }
            _ = try await server.post("/encrypt", "")
            let after = try await scrape()
            #expect(value(completed, in: after) - value(completed, in: before) == 3)
            #expect(value(#"offload_http_requests_total{route="/encrypt",method="POST",status="400"}"#, in: after) == 1)
            #expect(value(#"offload_job_duration_seconds_count{algorithm="xor-0xaa"}"#, in: after) == 3)
            #expect(after.contains("offload_jobs_in_flight 0"))
            #expect(after.contains("offload_device_queue_depth"))
            #expect(after.contains(#"offload_device_unit_transfer_seconds_total{unit="0"}"#))
            // Four requests to /encrypt answered between the scrapes, each in the duration histogram.
            let durations = #"offload_http_request_duration_seconds_count{route="/encrypt"}"#
            #expect(value(durations, in: after) - value(durations, in: before) == 4)
            // Every metric family says what it is: a # HELP line beside each # TYPE line.
            let lines = after.split(separator: "\n")
            let typed = Set(lines.filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] })
            let helped = Set(lines.filter { $0.hasPrefix("# HELP ") }.map { $0.split(separator: " ")[2] })
            #expect(typed.count >= 15)
            #expect(typed == helped, "without # HELP: \(typed.subtracting(helped).sorted())")
        }
    }

    @Test func theOpenAPIDocumentIsServedAsEmbedded() async throws {
        try await withServer { server in
            let reply = try await server.get("/openapi.yaml")
            #expect(reply.status == 200)
            #expect(Array(reply.body) == OpenAPIDocument.bytes)
            #expect(String(decoding: reply.body, as: UTF8.self).hasPrefix("openapi: 3.1.0"))
        }
    }

    /// In process: the embedded document against the router's table.
    @Test func theOpenAPIDocumentNamesEveryRouteWithItsMethods() throws {
        let paths = OpenAPIPaths(yaml: String(decoding: OpenAPIDocument.bytes, as: UTF8.self))
        for route in Router.Route.all {
            let methods = try #require(paths.operations[route.template], "\(route.template) is not in the document")
            // HEAD is served wherever GET is and OPTIONS everywhere; the document says so once.
            #expect(methods == Set(route.methods.filter { $0 != "HEAD" && $0 != "OPTIONS" }.map { $0.lowercased() }),
                    "\(route.template)")
        }
        #expect(paths.operations.count == Router.Route.all.count, "the document has no route the server lacks")
    }

    @Test func theDocumentsInfoVersionIsTheServicesVersion() {
        #expect(ServiceVersion.current.wholeMatch(of: #/\d+\.\d+\.\d+/#) != nil)
        #expect(String(decoding: OpenAPIDocument.bytes, as: UTF8.self).contains("\n  version: \(ServiceVersion.current)\n"))
    }
}

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
