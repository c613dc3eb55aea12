import Foundation
import Synchronization
import Testing
@testable import Engine

extension Engine {
    /// Submits a job and waits for its finished record.
    func run(_ request: JobRequest) async -> JobRecord {
        await withCheckedContinuation { continuation in
            do {
                try submit(request) { continuation.resume(returning: $0) }
            } catch {
                preconditionFailure("the engine refused a job: \(error)")
            }
        }
    }

    /// Runs every request concurrently and returns the finished records in request order.
    func runAll(_ requests: [JobRequest]) async -> [JobRecord] {
        await withTaskGroup(of: (Int, JobRecord).self) { group in
            for (index, request) in requests.enumerated() {
                group.addTask { (index, await self.run(request)) }
            }
            var records = [JobRecord?](repeating: nil, count: requests.count)
            for await (index, record) in group { records[index] = record }
            return records.map { $0! }
        }
    }
}

/// Starts an engine, runs `body`, and shuts the engine down even when `body` throws.
func withEngine<T>(_ configuration: EngineConfiguration, _ body: (Engine) async throws -> T) async throws -> T {
    let engine = try Engine(configuration: configuration)
    do {
        let result = try await body(engine)
        engine.shutdown()
        return result
    } catch {
        engine.shutdown()
        throw error
    }
}

func hex(_ bytes: [UInt8]?) -> String? {
    bytes.map { $0.map { String(format: "%02x", $0) }.joined() }
}

func configuration(latency: Duration, threads: Int = 1, maxJobs: Int = 8192,
                   notification: NotificationMode = .fd, measuresFibreStack: Bool = false) -> EngineConfiguration {
    EngineConfiguration(
        threads: threads, maxJobsPerThread: maxJobs, notification: notification,
        device: DeviceConfiguration(latency: latency), measuresFibreStack: measuresFibreStack)
}

@Suite struct EngineJobs {
    @Test(arguments: NotificationMode.allCases)
    func oneJobRunsEndToEndWithTheSeedOutput(notification: NotificationMode) async throws {
        let record = try await withEngine(configuration(latency: .milliseconds(5), notification: notification)) { engine in
            await engine.run(JobRequest(input: Array("ASYNC-OK".utf8)))
        }
        #expect(record.status == .completed)
        #expect(hex(record.output) == "ebf9f3e4e987e5e1")
        #expect(record.inputBytes == 8)
        #expect(record.algorithm == .xor0xAA)
        #expect(record.pauses >= 1)
        #expect(record.engine == 0)
        #expect(record.deviceUnit != nil)
        #expect(record.error == nil)
        let device = try #require(record.deviceNanoseconds)
        #expect(device >= 5_000_000, "the device took its configured latency")
        let started = try #require(record.startedAt)
        let completed = try #require(record.completedAt)
        #expect(record.createdAt.monotonicNanoseconds <= started.monotonicNanoseconds)
        #expect(started.monotonicNanoseconds + device <= completed.monotonicNanoseconds)
    }

    @Test func theStoreHoldsTheFinishedJob() async throws {
        try await withEngine(configuration(latency: .milliseconds(1))) { engine in
            let record = await engine.run(JobRequest(input: [0x00, 0xff]))
            let stored = try #require(engine.store.job(record.id))
            #expect(stored.status == .completed)
            #expect(stored.output == [0xaa, 0x55])
            #expect(engine.store.counts.completed == 1)
            #expect(engine.jobsInFlight == 0)
        }
    }

    @Test func anEmptyInputFailsTheJobWithADeviceError() async throws {
        try await withEngine(configuration(latency: .milliseconds(1))) { engine in
            let started = ContinuousClock.now
            let failed = await engine.run(JobRequest(input: []))
            // It fails when it starts: answered then, not when the loop next wakes for something
            // else (its 30 s job timeout, with nothing else due).
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(failed.status == .failed)
            #expect(failed.error?.code == .deviceError)
            #expect(failed.output == nil)
            #expect(failed.completedAt != nil)
            // The engine goes on serving after a device error.
            let next = await engine.run(JobRequest(input: Array("ok".utf8)))
            #expect(next.status == .completed)
            #expect(engine.store.counts.failed == 1)
            #expect(engine.store.counts.completed == 1)
        }
    }

    @Test(arguments: NotificationMode.allCases)
    func manyJobsInFlightOnOneEngineThreadOverlapOnTheDevice(notification: NotificationMode) async throws {
        let jobs = 200
        let records = try await withEngine(configuration(latency: .milliseconds(200), threads: 1, notification: notification)) { engine in
            await engine.runAll((0..<jobs).map { JobRequest(input: [UInt8(truncatingIfNeeded: $0), 1, 2]) })
        }
        #expect(records.allSatisfy { $0.status == .completed && $0.engine == 0 })
        for (index, record) in records.enumerated() {
            #expect(record.output == [UInt8(truncatingIfNeeded: index) ^ 0xaa, 0xab, 0xa8])
        }
        // Overlap, from the jobs' own timestamps rather than a wall-clock bound (which a loaded
        // machine could break): one after another, each would start after the one before it
        // completed; together, every job started before the first one completed.
        let completions = records.compactMap { $0.completedAt?.monotonicNanoseconds }
        let firstCompletion = try #require(completions.min())
        let starts = records.compactMap { $0.startedAt?.monotonicNanoseconds }
        let lastStart = try #require(starts.max())
        #expect(records.allSatisfy { $0.startedAt != nil })
        #expect(lastStart < firstCompletion, "every job started before the first completed")
    }

