import Engine
import Prometheus
import Store
import Synchronization

/// The service's Prometheus metrics, in a registry of its own (not a process-wide one, so that
/// several servers in one process, as in the tests, stay apart). swift-prometheus's own API
/// rather than swift-metrics' facade: only the former writes `# HELP` lines.
final class ServiceMetrics: Sendable {
    /// The label values of one request's series (its status as a number: the label's text is
    /// made once, with the series).
    private struct RequestSeries: Hashable {
        let route: String
        let method: String
        let status: Int

        /// Hashes the lengths rather than the text (two string hashes were a fair part of a
        /// request's metrics): the few series that share them are told apart by `==`.
        func hash(into hasher: inout Hasher) {
            hasher.combine(status)
            hasher.combine(route.utf8.count)
            hasher.combine(method.utf8.count)
        }
    }

    /// The label values of one finished job's series.
    private struct JobSeries: Hashable {
        let provider: String
        let algorithm: Algorithm
        let operation: JobOperation
        let status: JobStatus
        let error: EngineError.Code?

        /// Lengths again (these enums' own hashes hash their raw strings), and no provider:
        /// it is the same for every job of a server.
        func hash(into hasher: inout Hasher) {
            hasher.combine(algorithm.rawValue.utf8.count)
            hasher.combine(operation.rawValue.utf8.count)
            hasher.combine(status.rawValue.utf8.count)
            hasher.combine(error?.rawValue.utf8.count ?? -1)
        }
    }

    private let registry = PrometheusCollectorRegistry()
    /// Handles already made, found per request with one lock and one hash: making one takes
    /// the registry's lock and builds its name and labels.
    private let requestHandles = Mutex<[RequestSeries: (count: Counter, duration: DurationHistogram)]>([:])
    private let jobHandles = Mutex<[JobSeries: (count: Counter, duration: DurationHistogram, device: DurationHistogram)]>([:])
    private let jobsInFlight: Gauge
    private let jobsQueued: Gauge
    private let deviceRing: Gauge
    private let residentMemory: Gauge
    private let memoryInFlight: Gauge
    private let memoryInFlightLimit: Gauge
    private let openFileDescriptors: Gauge
    private let cpuSeconds: Counter
    private let storeAvailable: Gauge
    private let storePendingWrites: Gauge
    private let storeCommittedWrites: Counter
    /// The store's writes already added to their counter.
    private let reportedStoreWrites = Mutex<Int>(0)
    /// Busy time per device unit, and CPU time, already added to their counters.
    private let reportedBusy = Mutex<[UInt64]>([])
    private let reportedCPUSeconds = Mutex<Double>(0)

