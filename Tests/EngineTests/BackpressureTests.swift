import Foundation
import Testing
@testable import Engine

@Suite struct Backpressure {
    @Test func submissionsBeyondThePoolAndQueueAreRefusedAndTheRestComplete() async throws {
        var settings = configuration(latency: .milliseconds(100), threads: 1, maxJobs: 2)
        settings.maxQueuedJobsPerThread = 3
        try await withEngine(settings) { engine in
            var accepted: [Task<JobRecord, Never>] = []
            var refused: [EngineError] = []
            for _ in 0..<8 {
                let (stream, continuation) = AsyncStream.makeStream(of: JobRecord.self)
                do {
                    try engine.submit(JobRequest(input: [1])) { continuation.yield($0); continuation.finish() }
                    accepted.append(Task { await stream.first { _ in true }! })
                } catch let error as EngineError {
                    refused.append(error)
                }
            }
            #expect(accepted.count == 5)
            #expect(refused.count == 3)
            #expect(refused.allSatisfy { $0.code == .overloaded })
            for task in accepted {
                #expect(await task.value.status == .completed)
            }
            #expect(engine.jobsInFlight == 0)
        }
    }

    @Test func jobsThatWaitTooLongForASlotAreRefused() async throws {
        var settings = configuration(latency: .milliseconds(300), threads: 1, maxJobs: 1)
        settings.queueTimeout = .milliseconds(100)
        let records = try await withEngine(settings) { engine in
            await engine.runAll((0..<3).map { _ in JobRequest(input: [1]) })
        }
        // Whichever was submitted first ran; the two behind it waited past the queue timeout.
        let refused = records.filter { $0.error?.code == .overloaded }
        #expect(records.filter { $0.status == .completed }.count == 1)
        #expect(refused.count == 2)
        #expect(refused.allSatisfy { $0.status == .failed && $0.startedAt == nil }, "they never ran")
    }

    @Test(arguments: NotificationMode.allCases)
    func aFullDeviceRingMakesJobsRetryUntilThereIsRoom(notification: NotificationMode) async throws {
        var settings = configuration(latency: .milliseconds(10), threads: 1, notification: notification)
        settings.device.queueDepth = 1
        settings.device.ringRetryLimit = 1000
        let records = try await withEngine(settings) { engine in
            await engine.runAll((0..<5).map { JobRequest(input: [UInt8($0)]) })
        }
        #expect(records.allSatisfy { $0.status == .completed })
        #expect(records.map(\.output) == (0..<5).map { [UInt8($0) ^ 0xaa] })
        #expect(records.contains { $0.pauses > 1 }, "some job paused to retry")
    }

    @Test func aRingThatStaysFullFailsTheJobAsDeviceBusy() async throws {
        var settings = configuration(latency: .milliseconds(200), threads: 1)
        settings.device.queueDepth = 1
        settings.device.ringRetryLimit = 3
        let records = try await withEngine(settings) { engine in
            await engine.runAll((0..<3).map { _ in JobRequest(input: [1]) })
        }
        #expect(records.filter { $0.status == .completed }.count == 1)
        #expect(records.filter { $0.error?.code == .deviceBusy }.count == 2)
    }
}
