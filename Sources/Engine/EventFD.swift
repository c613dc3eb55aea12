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
