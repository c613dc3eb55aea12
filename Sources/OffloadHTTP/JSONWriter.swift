import Glibc

/// Writes JSON straight into bytes. Responses are built on the request path, where
/// Foundation's encoders would cost more than the rest of the request.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    /// Whether the container being written already has an element (so the next needs a comma).
    private var containerHasElement: [Bool] = []
    private var afterKey = false

    init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    mutating func beginObject() { beginValue(); bytes.append(UInt8(ascii: "{")); containerHasElement.append(false) }
    mutating func endObject() { containerHasElement.removeLast(); bytes.append(UInt8(ascii: "}")) }
    mutating func beginArray() { beginValue(); bytes.append(UInt8(ascii: "[")); containerHasElement.append(false) }
    mutating func endArray() { containerHasElement.removeLast(); bytes.append(UInt8(ascii: "]")) }

    mutating func key(_ name: String) {
        beginValue()
        writeString(name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    mutating func string(_ value: String) { beginValue(); writeString(value) }
    mutating func int(_ value: Int) { beginValue(); bytes.append(contentsOf: String(value).utf8) }
    mutating func null() { beginValue(); bytes.append(contentsOf: "null".utf8) }

    /// Lowercase hex of `data` as a JSON string.
    mutating func hex(_ data: [UInt8]) {
        beginValue()
        bytes.append(UInt8(ascii: "\""))
        let digits: StaticString = "0123456789abcdef"
        digits.withUTF8Buffer { digits in
            for byte in data {
                bytes.append(digits[Int(byte >> 4)])
                bytes.append(digits[Int(byte & 0x0f)])
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Nanoseconds as milliseconds with three decimals (microsecond resolution).
    mutating func milliseconds(nanoseconds: UInt64) {
        beginValue()
        let microseconds = (nanoseconds + 500) / 1000
        bytes.append(contentsOf: String(microseconds / 1000).utf8)
        bytes.append(UInt8(ascii: "."))
        let fraction = microseconds % 1000
        if fraction < 100 { bytes.append(UInt8(ascii: "0")) }
        if fraction < 10 { bytes.append(UInt8(ascii: "0")) }
        bytes.append(contentsOf: String(fraction).utf8)
    }

    /// Nanoseconds since the epoch as an RFC 3339 UTC time with milliseconds.
    mutating func timestamp(wallNanoseconds: Int64) {
        beginValue()
        var seconds = time_t(wallNanoseconds / 1_000_000_000)
        let milliseconds = Int((wallNanoseconds % 1_000_000_000) / 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        bytes.append(UInt8(ascii: "\""))
        appendDigits(Int(parts.tm_year) + 1900, width: 4)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(Int(parts.tm_mon) + 1, width: 2)
        bytes.append(UInt8(ascii: "-"))
        appendDigits(Int(parts.tm_mday), width: 2)
        bytes.append(UInt8(ascii: "T"))
        appendDigits(Int(parts.tm_hour), width: 2)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(Int(parts.tm_min), width: 2)
        bytes.append(UInt8(ascii: ":"))
        appendDigits(Int(parts.tm_sec), width: 2)
        bytes.append(UInt8(ascii: "."))
        appendDigits(milliseconds, width: 3)
        bytes.append(contentsOf: "Z\"".utf8)
    }

    mutating func field(_ name: String, _ value: String) { key(name); string(value) }
    mutating func field(_ name: String, _ value: Int) { key(name); int(value) }
    mutating func field(_ name: String, _ value: Int?) {
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
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: "\\\\".utf8)
            case UInt8(ascii: "\n"): bytes.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\r"): bytes.append(contentsOf: "\\r".utf8)
            case UInt8(ascii: "\t"): bytes.append(contentsOf: "\\t".utf8)
            case 0..<0x20:
                let digits = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(digits[Int(byte >> 4)])
                bytes.append(digits[Int(byte & 0x0f)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
