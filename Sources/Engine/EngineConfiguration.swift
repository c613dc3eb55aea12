import Foundation

/// How the engine runs.
public struct EngineConfiguration: Sendable {
    /// Engine threads, each with its own ASYNC pool and epoll set.
    public var threads: Int
    /// Jobs in flight per engine thread: the ASYNC pool's maximum size.
    public var maxJobsPerThread: Int
    /// Jobs per engine thread that may wait for a pool slot; beyond that, submissions are refused.
    public var maxQueuedJobsPerThread: Int
    /// How long a job may wait for a pool slot before it is refused.
    public var queueTimeout: Duration
    /// How long a job may take from submission; then it ends as timed out.
    public var jobTimeout: Duration
    /// The OpenSSL provider every operation goes through: `offloadsim` (the simulated
    /// accelerator, built in), `default` (OpenSSL's software crypto) or any provider OpenSSL
    /// can load from OPENSSL_MODULES.
    public var provider: String
    public var notification: NotificationMode
    public var device: DeviceConfiguration
    /// Finished jobs kept for `GET /jobs`; older ones are forgotten.
    public var retainedFinishedJobs: Int
    /// Output bytes the finished jobs kept may hold together; the oldest go first.
    public var retainedOutputBytes: Int
    /// Measures the fibres' stack use (a diagnostic; costs a 22 KiB memset per job; off under
    /// AddressSanitizer).
    public var measuresFibreStack: Bool

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                maxJobsPerThread: Int = 8192,
                maxQueuedJobsPerThread: Int = 8192,
                queueTimeout: Duration = .seconds(1),
                jobTimeout: Duration = .seconds(30),
                provider: String = "offloadsim",
                notification: NotificationMode = .callback,
                device: DeviceConfiguration = DeviceConfiguration(),
                retainedFinishedJobs: Int = 10_000,
                retainedOutputBytes: Int = 256 << 20,
                measuresFibreStack: Bool = false) {
        self.threads = threads
        self.maxJobsPerThread = maxJobsPerThread
        self.maxQueuedJobsPerThread = maxQueuedJobsPerThread
        self.queueTimeout = queueTimeout
        self.jobTimeout = jobTimeout
        self.provider = provider
        self.notification = notification
        self.device = device
        self.retainedFinishedJobs = retainedFinishedJobs
        self.retainedOutputBytes = retainedOutputBytes
        self.measuresFibreStack = measuresFibreStack
    }

    func validate() throws {
        let invalid = EngineError.invalidConfiguration
        guard threads >= 1 else { throw invalid("At least one engine thread is needed.") }
        // A job id names its loop's part of the store in one byte.
        guard threads <= 256 else { throw invalid("At most 256 engine threads.") }
        guard maxJobsPerThread >= 1 else { throw invalid("The job pool needs room for at least one job.") }
        guard maxQueuedJobsPerThread >= 0 else { throw invalid("The job queue bound cannot be negative.") }
        guard jobTimeout > .zero else { throw invalid("The job timeout must be positive.") }
        guard queueTimeout > .zero else { throw invalid("The queue timeout must be positive.") }
        guard !provider.isEmpty, !provider.contains("/") else {
            throw invalid("A provider is named by its module name, such as offloadsim, default or qatprovider.")
        }
        guard retainedFinishedJobs >= 0 else { throw invalid("The number of retained jobs cannot be negative.") }
        guard retainedOutputBytes >= 0 else { throw invalid("The retained output bytes cannot be negative.") }
        try device.validate()
    }
}
