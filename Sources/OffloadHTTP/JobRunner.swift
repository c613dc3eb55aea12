import Engine
import Foundation
import Store
import Synchronization

/// Runs the jobs a request asks for and gives its answer once: the half of the API layer that
/// executes what `Router` decided. It knows nothing of HTTP connections: it is told the engine
/// loop to run on and given a function to call with the answer (on that loop, or at once when
/// the request is refused), so tests call it in process, without a socket.
final class JobRunner: Sendable {
    private let engine: Engine
    private let store: DurableStore?
    private let memory: MemoryBudget
    private let metrics: ServiceMetrics

    init(engine: Engine, store: DurableStore?, memory: MemoryBudget, metrics: ServiceMetrics) {
        self.engine = engine
        self.store = store
        self.memory = memory
        self.metrics = metrics
    }

    /// Runs one job; must be called on engine loop `loop`'s thread. Answers with the finished
    /// job (or its raw output when `binary`), or for `respondAsync` with 202 once the job is
    /// accepted (and, with a durable store, its record committed). Returns the job's id, or nil
    /// when it was refused (the answer then says why).
    @discardableResult
    func run(
        _ request: consuming JobRequest, respondAsync: Bool, binary: Bool, onLoop loop: Int,
        answer: @escaping @Sendable (HTTPResponse) -> Void
    ) -> UUID? {
        guard respondAsync else {
            let plaintext = request.answersWithInput ? request.input : nil
            do {
                return try submit(request, onLoop: loop) { record in
                    answer(Router.response(for: record, binary: binary, plaintext: plaintext))
                }.id
            } catch {
                answer(Self.refusal(error))
                return nil
            }
        }
        guard let store else {
            do {
                let record = try submit(request, onLoop: loop) { _ in }
                answer(Self.accepted(record))
                return record.id
            } catch {
                answer(Self.refusal(error))
                return nil
            }
        }
        return runDurably(request, store: store, onLoop: loop, answer: answer)
    }

    /// With a durable store: the job runs at once, and is answered 202 once its record is
    /// committed (any replica can then find it); when the store cannot take it, 503 (the job's
    /// result is then written nowhere).
    private func runDurably(
        _ request: consuming JobRequest, store: DurableStore, onLoop loop: Int, answer: @escaping @Sendable (HTTPResponse) -> Void
    ) -> UUID? {
        guard store.isAvailable else {
            answer(Router.storeUnavailable(StoreError(store.unavailable ?? "not reachable")).response)
            return nil
        }
        var request = request
        request.storedDurably = true
        let record: JobRecord
        do {
            record = try submit(request, onLoop: loop) { record in store.finished(record) }
        } catch {
            answer(Self.refusal(error))
            return nil
        }
        let engine = engine
        store.accepted(record) { committed in
            engine.perform(onLoop: loop) {
                guard committed else {
                    return answer(Router.storeUnavailable(StoreError(store.unavailable ?? "the job could not be written")).response)
                }
                answer(Self.accepted(engine.store.job(record.id) ?? record))
            }
        }
        return record.id
    }

    /// Runs every valid item as its own job, on loop `loop`'s thread; answers once, with the
    /// results in input order, after the last has finished.
    func runBatch(
        _ items: [Result<JobRequest, APIError>], onLoop loop: Int, answer: @escaping @Sendable (HTTPResponse) -> Void
    ) {
        let collector = BatchCollector(count: items.count, answer: answer)
        for (index, item) in items.enumerated() {
            switch item {
            case .failure(let error):
                collector.record(.failure(error), at: index)
            case .success(let request):
                do {
                    try submit(request, onLoop: loop) { record in collector.record(.success(record), at: index) }
                } catch {
                    let refused = (error as? EngineError).map { APIError(ErrorCode($0.code), $0.message) }
                        ?? APIError(.overloaded, "The job could not be queued.")
                    collector.record(.failure(refused), at: index)
                }
            }
        }
    }

    /// Submits a job whose body was admitted: it holds its bytes of the memory budget until it
    /// finishes (even past the limit: refusing it now would waste the body already read), and
    /// is counted in the metrics when it does.
    @discardableResult
    private func submit(
        _ request: consuming JobRequest, onLoop loop: Int, whenFinished: @escaping @Sendable (JobRecord) -> Void
    ) throws -> JobRecord {
        let bytes = MemoryBudget.bytes(of: request)
        let memory = memory
        let metrics = metrics
        memory.take(bytes)
        do {
            return try engine.submit(request, onLoop: loop) { record in
                memory.release(bytes)
                metrics.jobFinished(record, onLoop: loop)
                whenFinished(record)
            }
        } catch {
            memory.release(bytes)
            throw error
        }
    }

    /// 202 with the job as it stands and where to poll it.
    static func accepted(_ record: JobRecord) -> HTTPResponse {
        let id = record.id.uuidString.lowercased()
        // Content-Location is the standard pointer to a status monitor for 202 (RFC 9110
        // 15.3.3); Location is kept for clients that look there; Retry-After hints when to poll.
        return .json(202, JobJSON.job(record), headers: [
            ("Location", "/jobs/\(id)"), ("Content-Location", "/jobs/\(id)"), ("Retry-After", "1"),
            ("Preference-Applied", "respond-async"),
        ])
    }

    /// The answer when the engine refuses a job: it is full, or shutting down.
    static func refusal(_ error: any Error) -> HTTPResponse {
        if let error = error as? EngineError, error.code == .overloaded {
            return APIError(.overloaded, error.message).response
        }
        return drainingResponse
    }

    /// The answer to a job's request once the service is shutting down.
    static var drainingResponse: HTTPResponse {
        var response = APIError(.shuttingDown, "The service is shutting down; retry on another instance.").response
        response.headers.append(("Connection", "close"))
        return response
    }
}

/// Gathers a batch's results in input order and answers once the last job has finished.
final class BatchCollector: Sendable {
    private let results: Mutex<(items: [Result<JobRecord, APIError>?], remaining: Int)>
    private let answer: @Sendable (HTTPResponse) -> Void

    init(count: Int, answer: @escaping @Sendable (HTTPResponse) -> Void) {
        results = Mutex((Array(repeating: nil, count: count), count))
        self.answer = answer
    }

    func record(_ result: Result<JobRecord, APIError>, at index: Int) {
        let finished: [Result<JobRecord, APIError>]? = results.withLock { results in
            results.items[index] = result
            results.remaining -= 1
            return results.remaining == 0 ? results.items.map { $0! } : nil
        }
        guard let finished else { return }
        let refusedForLoad = finished.allSatisfy { result in
            if case .failure(let error) = result { error.status == 503 } else { false }
        }
        if refusedForLoad, case .failure(let first) = finished.first {
            // Nothing ran: the client should retry the whole batch, and be told when.
            answer(APIError(first.code, "No item of the batch could be queued: \(first.message)").response)
            return
        }
        answer(.json(200, JobJSON.batch(finished)))
    }
}
