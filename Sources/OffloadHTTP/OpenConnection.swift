import Synchronization

/// One open connection, from libmicrohttpd's notice that it opened to the one that it closed:
/// libmicrohttpd keeps it (retained) as the connection's socket context, so each request finds
/// its loop and its deadline without a lookup.
///
/// Its deadline is moved on by the connection's loop and read by the deadline timer: an atomic,
/// so a request's three moves take no lock and share no cache line with other connections'
/// (a dictionary under one lock for every loop's connections was three locked lookups a
/// request, whose line passed between the cores).
final class OpenConnection: Sendable {
    /// The connection's id for the admission limits and the deadline table.
    let id: UInt
    let fd: Int32
    /// The daemon that serves the connection; its loop runs the connection's requests too.
    let daemon: LoopDaemon
    /// Monotonic nanoseconds by which the connection must have made its next step (a head
    /// complete, a body received, an answer sent); 0 while it waits on the service.
    private let dueBy: Atomic<UInt64>
    /// Shut down for a missed deadline; libmicrohttpd will close it.
    private let cutOffMark = Atomic<Bool>(false)

    init(id: UInt, fd: Int32, daemon: LoopDaemon, dueBy: UInt64) {
        self.id = id
        self.fd = fd
        self.daemon = daemon
        self.dueBy = Atomic(dueBy)
    }

    /// Sets the next deadline (0: none). Relaxed: the timer reading an older one a moment
    /// later only moves a cut-off by less than its own period.
    func setDeadline(_ monotonicNanoseconds: UInt64) {
        dueBy.store(monotonicNanoseconds, ordering: .relaxed)
    }

    /// Whether the deadline has passed at `now`.
    func isLate(at now: UInt64) -> Bool {
        let due = dueBy.load(ordering: .relaxed)
        return due != 0 && now >= due
    }

    var isCutOff: Bool { cutOffMark.load(ordering: .relaxed) }

    func markCutOff() { cutOffMark.store(true, ordering: .relaxed) }
}
