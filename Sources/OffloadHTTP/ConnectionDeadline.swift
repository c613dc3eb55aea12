import Synchronization

/// One open connection's deadline: moved on by the connection's loop, read by the deadline
/// timer. An atomic, so a request's moves take no lock and share no cache line with other
/// connections' (a dictionary under one lock for every loop's connections was three locked
/// lookups a request, whose line passed between the cores).
final class ConnectionDeadline: Sendable {
    /// The connection's id for the admission limits and the deadline table.
    let id: UInt
    let fd: Int32
    /// Monotonic nanoseconds by which the connection must have made its next step (a head
    /// complete, a body received, an answer taken); 0 while it waits on the service.
    private let dueBy: Atomic<UInt64>
    /// Shut down for a missed deadline; libmicrohttpd will close it.
    private let cutOffMark = Atomic<Bool>(false)

    init(id: UInt, fd: Int32, dueBy: UInt64) {
        self.id = id
        self.fd = fd
        self.dueBy = Atomic(dueBy)
    }

    /// Sets the next deadline (0: none). Relaxed: the timer reading an older one a moment
    /// later only moves a cut-off by less than its own period.
    func set(dueBy monotonicNanoseconds: UInt64) {
        dueBy.store(monotonicNanoseconds, ordering: .relaxed)
    }

    /// Whether the deadline has passed at `now`.
    func isLate(at now: UInt64) -> Bool {
        let due = dueBy.load(ordering: .relaxed)
        return due != 0 && now >= due
    }

    /// Acquiring, as the mark is stored releasing before the socket is shut down: the loop that
    /// sees the shutdown sees the mark.
    var isCutOff: Bool { cutOffMark.load(ordering: .acquiring) }

    func markCutOff() { cutOffMark.store(true, ordering: .releasing) }
}
