internal import CCipherJob
import Glibc
import Synchronization

/// Measures how much of its 32 KiB fibre stack a job really uses: the job function paints the
/// stack below its frame at entry and finds, at the end, the lowest byte that was written
/// (cipher_job.c). A diagnostic for tests and benchmarks; off in normal service.
final class FibreStackGauge: Sendable {
    /// False under AddressSanitizer, which keeps frames elsewhere and poisons the memory the
    /// gauge paints and reads: the gauge then stays off.
    static let isSupported = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") == nil

    /// How far below the entry frame the paint reaches. Job functions start within a few
    /// hundred bytes of the top of OpenSSL's 32 KiB stack, so this stays inside it.
    static let paintedBytes = Int(CIPHER_JOB_PAINTED_BYTES)
    /// Left unpainted just below the entry frame, for the painting call's own frame.
    static let unpaintedGap = Int(CIPHER_JOB_UNPAINTED_GAP)
    private let deepest = Atomic<Int>(0)

    /// The deepest use seen, in bytes below the job function's entry frame.
    var deepestBytes: Int { deepest.load(ordering: .relaxed) }

    func record(_ bytes: Int) {
        deepest.max(bytes, ordering: .relaxed)
    }

    /// Paints the calling thread's stack, for checking the gauge itself.
    func paint() -> UInt { UInt(cipher_job_paint_stack()) }

    /// Records the deepest use since `paint`.
    func measure(paintedTop top: UInt) { record(cipher_job_measure_stack(UInt(top))) }
}
