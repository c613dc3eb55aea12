import Foundation

/// Writes JSON straight into bytes. Responses are built on the request path, where
/// Foundation's encoders would cost more than the rest of the request.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    /// Whether the container being written already has an element (so the next needs a comma).
    private var containerHasElement: [Bool] = []
    private var afterKey = false
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
        containerHasElement.reserveCapacity(4)
    }

    mutating func beginObject() { beginValue(); bytes.append(UInt8(ascii: "{")); containerHasElement.append(false) }
    mutating func endObject() { containerHasElement.removeLast(); bytes.append(UInt8(ascii: "}")) }
    mutating func beginArray() { beginValue(); bytes.append(UInt8(ascii: "[")); containerHasElement.append(false) }
    mutating func endArray() { containerHasElement.removeLast(); bytes.append(UInt8(ascii: "]")) }

    /// A key the code spells out: plain ASCII that needs no escaping.
    mutating func key(_ name: StaticString) {
        beginValue()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        afterKey = true
    }

    /// A key that comes from data.
    mutating func key(_ name: String) {
        beginValue()
        writeString(name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    mutating func string(_ value: String) { beginValue(); writeString(value) }
    mutating func bool(_ value: Bool) { beginValue(); bytes.append(contentsOf: Array((value ? "true" : "false").utf8)) }
    mutating func null() { beginValue(); bytes.append(contentsOf: [0x6e, 0x75, 0x6c, 0x6c]) }  // null

    mutating func int(_ value: Int) {
        beginValue()
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(value.magnitude)
    }

    /// Lowercase hex of `data` as a JSON string.
    mutating func hex(_ data: [UInt8]) {
        beginValue()
        bytes.append(UInt8(ascii: "\""))
        appendHex(data)
        bytes.append(UInt8(ascii: "\""))
    }

    /// A UUID in its canonical lowercase form.
    mutating func uuid(_ id: UUID) {
        beginValue()
        bytes.append(UInt8(ascii: "\""))
        Self.appendUUID(id, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// The canonical lowercase text of `id`, unquoted (for the request log too).
    static func appendUUID(_ id: UUID, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: id.uuid) { raw in
            for (index, byte) in raw.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { bytes.append(UInt8(ascii: "-")) }
                bytes.append(hexDigits[Int(byte >> 4)])
                bytes.append(hexDigits[Int(byte & 0x0f)])
            }
        }
    }

    /// Nanoseconds as milliseconds with three decimals (microsecond resolution).
    mutating func milliseconds(nanoseconds: UInt64) {
        beginValue()
        let microseconds = (nanoseconds + 500) / 1000
        appendDecimal(UInt(microseconds / 1000))
        bytes.append(UInt8(ascii: "."))
        appendDigits(Int(microseconds % 1000), width: 3)
    }

    /// Nanoseconds since the epoch as an RFC 3339 UTC time with milliseconds.
    mutating func timestamp(wallNanoseconds: Int64) {
        beginValue()
        let milliseconds = wallNanoseconds / 1_000_000
        let (days, millisecondOfDay) = milliseconds.quotientAndRemainder(dividingBy: 86_400_000)
        let (year, month, day) = Self.civilDate(daysSinceEpoch: millisecondOfDay < 0 ? days - 1 : days)
        let time = millisecondOfDay < 0 ? millisecondOfDay + 86_400_000 : millisecondOfDay
        bytes.append(UInt8(ascii: "\""))
        appendDigits(year, width: 4)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(month, width: 2)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(day, width: 2)
        bytes.append(UInt8(ascii: "T"))
        appendDigits(Int(time / 3_600_000), width: 2)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(Int(time / 60_000 % 60), width: 2)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(Int(time / 1000 % 60), width: 2)
        bytes.append(UInt8(ascii: "."))
        appendDigits(Int(time % 1000), width: 3)
        bytes.append(contentsOf: [UInt8(ascii: "Z"), UInt8(ascii: "\"")])
    }

    /// `"error": {"code": ..., "message": ...}`, the API's error object.
    mutating func errorField(code: String, message: String) {
        key("error")
        beginObject()
        field("code", code)
        field("message", message)
        endObject()
    }

    mutating func field(_ name: StaticString, _ value: String) { key(name); string(value) }
    mutating func field(_ name: StaticString, _ value: Int) { key(name); int(value) }
    mutating func field(_ name: StaticString, _ value: Int?) {
        key(name)
        if let value { int(value) } else { null() }
    }

    private mutating func beginValue() {
        if afterKey {
            afterKey = false
            return
        }
        guard let last = containerHasElement.indices.last else { return }
        if containerHasElement[last] { bytes.append(UInt8(ascii: ",")) }
        containerHasElement[last] = true
    }

    private mutating func appendHex(_ data: [UInt8]) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: data.count * 2))
        bytes.withUnsafeMutableBufferPointer { output in
            Self.hexDigits.withUnsafeBufferPointer { digits in
                var index = start
                for byte in data {
                    output[index] = digits[Int(byte >> 4)]
                    output[index + 1] = digits[Int(byte & 0x0f)]
                    index += 2
                }
            }
        }
    }

    private mutating func appendDecimal(_ value: UInt) {
        Self.appendDecimal(value, to: &bytes)
    }

    /// The decimal digits of `value` (for the request log too).
    static func appendDecimal(_ value: UInt, to bytes: inout [UInt8]) {
        if value >= 10 { appendDecimal(value / 10, to: &bytes) }
        bytes.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    private mutating func appendDigits(_ value: Int, width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var remaining = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8((remaining / divisor) % 10))
            remaining %= divisor
            divisor /= 10
        }
    }

    private mutating func writeString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        let utf8 = value.utf8
        if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            bytes.append(contentsOf: utf8)
        } else {
            for byte in utf8 {
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0..<0x20:
                    bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                    bytes.append(Self.hexDigits[Int(byte >> 4)])
                    bytes.append(Self.hexDigits[Int(byte & 0x0f)])
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
    /// days_from_civil, inverted): no libc call, so no timezone lock on the request path.
    static func civilDate(daysSinceEpoch days: Int64) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }
}