    private static let durationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
    ]

    /// A metric's full name and its `# HELP` text.
    private static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    init() {
        let registry = registry
        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: Self.named(name, help))
        }
        jobsInFlight = gauge("offload_jobs_in_flight", "Jobs submitted and not finished, queued ones included.")
        jobsQueued = gauge("offload_jobs_queued", "Jobs waiting for a free slot on their engine loop.")
        deviceRing = gauge("offload_device_queue_depth", "Operations on the simulated device now.")
        residentMemory = gauge("process_resident_memory_bytes", "Resident memory of the process.")
        memoryInFlight = gauge(
            "offload_memory_in_flight_bytes", "Bytes of request bodies and job buffers held now (--max-bytes-in-flight).")
        memoryInFlightLimit = gauge("offload_memory_in_flight_limit_bytes", "The limit on offload_memory_in_flight_bytes.")
        openFileDescriptors = gauge("process_open_fds", "Open file descriptors of the process.")
        cpuSeconds = registry.makeCounter(
            descriptor: Self.named("process_cpu_seconds_total", "User and system CPU time of the process."))
        // Constant 1, with the versions as labels (the Prometheus idiom for build facts).
        registry.makeGauge(
            descriptor: Self.named("offload_build_info", "Always 1; the service's and OpenSSL's versions are its labels."),
            labels: [("version", ServiceVersion.current), ("openssl", Engine.openSSLVersion)]
        ).set(to: 1)
        storeAvailable = gauge("offload_store_available", "1 while the durable job store answers, else 0.")
        storePendingWrites = gauge("offload_store_pending_writes", "Job rows waiting to be committed to the store.")
        storeCommittedWrites = registry.makeCounter(
            descriptor: Self.named("offload_store_writes_total", "Job rows committed to the store."))
    }

    /// The methods counted under their own name; any other is `other`, so that a client cannot
    /// grow the label set (and /metrics) with the bytes it sends.
    private static func countedName(of method: String) -> String {
        switch method {
        case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE": method
        default: "other"
        }
    }

    /// One HTTP request answered, `duration` after its headers arrived. `route` is a route
    /// template or `unmatched`, never the path.
    func requestAnswered(route: String, method rawMethod: String, status: Int, duration: Duration) {
        let method = Self.countedName(of: rawMethod)
        let handles = Self.handles(for: RequestSeries(route: route, method: method, status: status), in: requestHandles) {
            series in
            (registry.makeCounter(
                descriptor: Self.named("offload_http_requests_total", "HTTP requests answered, by route, method and status."),
                labels: [("route", series.route), ("method", series.method), ("status", String(series.status))]),
             durationHistogram(
                "offload_http_request_duration_seconds",
                "From a request's headers to its answer, by route (a synchronous job's device time included).",
                label: ("route", series.route)))
        }
        handles.count.increment()
        handles.duration.record(duration)
    }

    /// One job finished: counted by provider, algorithm, operation and final status, with its durations.
    func jobFinished(_ record: JobRecord) {
        let series = JobSeries(
            provider: record.provider, algorithm: record.algorithm, operation: record.operation, status: record.status,
            error: record.error?.code)
        let handles = Self.handles(for: series, in: jobHandles) { series in
            let algorithm = series.algorithm.rawValue
            let values = [
                series.provider, algorithm, series.operation.rawValue, series.status.rawValue, series.error?.rawValue ?? "none",
            ]
            return (
                registry.makeCounter(
                    descriptor: Self.named(
                        "offload_jobs_total",
                        "Jobs finished, by provider, algorithm, operation, status and error code (none when completed)."),
                    labels: Array(zip(["provider", "algorithm", "operation", "status", "error"], values))),
                durationHistogram(
                    "offload_job_duration_seconds", "From a job's submission to its end, by algorithm.",
                    label: ("algorithm", algorithm)),
                durationHistogram(
                    "offload_device_duration_seconds",
                    "From an operation's submission to the device to its completion, by algorithm.",
                    label: ("algorithm", algorithm)))
        }
        handles.count.increment()
        if let completed = record.completedAt {
            handles.duration.recordNanoseconds(Int64(record.createdAt.nanoseconds(until: completed)))
        }
        if let device = record.deviceNanoseconds {
            handles.device.recordNanoseconds(Int64(device))
        }
    }

    /// The text exposition, with the gauges read from the engine now.
    func exposition(engine: Engine, memory: MemoryBudget, store: DurableStore?) -> [UInt8] {
        if let store {
            storeAvailable.set(to: store.isAvailable ? 1 : 0)
            storePendingWrites.set(Int64(store.pendingWrites))
            let committed = store.committed
            reportedStoreWrites.withLock { reported in
                if committed > reported { storeCommittedWrites.increment(by: Int64(committed - reported)) }
                reported = max(reported, committed)
            }
        }
        memoryInFlight.set(Int64(memory.heldBytes))
        memoryInFlightLimit.set(Int64(memory.limit))
        jobsInFlight.set(Int64(engine.jobsInFlight))
        jobsQueued.set(Int64(engine.jobsQueued))
        deviceRing.set(Int64(engine.device?.operationsOnDevice ?? 0))
        residentMemory.set(Int64(ProcessStatistics.residentMemoryBytes))
        openFileDescriptors.set(Int64(ProcessStatistics.openFileDescriptors))
        let cpu = ProcessStatistics.cpuSeconds
        reportedCPUSeconds.withLock { reported in
            if cpu > reported { cpuSeconds.increment(by: cpu - reported) }
            reported = max(reported, cpu)
        }
        let busy = engine.device?.unitBusyNanoseconds ?? []
        reportedBusy.withLock { reported in
            if reported.count != busy.count { reported = Array(repeating: 0, count: busy.count) }
            for unit in busy.indices {
                // Utilisation is the rate of this counter: busy seconds per second.
                registry.makeCounter(
                    descriptor: Self.named(
                        "offload_device_unit_transfer_seconds_total",
                        "Seconds each device unit spent transferring bytes at its throughput limit (not the fixed "
                            + "latency, during which a unit serves other operations): its rate is the unit's load."),
                    labels: [("unit", String(unit))]
                ).increment(by: Double(busy[unit] - reported[unit]) / 1e9)
                reported[unit] = busy[unit]
            }
        }
        return registry.emitToBuffer()
    }

    /// The registry returns the histogram a name and label already have, so series that share
    /// a label share it.
    private func durationHistogram(_ name: String, _ help: String, label: (name: String, value: String)) -> DurationHistogram {
        registry.makeDurationHistogram(
            descriptor: Self.named(name, help), labels: [(label.name, label.value)], buckets: Self.durationBuckets)
    }

    /// The handles of `series`, made once.
    private static func handles<Series: Hashable & Sendable, Handles: Sendable>(
        for series: Series, in cache: borrowing Mutex<[Series: Handles]>, make: (Series) -> Handles
    ) -> Handles {
        cache.withLock { cache in
            if let existing = cache[series] { return existing }
            let made = make(series)
            cache[series] = made
            return made
        }
    }
}
