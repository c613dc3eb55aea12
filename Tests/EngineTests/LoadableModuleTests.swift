import Foundation
import TestSupport
import Testing
@testable import Engine

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
