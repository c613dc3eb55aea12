import Foundation
import TestSupport
import Testing
@testable import Engine

func aead(_ operation: JobOperation, _ algorithm: Algorithm, _ input: [UInt8], key: CipherKey,
          aad: [UInt8] = []) -> JobRequest {
    JobRequest(operation: operation, algorithm: algorithm, input: input, key: key, aad: aad)
}

/// Open file descriptors of this process.
func openFileDescriptors() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

@Suite struct Providers {
    let key = try! CipherKey(name: "test", bytes: Array(0..<32))

    @Test(arguments: NotificationMode.allCases)
    func everyAlgorithmRunsThroughTheSimulatedAcceleratorAndPauses(notification: NotificationMode) async throws {
        try await withEngine(configuration(latency: .milliseconds(5), notification: notification)) { engine in
            #expect(engine.providerName == "offloadsim")
            #expect(engine.algorithms == Set(Algorithm.allCases))
            for algorithm in [Algorithm.aes256GCM, .chacha20Poly1305] {
                let sealed = await engine.run(aead(.encrypt, algorithm, Array("plain".utf8), key: key, aad: [1, 2]))
                #expect(sealed.status == .completed)
                #expect(sealed.provider == "offloadsim")
                #expect(sealed.pauses >= 1, "the provider paused the job inside update")
                #expect((sealed.deviceNanoseconds ?? 0) >= 5_000_000)
                #expect(sealed.deviceUnit != nil)
                let opened = await engine.run(aead(.decrypt, algorithm, try #require(sealed.output), key: key, aad: [1, 2]))
                #expect(opened.output == Array("plain".utf8))
            }
        }
    }

    @Test func theSoftwareProviderRunsTheAEADsWithoutPausingAndHasNoXOR() async throws {
        var settings = configuration(latency: .seconds(5))
        settings.provider = "default"
        try await withEngine(settings) { engine in
            #expect(engine.device == nil)
            #expect(Set(engine.algorithms.filter(\.isCipher)) == [.aes256GCM, .chacha20Poly1305])
            // MACs and signatures come from OpenSSL's default provider whatever the ciphers' provider.
            #expect(engine.algorithms.isSuperset(of: [.hmacSHA256, .ecdsaP256, .ed25519]))
            let sealed = await engine.run(aead(.encrypt, .aes256GCM, Array("plain".utf8), key: key))
            #expect(sealed.status == .completed)
            #expect(sealed.provider == "default")
            #expect(sealed.pauses == 0)
            #expect(sealed.deviceUnit == nil && sealed.deviceNanoseconds == nil)
            let opened = await engine.run(aead(.decrypt, .aes256GCM, try #require(sealed.output), key: key))
            #expect(opened.output == Array("plain".utf8))
            #expect(throws: EngineError.unsupportedAlgorithm(.xor0xAA, provider: "default")) {
                try engine.submit(JobRequest(input: [1])) { _ in }
            }
        }
    }

    @Test func theSimulationAndSoftwareCryptoAgreeOnEveryByte() async throws {
        var software = configuration(latency: .zero)
        software.provider = "default"
        let plaintext = Array("the same bytes either way".utf8)
        for algorithm in [Algorithm.aes256GCM, .chacha20Poly1305] {
            let sealed = try await withEngine(configuration(latency: .milliseconds(1))) { engine in
                try #require(await engine.run(aead(.encrypt, algorithm, plaintext, key: key, aad: [9])).output)
            }
            let opened = try await withEngine(software) { engine in
                await engine.run(aead(.decrypt, algorithm, sealed, key: key, aad: [9]))
            }
            #expect(opened.output == plaintext)
        }
    }

    @Test func aProviderThatCannotBeLoadedSaysWhatWasTried() {
        var settings = configuration(latency: .zero)
        settings.provider = "no-such-provider"
        do {
            _ = try Engine(configuration: settings)
            Issue.record("an engine started on a provider that does not exist")
        } catch let error as EngineError {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains("no-such-provider.so"))
            #expect(error.message.contains("OPENSSL_MODULES"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func tamperedTooShortAndWrongKeyCiphertextsFailClearly() async throws {
        try await withEngine(configuration(latency: .milliseconds(1))) { engine in
            let sealed = try #require(await engine.run(aead(.encrypt, .aes256GCM, [1, 2, 3], key: key)).output)
            var tampered = sealed
            tampered[13] ^= 1
            let failed = await engine.run(aead(.decrypt, .aes256GCM, tampered, key: key))
            #expect(failed.error?.code == .authenticationFailed)
            #expect(failed.output == nil)
            let other = try CipherKey(name: "other", bytes: Array(repeating: 3, count: 32))
            #expect(await engine.run(aead(.decrypt, .aes256GCM, sealed, key: other)).error?.code == .authenticationFailed)
            #expect(await engine.run(aead(.decrypt, .aes256GCM, [1, 2], key: key)).error?.code == .invalidCiphertext)
        }
    }
}

/// A directory holding `offloadsim.so` (a link to the package's liboffloadsim.so, which
/// `make test` builds first).
let moduleDirectory: String? = {
    let candidates = [".build/debug", ".build/release"].map {
        FileManager.default.currentDirectoryPath + "/" + $0 + "/liboffloadsim.so"
    }
    guard let library = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else { return nil }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ossl-modules-\(getpid())").path
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let link = directory + "/offloadsim.so"
    try? FileManager.default.removeItem(atPath: link)
    guard (try? FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: library)) != nil else {
        return nil
    }
    return directory
}()

/// What a reader thread read, handed to the test after the thread signalled.
final class ErrorsBox: @unchecked Sendable {
    var data = Data()
}
