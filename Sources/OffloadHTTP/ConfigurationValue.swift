/// Parsers for option values given on the command line or in the environment.
public enum ConfigurationValue {
    /// A duration with a unit: `500us`, `2ms`, `1.5s`, `2m`; `0` alone is zero.
    public static func duration(_ text: String) throws -> Duration {
        let trimmed = text.trimmingCharacters(in: " ")
        if trimmed == "0" { return .zero }
        let units: [(suffix: String, nanoseconds: Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
        ]
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            let number = trimmed.dropLast(unit.suffix.count)
            guard let value = Double(number), value >= 0, value.isFinite, !number.hasPrefix("+") else { break }
            let nanoseconds = value * unit.nanoseconds
            guard nanoseconds < 1e18 else { break }
            return .nanoseconds(Int64(nanoseconds.rounded()))
        }
        throw ServerError("'\(text)' is not a duration; write a number and a unit, such as 500us, 2ms or 2s.")
    }

    /// A size in bytes: `1048576`, `64KiB`, `1MiB`, `2MB` (KB/MB/GB are powers of 1000,
    /// KiB/MiB/GiB powers of 1024).
    public static func byteSize(_ text: String) throws -> Int {
        let trimmed = text.trimmingCharacters(in: " ")
        let units: [(suffix: String, bytes: Int)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
            ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("k", 1000), ("B", 1), ("", 1),
        ]
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            let number = trimmed.dropLast(unit.suffix.count)
            guard let value = Int(number), value >= 0 else { continue }
            let (bytes, overflow) = value.multipliedReportingOverflow(by: unit.bytes)
            guard !overflow else { break }
            return bytes
        }
        throw ServerError("'\(text)' is not a size; write bytes, or a number with KiB, MiB, GiB, KB, MB or GB.")
    }

    /// A rate in bytes per second, such as `2GB/s` or `500MiB/s`; `unlimited` is nil.
    public static func throughput(_ text: String) throws -> Double? {
        let trimmed = text.trimmingCharacters(in: " ")
        if trimmed == "unlimited" { return nil }
        guard trimmed.hasSuffix("/s"), let bytes = try? byteSize(String(trimmed.dropLast(2))), bytes > 0 else {
            throw ServerError("'\(text)' is not a throughput; write a size per second, such as 2GB/s, or unlimited.")
        }
        return Double(bytes)
    }

    /// A fraction from 0 to 1, such as `0.01`.
    public static func fraction(_ text: String) throws -> Double {
        guard let value = Double(text.trimmingCharacters(in: " ")), (0...1).contains(value) else {
            throw ServerError("'\(text)' is not a fraction from 0 to 1.")
        }
        return value
    }

    /// A whole number (`ServerConfiguration.validate` checks its range).
    public static func integer(_ text: String) throws -> Int {
        guard let value = Int(text.trimmingCharacters(in: " ")) else {
            throw ServerError("'\(text)' is not a whole number.")
        }
        return value
    }
}

extension String {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        var slice = Substring(self)
        while slice.first == character { slice.removeFirst() }
        while slice.last == character { slice.removeLast() }
        return String(slice)
    }
}
