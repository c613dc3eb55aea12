import Foundation

/// A moment, on both clocks: the wall clock for people, the monotonic clock for durations.
public struct Timestamp: Sendable, Equatable {
    public init(wallNanoseconds: Int64, monotonicNanoseconds: UInt64) {
        self.wallNanoseconds = wallNanoseconds
        self.monotonicNanoseconds = monotonicNanoseconds
    }

    /// A moment read back from a store, which keeps the wall clock only: its monotonic
    /// reading is the wall clock's, so durations between such moments are wall-clock ones.
    public init(storedWallNanoseconds wall: Int64) {
        self.init(wallNanoseconds: wall, monotonicNanoseconds: UInt64(max(0, wall)))
    }

    /// Nanoseconds since the Unix epoch (CLOCK_REALTIME).
    public let wallNanoseconds: Int64
    /// Nanoseconds on CLOCK_MONOTONIC.
    public let monotonicNanoseconds: UInt64

    /// One clock read: the wall clock is the monotonic one plus an offset kept fresh (see
    /// `WallClockOffset`).
    public static func now() -> Timestamp {
        let monotonic = readMonotonicClock()
        return Timestamp(wallNanoseconds: WallClockOffset.wallClock(at: monotonic), monotonicNanoseconds: monotonic)
    }

    /// CLOCK_MONOTONIC alone, for deadlines that need no wall time (one clock read, not two).
    public static func monotonicNow() -> UInt64 { readMonotonicClock() }

    /// The time from `self` to `later`, in nanoseconds, never negative.
    public func nanoseconds(until later: Timestamp) -> UInt64 {
        later.monotonicNanoseconds >= monotonicNanoseconds
            ? later.monotonicNanoseconds - monotonicNanoseconds : 0
    }
}
