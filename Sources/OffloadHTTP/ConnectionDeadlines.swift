import Dispatch
import Engine
import Glibc
import Synchronization

/// Deadlines for a request's head and body, whatever the client sends. libmicrohttpd's own
/// timeout restarts with every byte, so a client trickling a byte at a time (slowloris) would
/// hold its connection for ever; here a connection waiting for a request head must finish it
/// within the timeout of opening (or of its previous answer), and a body must arrive within
/// the timeout plus a second per 64 KiB. Past that, a timer shuts the socket down and
/// libmicrohttpd closes the connection.
///
/// Connections are known by the id libmicrohttpd keeps for them (their socket context);
/// their fds are shut down under the same lock that their close notification takes, and
/// libmicrohttpd closes an fd only after that notification, so a reused fd is never touched.
final class ConnectionDeadlines: @unchecked Sendable {
    // @unchecked: `timer` is a dispatch source, safe to cancel from any thread, set up in
    // init; every other piece of state is behind `state`'s lock or atomic.
    private enum Phase {
        /// Waiting for (the rest of) a request line and headers, since then.
        case awaitingHead(since: UInt64)
        /// Receiving a body, which must be complete by then.
        case receivingBody(dueBy: UInt64)
        /// Its request is being run or answered: no deadline here (the job has its own).
        case busy
        /// Shut down; libmicrohttpd will close it.
        case cutOff
    }

    private struct Entry {
        let fd: Int32
        var phase: Phase
    }

    /// Bytes a slow body is given a second for, beyond the timeout.
    private static let bodyBytesPerSecond: UInt64 = 64 * 1024

    private let timeout: UInt64
    private let state = Mutex<(entries: [UInt: Entry], nextID: UInt)>(([:], 1))
    private let timer: DispatchSourceTimer
    private let cutOffCount = Atomic<Int>(0)

    /// `timeout` zero turns deadlines off (as it turns libmicrohttpd's timeout off).
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

    /// A connection opened; returns its id for libmicrohttpd to keep.
    func opened(fd: Int32) -> UInt {
        let now = Self.now()
        return state.withLock { state in
            let id = state.nextID
            state.nextID &+= 1
            state.entries[id] = Entry(fd: fd, phase: .awaitingHead(since: now))
            return id
        }
    }

    /// Its request head arrived; a body of `declaredBytes` may follow.
    func headReceived(_ id: UInt, declaredBytes: Int) {
        guard timeout > 0 else { return }
        let due = Self.now() + timeout + UInt64(max(0, declaredBytes)) / Self.bodyBytesPerSecond * 1_000_000_000
        setPhase(id, .receivingBody(dueBy: due))
    }

    /// Its request is complete and running.
    func bodyReceived(_ id: UInt) { setPhase(id, .busy) }

    /// It was answered; the next request's head is awaited from now.
    func answered(_ id: UInt) { setPhase(id, .awaitingHead(since: Self.now())) }

    /// It closed (libmicrohttpd closes the fd after this).
    func closed(_ id: UInt) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }

    private func setPhase(_ id: UInt, _ phase: Phase) {
        state.withLock { state in
            // One lookup, the entry changed in place.
            guard let index = state.entries.index(forKey: id) else { return }
            if case .cutOff = state.entries.values[index].phase { return }
            state.entries.values[index].phase = phase
        }
    }

    private func enforce() {
        guard timeout > 0 else { return }
        let now = Self.now()
        var cut = 0
        state.withLock { state in
            for (id, entry) in state.entries {
                let late = switch entry.phase {
                case .awaitingHead(let since): now >= since + timeout
                case .receivingBody(let due): now >= due
                case .busy, .cutOff: false
                }
                guard late else { continue }
                // Both directions: libmicrohttpd reads end-of-file and closes the connection.
                _ = shutdown(entry.fd, Int32(SHUT_RDWR))
                state.entries[id]?.phase = .cutOff
                cut += 1
            }
        }
        if cut > 0 { cutOffCount.add(cut, ordering: .relaxed) }
    }

    private static func now() -> UInt64 { Timestamp.monotonicNow() }
}
