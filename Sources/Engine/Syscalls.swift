internal import CLinux
import Glibc

/// A Linux eventfd: a counter another thread can bump to wake a waiter.
/// Thread-safe: write and read are single syscalls on an fd that lives as long as the object.
final class EventFD: Sendable {
    let fd: Int32

    init() throws {
        fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fd >= 0 else { throw EngineError.system("eventfd") }
    }

    deinit { close(fd) }

    /// Adds one to the counter; never blocks (the counter cannot overflow in practice).
    func signal() {
        var one: UInt64 = 1
        _ = write(fd, &one, MemoryLayout<UInt64>.size)
    }

    /// Reads and resets the counter; false when nothing was signalled since the last read.
    func consume() -> Bool {
        var value: UInt64 = 0
        return read(fd, &value, MemoryLayout<UInt64>.size) == MemoryLayout<UInt64>.size
    }
}

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

/// An epoll set. `@unchecked Sendable`: it is built on one thread and then handed to the one
/// thread that waits on it and changes it; no other thread touches it.
final class Epoll: @unchecked Sendable {
    let fd: Int32
    private var events: [epoll_event]

    init(capacity: Int = 256) throws {
        fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard fd >= 0 else { throw EngineError.system("epoll_create1") }
        events = Array(repeating: epoll_event(), count: capacity)
    }

    deinit { close(fd) }

    /// Watches `watched` for readability; `token` comes back from `wait`.
    func add(_ watched: Int32, token: UInt64) throws {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = token
        guard epoll_ctl(fd, EPOLL_CTL_ADD, watched, &event) == 0 else {
            throw EngineError.system("epoll_ctl(ADD)")
        }
    }

    func remove(_ watched: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(fd, EPOLL_CTL_DEL, watched, &event)
    }

    /// Waits until at least one fd is readable and hands each ready token to `body`.
    func wait(timeoutMilliseconds: Int32 = -1, _ body: (UInt64) -> Void) {
        let count = events.withUnsafeMutableBufferPointer { buffer in
            epoll_wait(fd, buffer.baseAddress, Int32(buffer.count), timeoutMilliseconds)
        }
        guard count > 0 else { return }
        for index in 0..<Int(count) {
            body(events[index].data.u64)
        }
    }
}

/// Monotonic nanoseconds, the clock every duration in this module is measured on.
@inline(__always)
func readMonotonicClock() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Wall-clock nanoseconds since the Unix epoch, for the timestamps clients see.
@inline(__always)
func readWallClock() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Starts a joinable POSIX thread running `body`.
final class NativeThread: @unchecked Sendable {
    // The handle is written once by pthread_create and read by join, both on the creating thread.
    private var handle = pthread_t()

    init(name: String, _ body: @escaping @Sendable () -> Void) throws {
        let box = Unmanaged.passRetained(ThreadBody(name: name, body: body)).toOpaque()
        let result = pthread_create(&handle, nil, { argument in
            let threadBody = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
            _ = CLinux_set_thread_name(String(threadBody.name.prefix(15)))
            threadBody.body()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(box).release()
            throw EngineError.system("pthread_create", errno: result)
        }
    }

    func join() {
        _ = pthread_join(handle, nil)
    }
}

private final class ThreadBody {
    let name: String
    let body: @Sendable () -> Void
    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}
