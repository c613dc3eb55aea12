internal import OffloadSim

/// The simulated accelerator the offloadsim provider drives. Thread-safe: the C device
/// guards its shared state with its own lock.
public final class SimulatedAccelerator: @unchecked Sendable {
    // @unchecked: `handle` is a C object whose functions may be called from any thread; it is
    // freed once, in deinit, after every provider and queue using it is gone.
    public let configuration: DeviceConfiguration
    let handle: OpaquePointer

    public init(configuration: DeviceConfiguration) throws {
        try configuration.validate()
        var config = configuration.cConfiguration
        if let problem = offloadsim_config_check(&config) {
            throw EngineError.invalidConfiguration(String(cString: problem))
        }
        guard let handle = offloadsim_device_new(&config) else {
            throw EngineError(code: .engineError, message: "The simulated accelerator could not be created.")
        }
        self.configuration = configuration
        self.handle = handle
    }

    deinit { offloadsim_device_free(handle) }

    /// Operations in the ring now.
    public var operationsOnDevice: Int { Int(offloadsim_device_occupancy(handle)) }

    /// Time each unit has spent processing bytes since start (zero with unlimited throughput).
    public var unitBusyNanoseconds: [UInt64] {
        (0..<configuration.units).map { offloadsim_device_unit_busy_ns(handle, UInt32($0)) }
    }

    /// A completion queue for one engine thread, which binds it and polls it.
    func makeQueue() throws -> DeviceQueue {
        guard let queue = offloadsim_queue_new(handle) else {
            throw EngineError(code: .engineError, message: "The device's completion queue could not be created.")
        }
        return DeviceQueue(handle: queue, device: self)
    }
}

extension Duration {
    /// Whole nanoseconds, never negative.
    public var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}
