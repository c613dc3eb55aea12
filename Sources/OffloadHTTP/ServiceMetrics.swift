import CoreMetrics
import Engine
import Prometheus
import Store
import Synchronization

/// The service's Prometheus metrics, through swift-metrics with a registry of its own (not
/// the process-wide one, so that several servers in one process, as in the tests, stay apart).
final class ServiceMetrics: Sendable {
    private enum Metric: Hashable {
        case requests, jobs, jobDuration, deviceDuration
    }

    /// A metric and its label values: the key of a handle made once.
    private struct HandleKey: Hashable {
        let metric: Metric
        let values: [String]
    }

    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    /// Handles already made: making one takes the registry's lock and builds its name.
    private let counters = Mutex<[HandleKey: CoreMetrics.Counter]>([:])
    private let timers = Mutex<[HandleKey: CoreMetrics.Timer]>([:])
    private let jobsInFlight: CoreMetrics.Gauge
    private let jobsQueued: CoreMetrics.Gauge
    private let deviceRing: CoreMetrics.Gauge
    private let residentMemory: CoreMetrics.Gauge
    private let memoryInFlight: CoreMetrics.Gauge
    private let memoryInFlightLimit: CoreMetrics.Gauge
    private let openFileDescriptors: CoreMetrics.Gauge
    private let cpuSeconds: FloatingPointCounter
    private let storeAvailable: CoreMetrics.Gauge
    private let storePendingWrites: CoreMetrics.Gauge
    private let storeCommittedWrites: CoreMetrics.Counter
    /// The store's writes already added to their counter.
    private let reportedStoreWrites = Mutex<Int>(0)
    /// Busy time per device unit, and CPU time, already added to their counters.
    private let reportedBusy = Mutex<[UInt64]>([])
    private let reportedCPUSeconds = Mutex<Double>(0)

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
        ]
        self.factory = factory
        jobsInFlight = CoreMetrics.Gauge(label: "offload_jobs_in_flight", factory: factory)
        jobsQueued = CoreMetrics.Gauge(label: "offload_jobs_queued", factory: factory)
        deviceRing = CoreMetrics.Gauge(label: "offload_device_queue_depth", factory: factory)
        residentMemory = CoreMetrics.Gauge(label: "process_resident_memory_bytes", factory: factory)
        memoryInFlight = CoreMetrics.Gauge(label: "offload_memory_in_flight_bytes", factory: factory)
        memoryInFlightLimit = CoreMetrics.Gauge(label: "offload_memory_in_flight_limit_bytes", factory: factory)
        openFileDescriptors = CoreMetrics.Gauge(label: "process_open_fds", factory: factory)
        cpuSeconds = FloatingPointCounter(label: "process_cpu_seconds_total", factory: factory)
        // Constant 1, with the versions as labels (the Prometheus idiom for build facts).
        CoreMetrics.Gauge(
            label: "offload_build_info", dimensions: [("version", ServiceVersion.current), ("openssl", Engine.openSSLVersion)],
            factory: factory
        ).record(1)
        storeAvailable = CoreMetrics.Gauge(label: "offload_store_available", factory: factory)
        storePendingWrites = CoreMetrics.Gauge(label: "offload_store_pending_writes", factory: factory)
        storeCommittedWrites = CoreMetrics.Counter(label: "offload_store_writes_total", factory: factory)
    }

    /// The methods counted under their own name; any other is `other`, so that a client cannot
    /// grow the label set (and /metrics) with the bytes it sends.
    private static let knownMethods: Set<String> = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ]

    /// One HTTP request answered. `route` is a route template or `unmatched`, never the path.
    func requestAnswered(route: String, method rawMethod: String, status: Int) {
        let method = Self.knownMethods.contains(rawMethod) ? rawMethod : "other"
        let status = String(status)
        Self.handle(HandleKey(metric: .requests, values: [route, method, status]), in: counters) {
            CoreMetrics.Counter(
                label: "offload_http_requests_total",
                dimensions: [("route", route), ("method", method), ("status", status)], factory: factory)
        }.increment()
    }

    /// One job finished: counted by provider, algorithm, operation and final status, with its durations.
    func jobFinished(_ record: JobRecord) {
        let algorithm = record.algorithm.rawValue
        let values = [
            record.provider, algorithm, record.operation.rawValue, record.status.rawValue, record.error?.code.rawValue ?? "none",
        ]
        Self.handle(HandleKey(metric: .jobs, values: values), in: counters) {
            CoreMetrics.Counter(
                label: "offload_jobs_total",
                dimensions: Array(zip(["provider", "algorithm", "operation", "status", "error"], values)),
                factory: factory)
        }.increment()
        if let completed = record.completedAt {
            timer(.jobDuration, "offload_job_duration_seconds", algorithm: algorithm)
                .recordNanoseconds(Int64(record.createdAt.nanoseconds(until: completed)))
        }
        if let device = record.deviceNanoseconds {
            timer(.deviceDuration, "offload_device_duration_seconds", algorithm: algorithm)
                .recordNanoseconds(Int64(device))
        }
    }

    /// The text exposition, with the gauges read from the engine now.
    func exposition(engine: Engine, memory: MemoryBudget, store: DurableStore?) -> [UInt8] {
        if let store {
            storeAvailable.record(store.isAvailable ? 1 : 0)
            storePendingWrites.record(store.pendingWrites)
            let committed = store.committed
            reportedStoreWrites.withLock { reported in
                if committed > reported { storeCommittedWrites.increment(by: Int64(committed - reported)) }
                reported = max(reported, committed)
            }
        }
        memoryInFlight.record(memory.heldBytes)
        memoryInFlightLimit.record(memory.limit)
        jobsInFlight.record(engine.jobsInFlight)
        jobsQueued.record(engine.jobsQueued)
        deviceRing.record(engine.device?.operationsOnDevice ?? 0)
        residentMemory.record(ProcessStatistics.residentMemoryBytes)
        openFileDescriptors.record(ProcessStatistics.openFileDescriptors)
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
                FloatingPointCounter(
                    label: "offload_device_unit_busy_seconds_total", dimensions: [("unit", String(unit))],
                    factory: factory
                ).increment(by: Double(busy[unit] - reported[unit]) / 1e9)
                reported[unit] = busy[unit]
            }
        }
        return registry.emitToBuffer()
    }

    private func timer(_ metric: Metric, _ name: String, algorithm: String) -> CoreMetrics.Timer {
        Self.handle(HandleKey(metric: metric, values: [algorithm]), in: timers) {
            CoreMetrics.Timer(label: name, dimensions: [("algorithm", algorithm)], factory: factory)
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
