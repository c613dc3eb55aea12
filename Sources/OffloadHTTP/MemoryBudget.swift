import Engine
import Synchronization

/// Bytes the service holds for work in flight: request bodies being received and jobs that
/// have not finished (their input and output). New requests are refused while it is spent;
/// a job whose body was admitted always runs, so a full budget cannot strand accepted work.
final class MemoryBudget: Sendable {
    /// The bytes new work may take; what is held may pass it by the jobs of bodies admitted
    /// just below it (at most twice their size again).
    let limit: Int
    private let held = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    var heldBytes: Int { held.load(ordering: .relaxed) }

    /// Whether `bytes` more fit now.
    func hasRoom(for bytes: Int) -> Bool { heldBytes + bytes <= limit }

    /// Takes `bytes` if they fit, or takes nothing and says no.
    func reserve(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return true }
        guard held.add(bytes, ordering: .relaxed).newValue <= limit else {
            held.subtract(bytes, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Takes `bytes` whether or not they fit: for work already admitted.
    func take(_ bytes: Int) {
        held.add(bytes, ordering: .relaxed)
    }

    func release(_ bytes: Int) {
        held.subtract(bytes, ordering: .relaxed)
    }

    /// What a job holds until it finishes: its input and its output (the input's size, plus an
    /// AEAD's nonce and tag), and its associated data.
    static func bytes(of job: JobRequest) -> Int {
        2 * job.input.count + job.aad.count + 64
    }
}
