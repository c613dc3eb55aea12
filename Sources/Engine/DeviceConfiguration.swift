internal import OffloadSim

/// How the simulated accelerator behaves. It is modelled on Intel QAT: a few pipelined
/// execution units fed from a submission ring of fixed depth. The model itself lives in the
/// offloadsim provider (C), so that the service and any program that loads `offloadsim.so`
/// drive the same device.
public struct DeviceConfiguration: Sendable {
    /// Pipeline latency of every operation, added after its unit has processed its bytes.
    public var latency: Duration
    /// Parallel execution units; each processes one operation's bytes at a time.
    public var units: Int
    /// Bytes per second one unit processes; nil is unlimited (latency alone).
    public var throughputBytesPerSecond: Double?
    /// Submission ring entries: operations on the device at once. A full ring asks the job to retry.
    public var queueDepth: Int
    /// Fraction of operations the device reports as failed.
    public var errorRate: Double
    /// Fraction of operations the device loses: they never complete (the job timeout ends them).
    public var stallRate: Double
    /// Seed of the fault injection, so a run can be repeated exactly.
    public var seed: UInt64
    /// Times a job retries a submission the ring had no room for (1 ms apart) before it fails.
    public var ringRetryLimit: Int

    public init(latency: Duration = .milliseconds(2), units: Int = 4, throughputBytesPerSecond: Double? = nil,
                queueDepth: Int = 4096, errorRate: Double = 0, stallRate: Double = 0,
                seed: UInt64 = UInt64.random(in: 0...UInt64.max), ringRetryLimit: Int = 100) {
        self.latency = latency
        self.units = units
        self.throughputBytesPerSecond = throughputBytesPerSecond
        self.queueDepth = queueDepth
        self.errorRate = errorRate
        self.stallRate = stallRate
        self.seed = seed
        self.ringRetryLimit = ringRetryLimit
    }

    func validate() throws {
        let invalid = EngineError.invalidConfiguration
        guard latency >= .zero else { throw invalid("The device latency cannot be negative.") }
        guard units >= 1 && units <= 4096 else { throw invalid("The device needs from 1 to 4096 units.") }
        guard queueDepth >= 1 && queueDepth <= 1 << 24 else {
            throw invalid("The device queue needs from 1 to 16777216 entries.")
        }
        guard ringRetryLimit >= 0 && ringRetryLimit <= 1_000_000 else {
            throw invalid("The ring retry limit must be from 0 to 1000000.")
        }
        if let throughput = throughputBytesPerSecond, !(throughput > 0 && throughput.isFinite) {
            throw invalid("The device throughput must be a positive number of bytes per second.")
        }
        guard (0...1).contains(errorRate), (0...1).contains(stallRate), errorRate + stallRate <= 1 else {
            throw invalid("The error and stall rates are fractions from 0 to 1, together at most 1.")
        }
    }

    var cConfiguration: offloadsim_config {
        var config = offloadsim_config()
        offloadsim_config_defaults(&config)
        config.latency_ns = latency.nanoseconds
        config.units = UInt32(units)
        config.throughput_bytes_per_second = throughputBytesPerSecond ?? 0
        config.queue_depth = UInt32(queueDepth)
        config.error_rate = errorRate
        config.stall_rate = stallRate
        config.seed = seed
        config.ring_retry_limit = UInt32(ringRetryLimit)
        return config
    }
}