    @Test func thePoolLimitBoundsTheJobsInFlight() async throws {
        let records = try await withEngine(configuration(latency: .milliseconds(50), threads: 1, maxJobs: 2)) { engine in
            await engine.runAll((0..<6).map { _ in JobRequest(input: [1]) })
        }
        #expect(records.allSatisfy { $0.status == .completed })
        // Count how many jobs were running (started, not completed) at once.
        var events: [(time: UInt64, delta: Int)] = []
        for record in records {
            events.append((record.startedAt!.monotonicNanoseconds, 1))
            events.append((record.completedAt!.monotonicNanoseconds, -1))
        }
        events.sort { ($0.time, $0.delta) < ($1.time, $1.delta) }
        var running = 0
        var mostRunning = 0
        for event in events {
            running += event.delta
            mostRunning = max(mostRunning, running)
        }
        #expect(mostRunning == 2)
    }

    @Test(arguments: NotificationMode.allCases)
    func jobsSpreadOverEngineThreadsAndResumeOnlyWhereTheyStarted(notification: NotificationMode) async throws {
        try await withEngine(configuration(latency: .milliseconds(20), threads: 4, notification: notification)) { engine in
            let records = await engine.runAll((0..<400).map { _ in JobRequest(input: [7]) })
            #expect(records.allSatisfy { $0.status == .completed })
            #expect(Set(records.compactMap(\.engine)) == [0, 1, 2, 3])
            #expect(engine.resumesOffOwningThread == 0)
        }
    }

    /// A job that a completion submits on its own loop starts in the same turn. It used to
    /// wait for the loop's next wake-up: with nothing else due, its queue timeout (a request
    /// read while the loop answered others waited so, and failed as overloaded).
    @Test(arguments: NotificationMode.allCases)
    func aJobSubmittedByACompletionStartsAtOnce(notification: NotificationMode) async throws {
        var settings = configuration(latency: .milliseconds(1), notification: notification)
        settings.queueTimeout = .seconds(20)
        let (first, second) = try await withEngine(settings) { engine in
            await withCheckedContinuation { (continuation: CheckedContinuation<(JobRecord, JobRecord), Never>) in
                do {
                    try engine.submit(JobRequest(input: Array("first".utf8))) { first in
                        do {
                            try engine.submit(JobRequest(input: Array("second".utf8)), onLoop: first.engine ?? 0) { second in
                                continuation.resume(returning: (first, second))
                            }
                        } catch {
                            preconditionFailure("the engine refused the second job: \(error)")
                        }
                    }
                } catch {
                    preconditionFailure("the engine refused the first job: \(error)")
                }
            }
        }
        #expect(second.status == .completed)
        let waited = try #require(first.completedAt).nanoseconds(until: try #require(second.startedAt))
        #expect(waited < 1_000_000_000, "the second job waited \(waited) ns to start")
    }

    /// A job submitted on its loop's own thread (as a request's handler submits it) is running
    /// when `submit` returns: its time on the device starts then, not after the rest of the
    /// loop's turn (jobs used to wait, queued, until the daemon's run had read every request).
    @Test(arguments: NotificationMode.allCases)
    func aJobSubmittedOnItsLoopIsRunningWhenSubmitReturns(notification: NotificationMode) async throws {
        let (statusOnReturn, finished) = try await withEngine(configuration(latency: .milliseconds(50), notification: notification)) { engine in
            await withCheckedContinuation { (continuation: CheckedContinuation<(JobStatus?, JobRecord), Never>) in
                do {
                    try engine.submit(JobRequest(input: Array("first".utf8))) { first in
                        do {
                            // The second job finishes on this loop's thread, after this closure.
                            let status = Mutex<JobStatus?>(nil)
                            let second = try engine.submit(JobRequest(input: Array("second".utf8)), onLoop: first.engine ?? 0) { second in
                                continuation.resume(returning: (status.withLock { $0 }, second))
                            }
                            status.withLock { $0 = engine.store.job(second.id)?.status }
                        } catch {
                            preconditionFailure("the engine refused the second job: \(error)")
                        }
                    }
                } catch {
                    preconditionFailure("the engine refused the first job: \(error)")
                }
            }
        }
        #expect(statusOnReturn == .running)
        #expect(finished.status == .completed)
    }

    /// A finished job's deadline does not stay for the job timeout: the loops hold about the
    /// jobs in flight (they held every job of the last 30 s, tens of thousands a second under load).
    @Test func finishedJobsLeaveNoDeadlinesBehind() async throws {
        let held = try await withEngine(configuration(latency: .milliseconds(1), threads: 2)) { engine in
            let records = await engine.runAll((0..<500).map { JobRequest(input: Array("job \($0)".utf8)) })
            #expect(records.allSatisfy { $0.status == .completed })
            // One more job, so that each loop has turned once after the last of the 500.
            _ = await engine.run(JobRequest(input: Array("last".utf8)))
            return engine.deadlinesHeld
        }
        #expect(held <= 2, "\(held) deadlines held after every job finished")
    }
}
