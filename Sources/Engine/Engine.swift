import Foundation

/// The crypto offload engine: engine threads running OpenSSL ASYNC jobs whose ciphers come
/// from one provider (the simulated accelerator by default), and the store of every job's record.
public final class Engine: Sendable {
    public let configuration: EngineConfiguration
    public let store: JobStore
    /// The simulated accelerator, when the provider is offloadsim.
    public let device: SimulatedAccelerator?
    private let provider: CryptoProvider
    private let threads: [EngineThread]
    private let diagnostics: EngineDiagnostics

    public init(configuration: EngineConfiguration = EngineConfiguration()) throws {
        try configuration.validate()
        guard AsyncPool.isCapable else {
            throw EngineError(
                code: .asyncUnsupported,
                message: "This OpenSSL build cannot run ASYNC jobs (musl libc?); use a glibc system.")
        }
        self.configuration = configuration
        store = JobStore(
            shards: configuration.threads, retainedFinishedJobs: configuration.retainedFinishedJobs,
            retainedOutputBytes: configuration.retainedOutputBytes)
        let device = configuration.provider == CryptoProvider.simulationName
            ? try SimulatedAccelerator(configuration: configuration.device) : nil
        self.device = device
        provider = try CryptoProvider(name: configuration.provider, device: device)
        diagnostics = EngineDiagnostics(measuresFibreStack: configuration.measuresFibreStack)
        var threads: [EngineThread] = []
        do {
            for index in 0..<configuration.threads {
                threads.append(try EngineThread(
                    index: index, configuration: configuration, store: store, provider: provider, device: device,
                    diagnostics: diagnostics))
            }
        } catch {
            threads.forEach { $0.shutdown() }
            throw error
        }
        self.threads = threads
    }

    /// The OpenSSL library the engine runs on, as it names itself ("OpenSSL 3.0.19 ...").
    public static var openSSLVersion: String { CryptoProvider.libraryVersion }

    /// The name of the provider every job runs through.
    public var providerName: String { provider.name }

    /// The algorithms the provider implements.
    public var algorithms: Set<Algorithm> { provider.algorithms }

    /// The same, as a mask to check a job's algorithm against.
    public var algorithmMask: Algorithm.Mask { provider.algorithmMask }

    /// Records a queued job and hands it to the least loaded engine thread. `completion` runs
    /// once, on that engine thread, with the finished record (completed or failed).
    /// Throws `EngineError` "overloaded" when every engine thread is full, or "shutting_down"
    /// once `shutdown` has begun; `completion` then never runs and no record is kept.
    /// Throws "unsupported_algorithm" when the provider lacks the request's algorithm.
    @discardableResult
    public func submit(_ request: JobRequest, completion: @escaping @Sendable (JobRecord) -> Void) throws -> JobRecord {
        try submit(request, onLoop: nil, completion: completion)
    }

    /// Records a queued job and hands it to engine loop `loop`, from that loop's own thread (its
    /// guest's request handler): no lock, no wake-up, and the job starts at once (or, when the
    /// loop has no job slot free, once one is). `completion` runs on that thread. Throws as
    /// `submit(_:completion:)` does.
    @discardableResult
    public func submit(
        _ request: consuming JobRequest, onLoop loop: Int?, completion: @escaping @Sendable (JobRecord) -> Void
    ) throws -> JobRecord {
        guard provider.algorithmMask.contains(request.algorithm) else {
            throw EngineError.unsupportedAlgorithm(request.algorithm, provider: provider.name)
        }
        // The record goes in the store's shard of the loop that runs the job.
        let index = loop ?? threads.indices.min {
            threads[$0].load.load(ordering: .relaxed) < threads[$1].load.load(ordering: .relaxed)
        }!
        let (record, entry) = store.create(request, provider: provider.name, shard: index)
        let submission = EngineSubmission(
            entry: entry, request: request, submittedAt: record.createdAt.monotonicNanoseconds, completion: completion)
        let result = loop == nil ? threads[index].submit(submission) : threads[index].submitLocally(submission)
        switch result {
        case .accepted:
            return record
        case .full:
            store.remove(record.id)
            throw EngineError(code: .overloaded, message: "Every engine is full; retry shortly.")
        case .stopping:
            store.remove(record.id)
            throw EngineError(code: .shuttingDown, message: "The engine is shutting down.")
        }
    }

    /// Gives each engine loop a guest (one per loop, in order) that it watches and runs on its
    /// own thread from now on, and keeps running during shutdown while the guest is busy.
    public func attach(_ guests: [any EngineLoopGuest]) {
        precondition(guests.count == threads.count, "one guest per engine loop")
        for (thread, guest) in zip(threads, guests) { thread.attach(guest) }
    }

    /// Runs `task` on the thread of engine loop `loop`, soon (for work on the loop's guest that
    /// must not race with it).
    public func perform(onLoop loop: Int, _ task: @escaping @Sendable () -> Void) {
        threads[loop].perform(task)
    }

    /// Jobs submitted and not yet finished, over all engine threads.
    public var jobsInFlight: Int {
        threads.reduce(0) { $0 + $1.load.load(ordering: .relaxed) }
    }

    /// True when every engine thread's job pool is full, so new jobs queue, or the device ring is full.
    public var isSaturated: Bool {
        threads.allSatisfy { $0.load.load(ordering: .relaxed) >= configuration.maxJobsPerThread }
            || (device.map { $0.operationsOnDevice >= configuration.device.queueDepth } ?? false)
    }

    /// Jobs submitted and not yet finished, per engine thread (its loop).
    public var jobsPerEngine: [Int] {
        threads.map { $0.load.load(ordering: .relaxed) }
    }

    /// Jobs waiting for a free slot in an engine's pool, over all engine threads.
    public var jobsQueued: Int {
        threads.reduce(0) { $0 + max(0, $1.load.load(ordering: .relaxed) - configuration.maxJobsPerThread) }
    }

    /// Job deadlines the engine loops hold, as of their last turns: about the jobs in flight,
    /// not every job of the last job timeout.
    public var deadlinesHeld: Int {
        threads.reduce(0) { $0 + $1.deadlinesHeld.load(ordering: .relaxed) }
    }

    /// The deepest fibre stack use measured, in bytes, or nil when not measuring.
    public var deepestFibreStackBytes: Int? {
        diagnostics.stackGauge?.deepestBytes
    }

    /// Job steps that ran on a thread other than the one that started the job; always 0 unless
    /// the engine breaks OpenSSL's rule.
    public var resumesOffOwningThread: Int {
        diagnostics.resumesOffOwningThread.load(ordering: .relaxed)
    }

    /// Refuses new jobs, lets every submitted job finish, then stops the engine threads. Jobs
    /// still unfinished after `timeout` end failed, with the code "shutting_down"; returns how
    /// many did.
    @discardableResult
    public func shutdown(timeout: Duration = .seconds(30)) -> Int {
        let deadline = readMonotonicClock() &+ timeout.nanoseconds
        threads.forEach { $0.beginShutdown(deadline: deadline) }
        threads.forEach { $0.shutdown(deadline: deadline) }  // each returns once its jobs ended
        return diagnostics.abortedAtShutdown.load(ordering: .relaxed)
    }
}
