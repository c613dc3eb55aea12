import Foundation
import TestSupport
import Testing
@testable import Engine

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
