import Glibc
import Synchronization

/// Measures how much of its 32 KiB fibre stack a job really uses, by painting the stack
/// below the job function's frame at entry and finding, at the end, the lowest byte that
/// was written. A diagnostic for tests and benchmarks; off in normal service.
final class FibreStackGauge: Sendable {
    /// False under AddressSanitizer, which keeps frames elsewhere and poisons the memory the
    /// gauge paints and reads: the gauge then stays off.
    static let isSupported = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") == nil

    /// How far below the entry frame the paint reaches. Job functions start within a few
    /// hundred bytes of the top of OpenSSL's 32 KiB stack, so this stays inside it.
    static let paintedBytes = 24 * 1024
    /// Left unpainted just below the entry frame, for the painting calls' own frames.
    static let unpaintedGap = 2 * 1024
    private static let pattern: UInt8 = 0xA5
    private let deepest = Atomic<Int>(0)

    /// The deepest use seen, in bytes below the job function's entry frame.
    var deepestBytes: Int { deepest.load(ordering: .relaxed) }

    /// Paints the stack below the caller and returns the address depths are measured from.
    @inline(never)
    func paint() -> UInt {
        let top = currentStackAddress()
        let low = top - UInt(Self.paintedBytes)
        UnsafeMutableRawPointer(bitPattern: low)!
            .initializeMemory(as: UInt8.self, repeating: Self.pattern, count: Self.paintedBytes - Self.unpaintedGap)
        return top
    }

    /// Finds the lowest written byte of the painted region and records the depth.
    /// A plain loop: a generic algorithm here would instantiate metadata on the fibre.
    func measure(paintedTop top: UInt) {
        let low = UnsafePointer<UInt8>(bitPattern: top - UInt(Self.paintedBytes))!
        var untouched = 0
        while untouched < Self.paintedBytes - Self.unpaintedGap && low[untouched] == Self.pattern {
            untouched += 1
        }
        deepest.max(Self.paintedBytes - untouched, ordering: .relaxed)
    }
}

@inline(never)
private func currentStackAddress() -> UInt {
    var marker: UInt8 = 0
    return withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
}
