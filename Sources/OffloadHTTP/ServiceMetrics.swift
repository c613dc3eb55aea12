import Engine
import Prometheus
import Store
import Synchronization

/// The service's Prometheus metrics, in a registry of its own (not a process-wide one, so that
/// several servers in one process, as in the tests, stay apart). swift-prometheus's own API
/// rather than swift-metrics' facade: only the former writes `# HELP` lines.
final class ServiceMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    /// Requests and jobs, counted by each engine loop on its own (the registry holds the rest).
    private let loops: [LoopMetrics]
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

    /// A metric's full name and its `# HELP` text.
    private static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// Metrics for a server of `loops` engine loops.
    init(loops: Int) {
        self.loops = (0..<max(loops, 1)).map { _ in LoopMetrics() }
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
        // POST first: most requests are jobs, and each name that does not match costs a
        // string comparison.
        case "POST", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE": method
        default: "other"
        }
    }

    /// One HTTP request answered on engine loop `loop`, `nanoseconds` after its headers arrived.
    /// `route` is a route template or `unmatched`, never the path.
    func requestAnswered(onLoop loop: Int, route: String, method rawMethod: String, status: Int, nanoseconds: UInt64) {
        let series = LoopMetrics.RequestSeries(route: route, method: Self.countedName(of: rawMethod), status: status)
        loops[loop].requestAnswered(series, nanoseconds: Int64(clamping: nanoseconds))
    }

    /// One job finished on engine loop `loop`: counted by provider, algorithm, operation and
    /// final status, with its durations.
    func jobFinished(_ record: JobRecord, onLoop loop: Int) {
        let series = LoopMetrics.JobSeries(
            provider: record.provider, algorithm: record.algorithm, operation: record.operation, status: record.status,
            error: record.error?.code)
        loops[loop].jobFinished(
            series, nanoseconds: record.completedAt.map { Int64(record.createdAt.nanoseconds(until: $0)) },
            deviceNanoseconds: record.deviceNanoseconds.map { Int64($0) })
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
        var text = registry.emitToBuffer()
        var total = LoopMetrics.State()
        for loop in loops { loop.add(to: &total) }
        MetricsText.appendRequests(total.requests, to: &text)
        MetricsText.appendJobs(total.jobs, to: &text)
        return text
    }
}
