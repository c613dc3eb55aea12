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

@Suite struct Timeouts {
    @Test(arguments: NotificationMode.allCases)
    func jobsThatOutliveTheirTimeoutEndAs504AndTheLateCompletionsAreIgnored(notification: NotificationMode) async throws {
        var settings = configuration(latency: .milliseconds(300), threads: 1, notification: notification)
        settings.jobTimeout = .milliseconds(100)
        try await withEngine(settings) { engine in
            let clock = ContinuousClock()
            let start = clock.now
            let records = await engine.runAll((0..<20).map { _ in JobRequest(input: [5]) })
            #expect(clock.now - start < .milliseconds(290), "answered at the timeout, not the device's latency")
            #expect(records.allSatisfy { $0.error?.code == .jobTimeout && $0.output == nil })
            #expect(engine.jobsInFlight == 0)
            // The device completes every one of them later; nothing may notice.
            try await Task.sleep(for: .milliseconds(400))
            #expect(engine.device?.operationsOnDevice == 0)
            let next = await engine.run(JobRequest(input: [6]))
            #expect(next.error?.code == .jobTimeout, "the same engine still times out at 100 ms")
        }
    }

    @Test(arguments: NotificationMode.allCases)
    func clientsThatLeaveAndJobsThatTimeOutLeaveNoFileDescriptorsBehind(notification: NotificationMode) async throws {
        let baseline = openFileDescriptors()
        var settings = configuration(latency: .milliseconds(20), threads: 2, notification: notification)
        settings.device.stallRate = 0.3
        settings.device.seed = 11
        settings.jobTimeout = .milliseconds(150)
        try await withEngine(settings) { engine in
            let records = await engine.runAll((0..<600).map { JobRequest(input: [UInt8(truncatingIfNeeded: $0)]) })
            #expect(records.allSatisfy { $0.status == .completed || $0.error?.code == .jobTimeout })
            #expect(records.contains { $0.error?.code == .jobTimeout })
            #expect(engine.jobsInFlight == 0)
        }
        #expect(openFileDescriptors() == baseline, "every eventfd, epoll and timer fd was closed")
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

/// The loadable module, driven by OpenSSL's own command-line tool in a separate process.
@Suite struct LoadableModule {
    static func openssl(_ arguments: [String], input: [UInt8] = [], environment: [String: String] = [:]) throws
        -> (status: Int32, output: [UInt8], errors: String) {
        var variables = ProcessInfo.processInfo.environment
        variables["OPENSSL_MODULES"] = try #require(moduleDirectory, "build it: swift build --product offloadsim")
        variables["OPENSSL_CONF"] = FileManager.default.currentDirectoryPath + "/bench/offloadsim.cnf"
        for (name, value) in environment { variables[name] = value }
        // ChildProcess spawns with nothing blocked: the test runner blocks SIGALRM, and
        // `openssl speed -seconds` would never stop.
        let child = try ChildProcess(
            "/usr/bin/openssl", arguments, environment: variables, stdin: .pipe, stdout: .pipe, stderr: .pipe)
        child.input!.write(Data(input))
        try child.input!.close()
        // Both streams at once: a child blocked on a full stderr pipe would never end stdout.
        let errorsRead = DispatchSemaphore(value: 0)
        let errorsBox = ErrorsBox()
        Thread {
            errorsBox.data = child.errors!.readDataToEndOfFile()
            errorsRead.signal()
        }.start()
        let output = child.output!.readDataToEndOfFile()
        errorsRead.wait()
        return (child.wait(), Array(output), String(decoding: errorsBox.data, as: UTF8.self))
    }

    @Test func opensslEncThroughTheModuleGivesTheBuiltInProvidersOutput() async throws {
        let input = Array("ASYNC-OK and a few more bytes".utf8)
        let builtIn = try await withEngine(configuration(latency: .milliseconds(1))) { engine in
            await engine.run(JobRequest(input: input)).output
        }
        let run = try Self.openssl(
            ["enc", "-e", "-XOR-0XAA", "-nosalt", "-K", ""], input: input,
            environment: ["OFFLOAD_DEVICE_LATENCY": "1ms"])
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output == builtIn)
        #expect(hex(Array(run.output.prefix(8))) == "ebf9f3e4e987e5e1")
    }

    @Test func opensslSpeedDrivesTheModuleWithAsyncJobs() throws {
        let run = try Self.openssl(
            ["speed", "-elapsed", "-async_jobs", "16", "-evp", "aes-256-gcm", "-seconds", "1", "-bytes", "256"],
            environment: ["OFFLOAD_DEVICE_LATENCY": "1ms"])
        #expect(run.status == 0, "\(run.errors)")
        let text = String(decoding: run.output, as: UTF8.self) + run.errors
        // "Doing AES-256-GCM for 1s on 256 size blocks: 14210 AES-256-GCM's in 1.00s"
        let count = text.split(separator: "\n").first { $0.hasPrefix("Doing AES-256-GCM") }
            .flatMap { $0.split(separator: ":").last?.split(separator: " ").first }.flatMap { Int($0) }
        // One job at 1 ms would do under 1,000 in a second; 16 overlapping do several times that.
        #expect((count ?? 0) > 3_000, "\(text)")
    }

    @Test func aBadDeviceSettingStopsTheModuleFromLoadingWithAMessage() throws {
        let run = try Self.openssl(
            ["enc", "-e", "-XOR-0XAA", "-nosalt", "-K", ""], input: [1],
            environment: ["OFFLOAD_DEVICE_LATENCY": "soon"])
        #expect(run.status != 0)
        #expect(run.errors.contains("latency 'soon'"), "\(run.errors)")
    }
}

@Suite struct Retention {
    @Test func theStoreKeepsOutputsWithinItsByteBoundOldestFirst() async throws {
        var settings = configuration(latency: .zero)
        settings.retainedOutputBytes = 10
        try await withEngine(settings) { engine in
            var ids: [UUID] = []
            for index in 0..<5 { ids.append(await engine.run(JobRequest(input: [UInt8](repeating: UInt8(index), count: 4))).id) }
            #expect(engine.store.retainedBytes == 8, "two outputs of four bytes fit in ten")
            #expect(engine.store.job(ids[2]) == nil && engine.store.job(ids[4])?.output?.count == 4)
            #expect(engine.store.counts.completed == 2)
            #expect(engine.store.finishedTotals.completed == 5)
        }
    }
}

/// What a reader thread read, handed to the test after the thread signalled.
private final class ErrorsBox: @unchecked Sendable {
    var data = Data()
}
