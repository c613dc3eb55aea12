import Engine
import Prometheus
import Store
import Synchronization

/// The service's Prometheus metrics, in a registry of its own (not a process-wide one, so that
/// several servers in one process, as in the tests, stay apart). swift-prometheus's own API
/// rather than swift-metrics' facade: only the former writes `# HELP` lines.
final class ServiceMetrics: Sendable {
    private enum Metric: Hashable {
        case requests, requestDuration, jobs, jobDuration, deviceDuration
    }

    /// A metric and its label values: the key of a handle made once.
    private struct HandleKey: Hashable {
        let metric: Metric
        let values: [String]
    }

    private let registry = PrometheusCollectorRegistry()
    /// Handles already made: making one takes the registry's lock and builds its name.
    private let counters = Mutex<[HandleKey: Counter]>([:])
    private let histograms = Mutex<[HandleKey: DurationHistogram]>([:])
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
    private static let knownMethods: Set<String> = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ]

    /// One HTTP request answered, `duration` after its headers arrived. `route` is a route
    /// template or `unmatched`, never the path.
    func requestAnswered(route: String, method rawMethod: String, status: Int, duration: Duration) {
        let method = Self.knownMethods.contains(rawMethod) ? rawMethod : "other"
        let status = String(status)
        Self.handle(HandleKey(metric: .requests, values: [route, method, status]), in: counters) {
            registry.makeCounter(
                descriptor: Self.named("offload_http_requests_total", "HTTP requests answered, by route, method and status."),
                labels: [("route", route), ("method", method), ("status", status)])
        }.increment()
        histogram(
            .requestDuration, "offload_http_request_duration_seconds",
            "From a request's headers to its answer, by route (a synchronous job's device time included).",
            label: ("route", route)
        ).record(duration)
    }

    /// One job finished: counted by provider, algorithm, operation and final status, with its durations.
    func jobFinished(_ record: JobRecord) {
        let algorithm = record.algorithm.rawValue
        let values = [
            record.provider, algorithm, record.operation.rawValue, record.status.rawValue, record.error?.code.rawValue ?? "none",
        ]
        Self.handle(HandleKey(metric: .jobs, values: values), in: counters) {
            registry.makeCounter(
                descriptor: Self.named(
                    "offload_jobs_total",
                    "Jobs finished, by provider, algorithm, operation, status and error code (none when completed)."),
                labels: Array(zip(["provider", "algorithm", "operation", "status", "error"], values)))
        }.increment()
        if let completed = record.completedAt {
            histogram(
                .jobDuration, "offload_job_duration_seconds", "From a job's submission to its end, by algorithm.",
                label: ("algorithm", algorithm)
            ).recordNanoseconds(Int64(record.createdAt.nanoseconds(until: completed)))
        }
        if let device = record.deviceNanoseconds {
            histogram(
                .deviceDuration, "offload_device_duration_seconds",
                "From an operation's submission to the device to its completion, by algorithm.",
                label: ("algorithm", algorithm)
            ).recordNanoseconds(Int64(device))
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

    private func histogram(
        _ metric: Metric, _ name: String, _ help: String, label: (name: String, value: String)
    ) -> DurationHistogram {
        Self.handle(HandleKey(metric: metric, values: [label.value]), in: histograms) {
            registry.makeDurationHistogram(
                descriptor: Self.named(name, help), labels: [(label.name, label.value)], buckets: Self.durationBuckets)
        }
    }

    /// The handle for `key`, made once.
    private static func handle<Handle>(
        _ key: HandleKey, in cache: borrowing Mutex<[HandleKey: Handle]>, make: () -> Handle
    ) -> Handle {
        cache.withLock { cache in
            if let existing = cache[key] { return existing }
            let made = make()
            cache[key] = made
            return made
        }
    }
}
