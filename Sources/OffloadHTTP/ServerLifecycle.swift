import Synchronization

/// Where the HTTP side is in its life; it only moves forward. Read on every request (one
/// atomic load), moved by shutdown.
final class ServerLifecycle: Sendable {
    enum Phase: UInt8, Comparable {
        /// Serving, and ready.
        case running
        /// Still serving every request, but `/readyz` answers 503 and answers close their
        /// connections, so that load balancers stop sending here (`--drain-delay`).
        case leaving
        /// No new connections; new jobs refused with 503; jobs in flight finish and are answered.
        case draining
        /// The libmicrohttpd daemons are stopped and freed: nothing calls back into the server.
        case stopped

        static func < (lhs: Phase, rhs: Phase) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    private let phase = Atomic<UInt8>(Phase.running.rawValue)

    var current: Phase { Phase(rawValue: phase.load(ordering: .acquiring))! }

    /// Moves to `next` unless the server is already there or further; says whether it moved.
    @discardableResult
    func advance(to next: Phase) -> Bool {
        var seen = phase.load(ordering: .relaxed)
        while seen < next.rawValue {
            let (exchanged, original) = phase.compareExchange(
                expected: seen, desired: next.rawValue, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            seen = original
        }
        return false
    }
}
