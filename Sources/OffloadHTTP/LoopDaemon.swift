internal import CMicroHTTPD
import Engine
import Synchronization

/// One libmicrohttpd daemon without a thread of its own, run by an engine loop: the loop
/// watches the daemon's epoll fd and calls `MHD_run` when it is readable, when the daemon's
/// timeout passes, and after jobs finished (their answers wait).
///
/// `@unchecked Sendable`: the pointer is used by the loop's thread only while the loop runs
/// (`run`, `timeoutMilliseconds`, and the tasks `Daemon` performs on the loop), and by `Daemon`
/// to free it after the loop has ended.
final class LoopDaemon: EngineLoopGuest, @unchecked Sendable {
    let pointer: OpaquePointer
    /// The engine loop that runs it: its connections' jobs run there too.
    let index: Int
    let watchedFD: Int32
    /// Requests begun on this daemon and not yet completed: shutdown keeps the loop until none.
    let requestsInProgress = SharedCounter()
    /// An answer waits since the daemon last ran (a connection resumed, or one whose handler
    /// will be called again). Without a thread of its own, libmicrohttpd 0.9.75 has no
    /// inter-thread channel to wake its epoll fd on a resume: it takes the connection back only
    /// when `MHD_run` is next called, which this makes the loop do at once.
    private let answersWait = Atomic<Bool>(false)

    init(pointer: OpaquePointer, index: Int) {
        self.pointer = pointer
        self.index = index
        watchedFD = CMicroHTTPD_epoll_fd(pointer)
    }

    func timeoutMilliseconds() -> Int? {
        if answersWait.load(ordering: .acquiring) { return 0 }
        let timeout = CMicroHTTPD_timeout_ms(pointer)
        return timeout < 0 ? nil : Int(timeout)
    }

    func run() {
        answersWait.store(false, ordering: .releasing)
        _ = MHD_run(pointer)
    }

    /// An answer waits for a connection that is not suspended: the loop runs the daemon at
    /// once, which calls the request's handler again.
    func answerIsWaiting() { answersWait.store(true, ordering: .releasing) }

    /// Suspends a connection of this daemon until `resume`.
    func suspend(_ connection: OpaquePointer) {
        MHD_suspend_connection(connection)
    }

    /// Resumes a suspended connection of this daemon; the loop then runs the daemon at once.
    func resume(_ connection: OpaquePointer) {
        MHD_resume_connection(connection)
        answersWait.store(true, ordering: .releasing)
    }

    /// A request of this daemon is still being answered.
    var isBusy: Bool { requestsInProgress.value > 0 }
}

/// A count shared between threads: a daemon's requests in progress, daemons still listening.
final class SharedCounter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .acquiring) }
    /// Adds `delta`; returns the new count.
    @discardableResult
    func add(_ delta: Int) -> Int { count.add(delta, ordering: .acquiringAndReleasing).newValue }
}

/// The loops' daemons in loop order. Written once before any loop runs its daemon (the
/// hand-over to the loops orders it), read after.
final class LoopTable: @unchecked Sendable {
    private(set) var daemons: [LoopDaemon] = []

    func set(_ daemons: [LoopDaemon]) { self.daemons = daemons }

    /// The daemon that serves `connection`.
    func daemon(serving connection: OpaquePointer) -> LoopDaemon {
        let pointer = CMicroHTTPD_connection_daemon(connection)
        return daemons.first { $0.pointer == pointer } ?? daemons[0]
    }
}
