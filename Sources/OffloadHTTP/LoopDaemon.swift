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
    /// Requests begun on this daemon and not yet completed: shutdown keeps the loop until none.
    let requestsInProgress = RequestCounter()
    /// A connection was resumed since the daemon last ran. Without a thread of its own,
    /// libmicrohttpd 0.9.75 has no inter-thread channel to wake its epoll fd on a resume: it
    /// takes the connection back only when `MHD_run` is next called, which this makes the
    /// loop do at once.
    private let resumed = Atomic<Bool>(false)

    init(pointer: OpaquePointer) {
        self.pointer = pointer
        watchedFD = CMicroHTTPD_epoll_fd(pointer)
    }

    func timeoutMilliseconds() -> Int? {
        if resumed.load(ordering: .acquiring) { return 0 }
        let timeout = CMicroHTTPD_timeout_ms(pointer)
        return timeout < 0 ? nil : Int(timeout)
    }

    func run() {
        resumed.store(false, ordering: .releasing)
        _ = MHD_run(pointer)
    }

    /// Resumes a suspended connection of this daemon; the loop then runs the daemon at once.
    func resume(_ connection: OpaquePointer) {
        MHD_resume_connection(connection)
        resumed.store(true, ordering: .releasing)
    }

    /// A request of this daemon is still being answered.
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
    private var daemons: [LoopDaemon] = []

    func set(_ daemons: [LoopDaemon]) { self.daemons = daemons }

    /// The loop whose daemon serves `connection`, and that daemon.
    func loop(of connection: OpaquePointer) -> (index: Int, daemon: LoopDaemon) {
        let pointer = CMicroHTTPD_connection_daemon(connection)
        let index = daemons.firstIndex { $0.pointer == pointer } ?? 0
        return (index, daemons[index])
    }
}
