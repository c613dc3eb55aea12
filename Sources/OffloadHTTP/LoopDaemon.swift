internal import CMicroHTTPD
import Engine
import Synchronization

/// One libmicrohttpd daemon without a thread of its own, run by an engine loop: the loop
/// watches the daemon's epoll fd and calls `MHD_run` when it is readable, when the daemon's
/// timeout passes, and after jobs finished (their connections were resumed).
///
/// `@unchecked Sendable`: the pointer is used by the loop's thread only while the loop runs
/// (`run`, `timeoutMilliseconds`, and the tasks `Daemon` performs on the loop), and by `Daemon`
/// to free it after the loop has ended.
final class LoopDaemon: EngineLoopGuest, @unchecked Sendable {
    let pointer: OpaquePointer
    let watchedFD: Int32
    private let requestsInProgress: RequestCounter

    init(pointer: OpaquePointer, requestsInProgress: RequestCounter) {
        self.pointer = pointer
        watchedFD = CMicroHTTPD_epoll_fd(pointer)
        self.requestsInProgress = requestsInProgress
    }

    func timeoutMilliseconds() -> Int? {
        let timeout = CMicroHTTPD_timeout_ms(pointer)
        return timeout < 0 ? nil : Int(timeout)
    }

    func run() {
        _ = MHD_run(pointer)
    }

    /// Any request still being answered, on any loop: shutdown waits for them all.
    var isBusy: Bool { requestsInProgress.value > 0 }
}

/// A count shared by the loops: requests begun and not yet completed, daemons still listening.
final class RequestCounter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .acquiring) }
    /// Adds `delta`; returns the new count.
    @discardableResult
    func add(_ delta: Int) -> Int { count.add(delta, ordering: .acquiringAndReleasing).newValue }
}

/// The loops' daemons in loop order, to tell which loop a connection is on. Written once
/// before any loop runs its daemon (the hand-over to the loops orders it), read after.
final class LoopTable: @unchecked Sendable {
    private var daemons: [OpaquePointer] = []

    func set(_ daemons: [OpaquePointer]) { self.daemons = daemons }

    /// The loop whose daemon serves `connection`.
    func loop(of connection: OpaquePointer) -> Int {
        guard let daemon = CMicroHTTPD_connection_daemon(connection) else { return 0 }
        return daemons.firstIndex(of: daemon) ?? 0
    }
}
