internal import CLinux
import Glibc

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
