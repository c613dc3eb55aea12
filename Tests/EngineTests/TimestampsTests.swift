import Foundation
import Glibc
import Testing
@testable import Engine

/// A moment is read on one clock: its wall-clock time is the monotonic time plus an offset
/// read again once a second, so it must keep to the wall clock itself.
@Suite struct Timestamps {
    static func wallClockNow() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    @Test func aMomentsWallTimeIsTheWallClocksOverSecondsOfReadings() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        var readings = 0
        // Past the one-second refresh, on threads of their own as the engine loops read it.
        while clock.now - start < .milliseconds(2300) {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let before = Self.wallClockNow()
                        let moment = Timestamp.now()
                        let after = Self.wallClockNow()
                        // A microsecond either side: the offset was read with two clock reads.
                        #expect(moment.wallNanoseconds >= before - 1_000 && moment.wallNanoseconds <= after + 1_000,
                                "\(moment.wallNanoseconds - before) ns after the wall clock")
                    }
                }
            }
            readings += 4
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(readings > 200)
    }

    @Test func durationsComeFromTheMonotonicClock() {
        let first = Timestamp.now()
        usleep(20_000)
        let second = Timestamp.now()
        let elapsed = first.nanoseconds(until: second)
        #expect(elapsed >= 20_000_000 && elapsed < 500_000_000)
        #expect(second.monotonicNanoseconds - first.monotonicNanoseconds == elapsed)
    }
}
