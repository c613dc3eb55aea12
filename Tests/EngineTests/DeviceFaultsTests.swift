import Foundation
import Testing
@testable import Engine

@Suite struct DeviceFaults {
    @Test(arguments: NotificationMode.allCases)
    func aStalledOperationEndsAsATimeoutAndTheEngineKeepsServing(notification: NotificationMode) async throws {
        var settings = configuration(latency: .milliseconds(5), threads: 1, notification: notification)
        settings.device.stallRate = 0.5
        settings.device.seed = 7
        settings.jobTimeout = .milliseconds(200)
        try await withEngine(settings) { engine in
            let records = await engine.runAll((0..<40).map { _ in JobRequest(input: [3]) })
            let timedOut = records.filter { $0.error?.code == .jobTimeout }
            let completed = records.filter { $0.status == .completed }
            #expect(timedOut.count + completed.count == 40)
            #expect(!timedOut.isEmpty && !completed.isEmpty)
            #expect(timedOut.allSatisfy { $0.output == nil && $0.status == .failed })
            #expect(completed.allSatisfy { $0.output == [3 ^ 0xaa] })
            #expect(engine.jobsInFlight == 0)
        }
    }

    @Test func injectedErrorsFailOnlyTheirJobs() async throws {
        var settings = configuration(latency: .milliseconds(2), threads: 1)
        settings.device.errorRate = 0.3
        settings.device.seed = 42
        let records = try await withEngine(settings) { engine in
            await engine.runAll((0..<100).map { JobRequest(input: [UInt8($0)]) })
        }
        let failed = records.filter { $0.status == .failed }
        #expect((10...50).contains(failed.count), "about 30 of 100 failed: \(failed.count)")
        #expect(failed.allSatisfy { $0.error?.code == .deviceError && $0.output == nil })
        for (index, record) in records.enumerated() where record.status == .completed {
            #expect(record.output == [UInt8(index) ^ 0xaa])
        }
    }

    @Test func theSameSeedInjectsTheSameFaults() async throws {
        func failures(seed: UInt64) async throws -> [Bool] {
            var settings = configuration(latency: .zero, threads: 1)
            settings.device.errorRate = 0.5
            settings.device.seed = seed
            return try await withEngine(settings) { engine in
                var failed: [Bool] = []
                for _ in 0..<30 { failed.append(await engine.run(JobRequest(input: [1])).status == .failed) }
                return failed
            }
        }
        let first = try await failures(seed: 99)
        #expect(try await failures(seed: 99) == first)
        #expect(try await failures(seed: 100) != first)
    }

    @Test func unitsProcessBytesAtTheConfiguredThroughput() async throws {
        var settings = configuration(latency: .zero, threads: 1)
        settings.device.units = 1
        settings.device.throughputBytesPerSecond = 1_000_000  // 10,000 bytes take 10 ms
        let (records, busy) = try await withEngine(settings) { engine in
            (await engine.runAll((0..<3).map { _ in JobRequest(input: Array(repeating: 1, count: 10_000)) }),
             engine.device?.unitBusyNanoseconds ?? [])
        }
        // The one unit spent exactly 10 ms on each operation, and each took at least that long.
        #expect(busy == [30_000_000])
        #expect(records.allSatisfy { ($0.deviceNanoseconds ?? 0) >= 10_000_000 && $0.deviceUnit == 0 })
    }

    @Test func badDeviceSettingsAreRefused() {
        var settings = configuration(latency: .milliseconds(1))
        settings.device.errorRate = 1.5
        #expect(throws: EngineError.self) { try Engine(configuration: settings) }
        settings.device.errorRate = 0
        settings.device.units = 0
        #expect(throws: EngineError.self) { try Engine(configuration: settings) }
    }
}
