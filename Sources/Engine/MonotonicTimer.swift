internal import CLinux
import Glibc

/// A timerfd on CLOCK_MONOTONIC armed with absolute deadlines.
final class MonotonicTimer: Sendable {
    let fd: Int32

    init() throws {
        fd = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
        guard fd >= 0 else { throw EngineError.system("timerfd_create") }
    }

    deinit { close(fd) }

    /// Fires once at `deadline` (monotonic nanoseconds); a deadline in the past fires at once.
    func arm(at deadline: UInt64) {
        let due = max(deadline, 1)  // 0 would disarm
        var spec = itimerspec(
            it_interval: timespec(tv_sec: 0, tv_nsec: 0),
            it_value: timespec(tv_sec: Int(due / 1_000_000_000), tv_nsec: Int(due % 1_000_000_000)))
        _ = timerfd_settime(fd, Int32(TFD_TIMER_ABSTIME), &spec, nil)
    }

    /// Stops the timer from firing.
    func disarm() {
        var spec = itimerspec()
        _ = timerfd_settime(fd, 0, &spec, nil)
    }

    func consume() {
        var expirations: UInt64 = 0
        _ = read(fd, &expirations, MemoryLayout<UInt64>.size)
    }
}
