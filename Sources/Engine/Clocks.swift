internal import CLinux
import Glibc
import Synchronization

/// Monotonic nanoseconds, the clock every duration in this module is measured on.
@inline(__always)
func readMonotonicClock() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// Wall-clock nanoseconds since the Unix epoch, for the timestamps clients see.
@inline(__always)
func readWallClock() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// The wall clock as the monotonic clock plus an offset that is read again once a second:
/// a moment on both clocks is then one clock read, not two (a request read the clocks about
/// 20 times, 2% of the server's CPU at zero latency). A step of the wall clock (settimeofday,
/// a first NTP sync) shows within a second; both clocks are slewed alike, so between steps
/// the offset holds.
enum WallClockOffset {
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC, in nanoseconds, and the monotonic time it was
    /// read at (0: never). The offset is stored before its time and read after it, so a
    /// reader that sees a time sees at least its offset (plain moves on x86).
    private static let offset = Atomic<Int64>(0)
    private static let readAt = Atomic<UInt64>(0)
    private static let refreshInterval: Int64 = 1_000_000_000

    /// The wall clock at monotonic time `monotonic`.
    @inline(__always)
    static func wallClock(at monotonic: UInt64) -> Int64 {
        let last = readAt.load(ordering: .acquiring)
        // Negative when another thread refreshed at a later reading: fresh too.
        let age = Int64(bitPattern: monotonic &- last)
        guard last != 0 && age < refreshInterval else { return refresh(at: monotonic) }
        return offset.load(ordering: .relaxed) &+ Int64(bitPattern: monotonic)
    }

    /// Reads both clocks back to back (the caller's reading may be older: the first one waited
    /// for these statics to be made).
    @inline(never)
    private static func refresh(at monotonic: UInt64) -> Int64 {
        let before = readMonotonicClock()
        let wall = readWallClock()
        let after = readMonotonicClock()
        let fresh = wall &- Int64(bitPattern: before / 2 + after / 2)
        offset.store(fresh, ordering: .relaxed)
        readAt.store(after, ordering: .releasing)
        return fresh &+ Int64(bitPattern: monotonic)
    }
}
