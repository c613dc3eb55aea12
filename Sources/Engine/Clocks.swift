internal import CLinux
import Glibc

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
