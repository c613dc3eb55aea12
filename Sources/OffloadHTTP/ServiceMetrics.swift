import CoreMetrics
import Engine
import Prometheus
import Synchronization

/// The service's Prometheus metrics, through swift-metrics with a registry of its own (not
/// the process-wide one, so that several servers in one process, as in the tests, stay apart).
final class ServiceMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    /// Handles already made, by name and labels: making one takes the registry's lock and a lookup.
    private let counters = Mutex<[String: CoreMetrics.Counter]>([:])
    private let timers = Mutex<[String: CoreMetrics.Timer]>([:])
    private let jobsInFlight: CoreMetrics.Gauge
    private let jobsQueued: CoreMetrics.Gauge
    private let deviceRing: CoreMetrics.Gauge
    /// Busy time per device unit already added to its counter.
    private let reportedBusy = Mutex<[UInt64]>([])

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
    }

    /// One HTTP request answered.
    func requestAnswered(route: String, method: String, status: Int) {
        counter("offload_http_requests_total", [("route", route), ("method", method), ("status", String(status))])
            .increment()
    }

    /// One job finished: counted by algorithm, operation and final status, with its durations.
    func jobFinished(_ record: JobRecord) {
        let labels = [
            ("algorithm", record.algorithm.rawValue), ("operation", record.operation.rawValue),
            ("status", record.status.rawValue), ("error", record.error?.code ?? ""),
        ]
        counter("offload_jobs_total", labels).increment()
        if let completed = record.completedAt {
            timer("offload_job_duration_seconds", [("algorithm", record.algorithm.rawValue)])
                .recordNanoseconds(Int64(record.createdAt.nanoseconds(until: completed)))
        }
        if let device = record.deviceNanoseconds {
            timer("offload_device_duration_seconds", [("algorithm", record.algorithm.rawValue)])
                .recordNanoseconds(Int64(device))
        }
    }

    /// The text exposition, with the gauges read from the engine now.
    func exposition(engine: Engine) -> [UInt8] {
        jobsInFlight.record(engine.jobsInFlight)
        jobsQueued.record(engine.jobsQueued)
        deviceRing.record(engine.device.operationsOnDevice)
        let busy = engine.device.unitBusyNanoseconds
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

    private func counter(_ name: String, _ labels: [(String, String)]) -> CoreMetrics.Counter {
        Self.handle(name, labels, in: counters) { CoreMetrics.Counter(label: name, dimensions: labels, factory: factory) }
    }

    private func timer(_ name: String, _ labels: [(String, String)]) -> CoreMetrics.Timer {
        Self.handle(name, labels, in: timers) { CoreMetrics.Timer(label: name, dimensions: labels, factory: factory) }
    }

    /// The handle for `name` and `labels`, made once.
    private static func handle<Handle>(
        _ name: String, _ labels: [(String, String)], in cache: borrowing Mutex<[String: Handle]>, make: () -> Handle
    ) -> Handle {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        return cache.withLock { cache in
            if let existing = cache[key] { return existing }
            let made = make()
            cache[key] = made
            return made
        }
    }
}
