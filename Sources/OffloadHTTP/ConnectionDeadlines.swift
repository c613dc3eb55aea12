import Dispatch
import Engine
import Glibc
import Synchronization

/// Deadlines for a request's head and body and for its answer, whatever the client does.
/// libmicrohttpd's own timeout restarts with every byte, so a client trickling a byte at a time
/// (slowloris) would hold its connection for ever; here a connection waiting for a request head
/// must finish it within the timeout of opening (or of its previous answer), a body must arrive
/// within the timeout plus a second per 64 KiB, and an answer must be taken by the client in as
/// long from the moment it is queued. Past that, a timer shuts the socket down and libmicrohttpd
/// closes the connection. libmicrohttpd's own timeout is off: these cover every phase it
/// timed (an idle connection is one awaiting a head), and it read the clock and moved the
/// connection in its timeout list several times a request.
///
/// Each connection's deadline lives in its `ConnectionDeadline` (held by its `OpenConnection`),
/// moved on by its loop; the table here, behind a lock, only lists the open ones for the timer.
/// Their fds are shut down under the same lock that their close notification takes, and
/// libmicrohttpd closes an fd only after that notification, so a reused fd is never touched.
final class ConnectionDeadlines: @unchecked Sendable {
    // @unchecked: `timer` is a dispatch source, safe to cancel from any thread, set up in
    // init; every other piece of state is behind `state`'s lock or atomic.

    /// Bytes a slow body or a slow reader is given a second for, beyond the timeout.
    private static let bytesPerSecond: UInt64 = 64 * 1024

    private let timeout: UInt64
    private let state = Mutex<(open: [UInt: ConnectionDeadline], nextID: UInt)>(([:], 1))
    private let timer: DispatchSourceTimer
    private let cutOffCount = Atomic<Int>(0)

    /// `timeout` zero turns deadlines off.
    init(timeoutSeconds: Int) {
        timeout = UInt64(max(0, timeoutSeconds)) * 1_000_000_000
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "offload-http.deadlines"))
        timer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250), leeway: .milliseconds(50))
        timer.setEventHandler { [weak self] in self?.enforce() }
        timer.resume()
    }

    func stop() { timer.cancel() }

    /// Connections cut off for missing a deadline since start.
    var connectionsCutOff: Int { cutOffCount.load(ordering: .relaxed) }

    /// A connection opened; its first head is due within the timeout.
    func opened(fd: Int32) -> ConnectionDeadline {
        let due = timeout > 0 ? Self.now() + timeout : 0
        return state.withLock { state in
            let connection = ConnectionDeadline(id: state.nextID, fd: fd, dueBy: due)
            state.nextID &+= 1
            state.open[connection.id] = connection
            return connection
        }
    }

    /// Its request head arrived; a body of `declaredBytes` may follow.
    func headReceived(_ connection: ConnectionDeadline, declaredBytes: Int) {
        guard timeout > 0 else { return }
        connection.set(dueBy: Self.now() + timeout + Self.secondsFor(bytes: declaredBytes))
    }

    /// Its request is complete and running: no deadline here (the job has its own).
    func bodyReceived(_ connection: ConnectionDeadline) {
        guard timeout > 0 else { return }
        connection.set(dueBy: 0)
    }

    /// An answer of `bytes` was queued at `now`: the client must take it within the timeout
    /// plus a second per 64 KiB.
    func answerQueued(_ connection: ConnectionDeadline, bytes: Int, at now: UInt64) {
        guard timeout > 0 else { return }
        connection.set(dueBy: now + timeout + Self.secondsFor(bytes: bytes))
    }

    /// It was answered at `now`; the next request's head is awaited from then.
    func answered(_ connection: ConnectionDeadline, at now: UInt64) {
        guard timeout > 0 else { return }
        connection.set(dueBy: now + timeout)
    }

    /// It closed (libmicrohttpd closes the fd after this).
    func closed(_ connection: ConnectionDeadline) {
        _ = state.withLock { $0.open.removeValue(forKey: connection.id) }
    }

    private static func secondsFor(bytes: Int) -> UInt64 {
        UInt64(max(0, bytes)) / bytesPerSecond * 1_000_000_000
    }

    private func enforce() {
        guard timeout > 0 else { return }
        let now = Self.now()
        var cut = 0
        state.withLock { state in
            for connection in state.open.values where !connection.isCutOff && connection.isLate(at: now) {
                // Marked first: the loop may see the shutdown, end the request and read the mark
                // before this thread runs on.
                connection.markCutOff()
                // Both directions: libmicrohttpd reads end-of-file (or fails to send) and closes
                // the connection.
                _ = shutdown(connection.fd, Int32(SHUT_RDWR))
                cut += 1
            }
        }
        if cut > 0 { cutOffCount.add(cut, ordering: .relaxed) }
    }

    private static func now() -> UInt64 { Timestamp.monotonicNow() }
}
