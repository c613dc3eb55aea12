import Foundation

/// How the engine runs.
public struct EngineConfiguration: Sendable {
    /// Engine threads, each with its own ASYNC pool and epoll set.
    public var threads: Int
    /// Jobs in flight per engine thread: the ASYNC pool's maximum size.
    public var maxJobsPerThread: Int
    public var device: DeviceConfiguration
    /// Finished jobs kept for `GET /jobs`; older ones are forgotten.
    public var retainedFinishedJobs: Int
    /// Measures the fibres' stack use (a diagnostic; costs a 22 KiB memset per job).
    public var measuresFibreStack: Bool

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                maxJobsPerThread: Int = 8192,
                device: DeviceConfiguration = DeviceConfiguration(),
                retainedFinishedJobs: Int = 10_000,
                measuresFibreStack: Bool = false) {
        self.threads = threads
        self.maxJobsPerThread = maxJobsPerThread
        self.device = device
        self.retainedFinishedJobs = retainedFinishedJobs
        self.measuresFibreStack = measuresFibreStack
    }
}

/// The crypto offload engine: engine threads running OpenSSL ASYNC jobs against the
/// simulated accelerator, and the store of every job's record.
public final class Engine: Sendable {
    public let configuration: EngineConfiguration
    public let store: JobStore
    private let device: SimulatedAccelerator
    private let threads: [EngineThread]
    private let stackGauge: FibreStackGauge?

    public init(configuration: EngineConfiguration = EngineConfiguration()) throws {
        guard configuration.threads >= 1 else {
            throw EngineError(code: "invalid_configuration", message: "At least one engine thread is needed.")
        }
        guard configuration.maxJobsPerThread >= 1 else {
            throw EngineError(code: "invalid_configuration", message: "The job pool needs room for at least one job.")
        }
        guard AsyncPool.isCapable else {
            throw EngineError(
                code: "async_unsupported",
                message: "This OpenSSL build cannot run ASYNC jobs (musl libc?); use a glibc system.")
        }
        self.configuration = configuration
        store = JobStore(retainedFinishedJobs: configuration.retainedFinishedJobs)
        device = try SimulatedAccelerator(configuration: configuration.device)
        stackGauge = configuration.measuresFibreStack ? FibreStackGauge() : nil
        AsyncJob.instantiateFibreTypes(device: device, notifier: try EventFD())
        var threads: [EngineThread] = []
        do {
            for index in 0..<configuration.threads {
                threads.append(try EngineThread(
                    index: index, maxJobs: configuration.maxJobsPerThread, store: store, device: device,
                    stackGauge: stackGauge))
            }
        } catch {
            threads.forEach { $0.shutdown() }
            device.shutdown()
            throw error
        }
        self.threads = threads
    }

    /// Records a queued job and hands it to the least loaded engine thread. `completion` runs
    /// once, on that engine thread, with the finished record (completed or failed).
    /// Throws `EngineError` "shutting_down" once `shutdown` has begun; `completion` then never runs.
    @discardableResult
    public func submit(_ request: JobRequest, completion: @escaping @Sendable (JobRecord) -> Void) throws -> JobRecord {
        let record = store.create(request)
        let thread = threads.min { $0.load.load(ordering: .relaxed) < $1.load.load(ordering: .relaxed) }!
        guard thread.submit(EngineSubmission(id: record.id, request: request, completion: completion)) else {
            let error = EngineError(code: "shutting_down", message: "The engine is shutting down.")
            store.update(record.id) { record in
                record.status = .failed
                record.error = error
                record.completedAt = .now()
            }
            throw error
        }
        return record
    }

    /// Jobs submitted and not yet finished, over all engine threads.
    public var jobsInFlight: Int {
        threads.reduce(0) { $0 + $1.load.load(ordering: .relaxed) }
    }

    /// The deepest fibre stack use measured, in bytes, or nil when not measuring.
    public var deepestFibreStackBytes: Int? {
        stackGauge?.deepestBytes
    }

    /// Finishes every submitted job, then stops the engine threads and the device.
    public func shutdown() {
        threads.forEach { $0.shutdown() }
        device.shutdown()
    }
}
