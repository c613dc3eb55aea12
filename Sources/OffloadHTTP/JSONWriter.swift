import Foundation

/// Writes JSON straight into bytes. Responses are built on the request path, where
/// Foundation's encoders would cost more than the rest of the request; the bytes go into a
/// `ByteWriter`, and become an array once, in `bytes`.
struct JSONWriter: ~Copyable {
    private var out: ByteWriter
    /// Whether each open container already has an element (so the next needs a comma): bit n
    /// for the container at depth n. The API's documents nest a few levels deep.
    private var containerHasElement: UInt64 = 0
    private var depth = 0
    private var afterKey = false
    /// The second `formattedDateTime` holds, as "2026-11-28T09:36:45" (19 bytes).
    private var formattedSecond = Int64.min
    private var formattedDateTime = InlineArray<19, UInt8>(repeating: 0)

    init(capacity: Int = 512) {
        out = ByteWriter(capacity: capacity)
    }

    /// What has been written.
    var bytes: [UInt8] { out.bytes }

    /// What has been written, without a copy.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try out.withBytes(body)
    }

    mutating func beginObject() { beginValue(); out.byte(UInt8(ascii: "{")); open() }
    mutating func endObject() { depth -= 1; out.byte(UInt8(ascii: "}")) }
    mutating func beginArray() { beginValue(); out.byte(UInt8(ascii: "[")); open() }
    mutating func endArray() { depth -= 1; out.byte(UInt8(ascii: "]")) }

    /// A key the code spells out: plain ASCII that needs no escaping.
    @inline(__always)
    mutating func key(_ name: StaticString) {
        beginValue()
        let text = out.room(name.utf8CodeUnitCount + 3)
        text[0] = UInt8(ascii: "\"")
        text.advanced(by: 1).update(from: name.utf8Start, count: name.utf8CodeUnitCount)
        text[name.utf8CodeUnitCount + 1] = UInt8(ascii: "\"")
        text[name.utf8CodeUnitCount + 2] = UInt8(ascii: ":")
        afterKey = true
    }

    /// A whole member the code spells out, `"name":value`, plain ASCII that needs no escaping
    /// (a field whose every value is known in advance, such as an enum's): one copy, where a
    /// key and a string value are two, and the string is scanned for escapes.
    @inline(__always)
    mutating func member(_ text: StaticString) {
        beginValue()
        out.append(text)
    }

    /// A key that comes from data. Labelled: with two unlabelled overloads, a literal went to
    /// this one (String is the literal's default type), scanned for escapes on every answer.
    mutating func key(data name: String) {
        beginValue()
        writeString(name)
        out.byte(UInt8(ascii: ":"))
        afterKey = true
    }

    mutating func string(_ value: String) { beginValue(); writeString(value) }
    mutating func bool(_ value: Bool) { beginValue(); out.append(value ? "true" : "false") }
    @inline(__always)
    mutating func null() { beginValue(); out.append("null") }

    @inline(__always)
    mutating func int(_ value: Int) {
        beginValue()
        if value < 0 { out.byte(UInt8(ascii: "-")) }
        out.appendDecimal(value.magnitude)
    }

    /// Lowercase hex of `data` as a JSON string.
    mutating func hex(_ data: [UInt8]) {
        beginValue()
        out.byte(UInt8(ascii: "\""))
        out.appendHex(data)
        out.byte(UInt8(ascii: "\""))
    }

    /// A UUID in its canonical lowercase form.
    mutating func uuid(_ id: UUID) {
        beginValue()
        out.byte(UInt8(ascii: "\""))
        out.appendUUID(id)
        out.byte(UInt8(ascii: "\""))
    }

    /// Nanoseconds as milliseconds with three decimals (microsecond resolution).
    @inline(__always)
    mutating func milliseconds(nanoseconds: UInt64) {
        beginValue()
        out.appendMilliseconds(nanoseconds: nanoseconds)
    }

    /// Nanoseconds since the epoch as an RFC 3339 UTC time with milliseconds.
    mutating func timestamp(wallNanoseconds: Int64) {
        beginValue()
        let milliseconds = wallNanoseconds / 1_000_000
        let (second, millisecond) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let (wholeSecond, fraction) = millisecond < 0 ? (second - 1, millisecond + 1000) : (second, millisecond)
        // "2026-11-28T09:36:45.123Z", quoted: 26 bytes. A job's three times mostly fall in
        // one second: the date and time up to the second are formatted once per second.
        let text = out.room(26)
        text[0] = UInt8(ascii: "\"")
        if wholeSecond != formattedSecond {
            formattedSecond = wholeSecond
            let (days, secondOfDay) = wholeSecond.quotientAndRemainder(dividingBy: 86_400)
            let (year, month, day) = Self.civilDate(daysSinceEpoch: secondOfDay < 0 ? days - 1 : days)
            let time = Int(secondOfDay < 0 ? secondOfDay + 86_400 : secondOfDay)
            withUnsafeMutableBytes(of: &formattedDateTime) { raw in
                let start = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
                Self.writeDigits(year, width: 4, to: start)
                start[4] = UInt8(ascii: "-")
                Self.writeDigits(month, width: 2, to: start + 5)
                start[7] = UInt8(ascii: "-")
                Self.writeDigits(day, width: 2, to: start + 8)
                start[10] = UInt8(ascii: "T")
                Self.writeDigits(time / 3600, width: 2, to: start + 11)
                start[13] = UInt8(ascii: ":")
                Self.writeDigits(time / 60 % 60, width: 2, to: start + 14)
                start[16] = UInt8(ascii: ":")
                Self.writeDigits(time % 60, width: 2, to: start + 17)
            }
        }
        withUnsafeBytes(of: formattedDateTime) { raw in
            (text + 1).update(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: 19)
        }
        text[20] = UInt8(ascii: ".")
        Self.writeDigits(Int(fraction), width: 3, to: text + 21)
        text[24] = UInt8(ascii: "Z")
        text[25] = UInt8(ascii: "\"")
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
    @inline(__always)
    mutating func field(_ name: StaticString, _ value: Int) { key(name); int(value) }
    @inline(__always)
    mutating func field(_ name: StaticString, _ value: Int?) {
        key(name)
        if let value { int(value) } else { null() }
    }

    private mutating func open() {
        precondition(depth < 64, "JSON nested deeper than JSONWriter keeps track of")
        containerHasElement &= ~(1 << depth)
        depth += 1
    }

    @inline(__always)
    private mutating func beginValue() {
        if afterKey {
            afterKey = false
            return
        }
        guard depth > 0 else { return }
        let bit: UInt64 = 1 << (depth - 1)
        if containerHasElement & bit != 0 { out.byte(UInt8(ascii: ",")) }
        containerHasElement |= bit
    }

    /// `value`'s last `width` decimal digits, zero-padded, at `text`.
    private static func writeDigits(_ value: Int, width: Int, to text: UnsafeMutablePointer<UInt8>) {
        ByteWriter.writeDigits(UInt(value), count: width, to: text)
    }

    private mutating func writeString(_ value: String) {
        // Native strings are contiguous UTF-8: checked and copied as one buffer, with its quotes
        // (`withUTF8` on a copy, as before, cost a copy of the string and a uniqueness check).
        let copied = value.utf8.withContiguousStorageIfAvailable { utf8 -> Bool in
            var index = 0
            while index < utf8.count {
                let byte = utf8[index]
                if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return false }
                index += 1
            }
            let text = out.room(utf8.count + 2)
            text[0] = UInt8(ascii: "\"")
            if let start = utf8.baseAddress { (text + 1).update(from: start, count: utf8.count) }
            text[utf8.count + 1] = UInt8(ascii: "\"")
            return true
        }
        guard copied != true else { return }
        out.byte(UInt8(ascii: "\""))
        for byte in value.utf8 { appendEscaped(byte) }
        out.byte(UInt8(ascii: "\""))
    }

    private mutating func appendEscaped(_ value: UInt8) {
        switch value {
        case UInt8(ascii: "\""): out.append("\\\"")
        case UInt8(ascii: "\\"): out.append("\\\\")
        case UInt8(ascii: "\n"): out.append("\\n")
        case UInt8(ascii: "\r"): out.append("\\r")
        case UInt8(ascii: "\t"): out.append("\\t")
        case 0..<0x20:
            out.append("\\u00")
            out.appendHex(value)
        default: out.byte(value)
        }
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
