import Foundation
@testable import OffloadHTTP
import Testing

/// The options as the command reads them: declared once (`ServiceOption.all`), from the
/// command line or `OFFLOAD_*` variables, checked in one place, documented in one table.
@Suite struct ServiceOptions {
    @Test func theREADMEsTableIsTheOneTheOptionsDeclare() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        #expect(text.contains(ServiceOption.markdownTable + "\n"),
                "README.md's options table differs from ServiceOption.all: run scripts/readme-options")
    }

    @Test func eachOptionHasItsFlagAndVariableOnce() {
        let names = ServiceOption.all.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(ServiceOption.all.allSatisfy { $0.variable.wholeMatch(of: /OFFLOAD_[A-Z0-9_]+/) != nil })
        let latency = ServiceOption.all.first { $0.name == "device-latency" }
        #expect(latency?.flag == "--device-latency" && latency?.variable == "OFFLOAD_DEVICE_LATENCY")
        #expect(ServiceOption.usage.contains("--device-latency (OFFLOAD_DEVICE_LATENCY; default: 2ms)"))
    }

    @Test func theCommandLineWinsOverTheEnvironment() throws {
        let environment = ["OFFLOAD_DEVICE_LATENCY": "7ms", "OFFLOAD_PORT": "9000", "OFFLOAD_LOG_FORMAT": "json"]
        let settings = try ServiceSettings(
            arguments: ["--port", "9000", "--max-batch=10", "--port", "9100"], environment: environment)
        #expect(settings.server.port == 9100, "given twice, the last counts")
        #expect(settings.server.engine.device.latency == .milliseconds(7))
        #expect(settings.server.maxBatchItems == 10)
        #expect(settings.server.logFormat == .json)
        let defaults = try ServiceSettings(arguments: [], environment: [:])
        #expect(defaults.server.port == 8080 && defaults.drainDelay == .seconds(5) && defaults.shutdownTimeout == .seconds(30))
    }

    @Test(arguments: [
        (["--port", "70000"], "--port must be from 0 to 65535"),
        (["--max-batch", "0"], "--max-batch must be from 1 to 1000"),
        (["--max-header-size", "512"], "--max-header-size must be from 1KiB to 1MiB"),
        (["--result-ttl", "500ms"], "--result-ttl must be at least 1s"),
        (["--device-latency", "soon"], "--device-latency: 'soon' is not a duration"),
        (["--connection-timeout", "1500ms"], "--connection-timeout: must be whole seconds"),
        (["--no-such-option", "1"], "--no-such-option is not an option"),
        (["--port"], "--port needs a value"),
        (["8080"], "'8080' is not an option"),
    ])
    func badValuesAreRefusedNamingTheOption(arguments: [String], says: String) {
        #expect(performing: { try ServiceSettings(arguments: arguments, environment: [:]) }, throws: { error in
            (error as? ServerError)?.description.contains(says) == true
        })
    }

    /// The table states each default once more, as text for people: it must be the default
    /// the settings really have. Every default written as one value (`2ms`, `fd`, ...) is
    /// applied through its own option and must change nothing.
    @Test func theDefaultsTheTableStatesAreTheRealOnes() throws {
        let defaults = try ServiceSettings(arguments: [], environment: [:])
        var checked = 0
        for option in ServiceOption.all {
            guard let value = option.defaultText.wholeMatch(of: /`([^`]+)`/)?.1 else { continue }
            var applied = defaults
            try option.apply(String(value), &applied)
            #expect(String(reflecting: applied) == String(reflecting: defaults), "\(option.flag)'s stated default \(value)")
            checked += 1
        }
        #expect(checked >= 25)
    }

    @Test func aStorePasswordFileWithoutAPostgresStoreIsRefused() throws {
        var settings = try ServiceSettings(arguments: ["--store-password-file", "/nonexistent"], environment: [:])
        #expect(performing: { try settings.readFiles() }, throws: { error in
            (error as? ServerError)?.description.contains("goes with a postgres:// store only") == true
        })
    }

    @Test func aBadVariableIsNamedToo() {
        #expect(performing: { try ServiceSettings(arguments: [], environment: ["OFFLOAD_NOTIFY": "smoke"]) }, throws: { error in
            (error as? ServerError)?.description == "OFFLOAD_NOTIFY: must be fd or callback"
        })
    }
}
