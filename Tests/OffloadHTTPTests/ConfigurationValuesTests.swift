import Foundation
@testable import OffloadHTTP
import Testing

@Suite struct ConfigurationValues {
    @Test(arguments: [
        ("500us", Duration.microseconds(500)), ("2ms", .milliseconds(2)), ("2s", .seconds(2)),
        ("1.5s", .milliseconds(1500)), ("0", .zero), ("1m", .seconds(60)), ("250ns", .nanoseconds(250)),
    ])
    func durationsParse(text: String, expected: Duration) throws {
        #expect(try ConfigurationValue.duration(text) == expected)
    }

    @Test(arguments: ["", "2", "ms", "-1s", "2 parsecs", "1e300s", "+1s"])
    func badDurationsAreRejected(text: String) {
        #expect(throws: ServerError.self) { try ConfigurationValue.duration(text) }
    }

    @Test(arguments: [("1048576", 1 << 20), ("1MiB", 1 << 20), ("64KiB", 65536), ("2MB", 2_000_000), ("10B", 10)])
    func sizesParse(text: String, expected: Int) throws {
        #expect(try ConfigurationValue.byteSize(text) == expected)
    }

    @Test(arguments: ["", "MiB", "-1", "1.5MiB", "99999999999999999GiB", "1 TB"])
    func badSizesAreRejected(text: String) {
        #expect(throws: ServerError.self) { try ConfigurationValue.byteSize(text) }
    }
}
