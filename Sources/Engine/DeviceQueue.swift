internal import OffloadSim

/// A completion queue of the device, confined to the engine thread that polls it: operations
/// that thread submits complete here, and it harvests them on its own loop (QAT's external
/// polling), so no device thread sits on the hot path.
final class DeviceQueue {
    private let handle: OpaquePointer
    /// Keeps the device alive as long as its queue.
    private let device: SimulatedAccelerator

    init(handle: OpaquePointer, device: SimulatedAccelerator) {
        self.handle = handle
        self.device = device
    }

    deinit { offloadsim_queue_free(handle) }

    /// Makes the calling thread's operations complete on this queue.
    func bindCurrentThread() { offloadsim_queue_bind_current_thread(handle) }

    func unbindCurrentThread() { offloadsim_queue_bind_current_thread(nil) }

    /// Completes what is due by `now` (monotonic nanoseconds) and notifies the jobs.
    @discardableResult
    func poll(now: UInt64) -> Int { offloadsim_queue_poll(handle, now) }

    /// When the next completion or retry is due, or nil.
    var nextDue: UInt64? {
        let due = offloadsim_queue_next_due(handle)
        return due == .max ? nil : due
    }
}
