import Engine
import Foundation
@testable import OffloadHTTP
import Synchronization
import Testing

/// The API layer without HTTP: `JobRunner` runs what a request asks for on an engine loop and
/// answers once, with no socket and no libmicrohttpd.
@Suite struct JobRunnerInProcess {
    /// Calls `start` on engine loop 0 and waits for the answer it is given.
    static func answer(
        _ engine: Engine, _ start: @escaping @Sendable (@escaping @Sendable (HTTPResponse) -> Void) -> Void
    ) async -> HTTPResponse {
        await withCheckedContinuation { continuation in
            engine.perform(onLoop: 0) { start { continuation.resume(returning: $0) } }
        }
    }

    static func makeRunner() throws -> (Engine, JobRunner) {
        var configuration = EngineConfiguration(threads: 1)
        configuration.device.latency = .milliseconds(1)
        let engine = try Engine(configuration: configuration)
        let runner = JobRunner(
            engine: engine, store: nil, memory: MemoryBudget(limit: 1 << 20), metrics: ServiceMetrics(loops: 1))
        return (engine, runner)
    }

    static func json(_ response: HTTPResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    }

    @Test func aJobIsAnsweredWithItsResultAndAnAsyncOneWith202() async throws {
        let (engine, runner) = try Self.makeRunner()
        defer { engine.shutdown() }
        let done = await Self.answer(engine) { answer in
            runner.run(JobRequest(input: Array("ASYNC-OK".utf8)), respondAsync: false, binary: false, onLoop: 0, answer: answer)
        }
        #expect(done.status == 200)
        #expect(Self.json(done)["output_hex"] as? String == "ebf9f3e4e987e5e1")

        let raw = await Self.answer(engine) { answer in
            runner.run(JobRequest(input: Array("ASYNC-OK".utf8)), respondAsync: false, binary: true, onLoop: 0, answer: answer)
        }
        #expect(raw.body == [0xEB, 0xF9, 0xF3, 0xE4, 0xE9, 0x87, 0xE5, 0xE1])
        #expect(raw.headers.contains { $0.name == "Offload-Job-Id" })

        let accepted = await Self.answer(engine) { answer in
            runner.run(JobRequest(input: Array("later".utf8)), respondAsync: true, binary: false, onLoop: 0, answer: answer)
        }
        #expect(accepted.status == 202)
        #expect(accepted.headers.contains { $0.name == "Content-Location" })
    }

    @Test func aBatchAnswersInInputOrderWithItsInvalidItemsInPlace() async throws {
        let (engine, runner) = try Self.makeRunner()
        defer { engine.shutdown() }
        let items: [Result<JobRequest, APIError>] = [
            .success(JobRequest(input: [0x00])),
            .failure(APIError(.emptyInput, "The input is empty.")),
            .success(JobRequest(input: [0xFF])),
        ]
        let answered = await Self.answer(engine) { answer in runner.runBatch(items, onLoop: 0, answer: answer) }
        #expect(answered.status == 200)
        let results = try #require(Self.json(answered)["results"] as? [[String: Any]])
        #expect(results.map { $0["output_hex"] as? String } == ["aa", nil, "55"])
        #expect((results[1]["error"] as? [String: Any])?["code"] as? String == "empty_input")
    }

    @Test func aJobTheEngineCannotTakeIsAnsweredAtOnceWithTheReason() async throws {
        var configuration = EngineConfiguration(threads: 1, maxJobsPerThread: 1, maxQueuedJobsPerThread: 0)
        configuration.device.latency = .seconds(5)
        let engine = try Engine(configuration: configuration)
        let runner = JobRunner(engine: engine, store: nil, memory: MemoryBudget(limit: 1 << 20), metrics: ServiceMetrics(loops: 1))
        let refused = await Self.answer(engine) { answer in
            runner.run(JobRequest(input: [1]), respondAsync: false, binary: false, onLoop: 0) { _ in }
            // The only slot is taken and nothing may wait: refused, and answered in this call.
            #expect(runner.run(JobRequest(input: [2]), respondAsync: false, binary: false, onLoop: 0, answer: answer) == nil)
        }
        #expect(refused.status == 503)
        #expect(Self.json(refused)["error"].flatMap { ($0 as? [String: Any])?["code"] as? String } == "overloaded")
        #expect(refused.headers.contains { $0.name == "Retry-After" })
        engine.shutdown(timeout: .milliseconds(100))
    }
}
