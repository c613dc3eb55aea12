internal import CLinux
import Dispatch
import Engine
import Synchronization

/// Bytes the service holds for work in flight: request bodies being received and jobs that
/// have not finished (their input and output). New requests are refused while it is spent;
/// a job whose body was admitted always runs, so a full budget cannot strand accepted work.
///
/// Once nothing is in flight after a burst, it gives the heap's free pages back to the system
/// (`malloc_trim`, or tcmalloc's own release in the release binary, which links it): glibc
/// keeps the pages of freed large buffers in its arenas (one per thread that allocated, and its
/// threshold for mmap-ed buffers rises after the first frees), tcmalloc in its page heap, so
/// RSS would otherwise stay at a burst's peak for long. A fixed mmap threshold would also do it
/// but costs 1 MiB requests about 40% of their throughput in page faults; a trim costs a few
/// milliseconds once per burst (bench/hostile measures both).
final class MemoryBudget: @unchecked Sendable {
    // @unchecked: `trimTimer` is a dispatch source, safe to cancel from any thread, set in init;
    // the rest is atomic.

    /// The bytes new work may take; what is held may pass it by the jobs of bodies admitted
    /// just below it (at most twice their size again).
    let limit: Int
    private let held = Atomic<Int>(0)
    /// Bytes taken since the heap was last trimmed.
    private let takenSinceTrim = Atomic<Int>(0)
    /// Times the heap was given back to the system.
    private let trims = Atomic<Int>(0)
    private let trimTimer: DispatchSourceTimer

    /// How many bytes must have come and gone before an idle moment trims the heap.
    static let trimAfterBytes = 32 << 20

    init(limit: Int) {
        self.limit = limit
        trimTimer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "offload-http.heap-trim"))
        trimTimer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250), leeway: .milliseconds(50))
        trimTimer.setEventHandler { [weak self] in self?.trimIfIdle() }
        trimTimer.resume()
    }

    func stop() { trimTimer.cancel() }

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
        takenSinceTrim.add(bytes, ordering: .relaxed)
        return true
    }

    /// Takes `bytes` whether or not they fit: for work already admitted.
    func take(_ bytes: Int) {
        held.add(bytes, ordering: .relaxed)
        takenSinceTrim.add(bytes, ordering: .relaxed)
    }

    func release(_ bytes: Int) {
        held.subtract(bytes, ordering: .relaxed)
    }

    /// Times the heap was trimmed since start.
    var heapTrims: Int { trims.load(ordering: .relaxed) }

    private func trimIfIdle() {
        guard heldBytes == 0, takenSinceTrim.load(ordering: .relaxed) >= Self.trimAfterBytes else { return }
        takenSinceTrim.store(0, ordering: .relaxed)
        CLinux_release_free_heap_memory()
        trims.add(1, ordering: .relaxed)
    }

    /// What a job holds until it finishes: its input and its output (the input's size, plus an
    /// AEAD's nonce and tag), and its associated data.
    static func bytes(of job: JobRequest) -> Int {
        2 * job.input.count + job.aad.count + 64
    }
}
