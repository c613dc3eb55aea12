import Foundation

/// Bytes appended through a pointer into a buffer of its own, for the text made on every
/// request (JSON answers, request log lines): an array's `append` checks uniqueness and
/// capacity, and is not inlined, for every piece (in the request log's writer that was 40% of
/// its work per line).
///
/// Noncopyable: it owns its buffer, which a copy would share.
struct ByteWriter: ~Copyable {
    private var storage: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int
    /// Each byte value's two lowercase hex digits, as a pair of bytes in memory order: a byte
    /// is written with one load and one store (digit by digit, a UUID took 360 instructions).
    private static let hexPairs: [UInt16] = {
        let digits = Array("0123456789abcdef".utf8)
        return (0..<256).map { UInt16(littleEndian: UInt16(digits[$0 >> 4]) | UInt16(digits[$0 & 0x0f]) << 8) }
    }()

    init(capacity: Int = 512) {
        self.capacity = max(capacity, 64)
        storage = Self.allocate(self.capacity)
    }

    deinit { free(storage) }

    /// malloc, freed with free: `allocate` asks the runtime for 16-byte alignment, which it
    /// serves with posix_memalign, slower than malloc.
    private static func allocate(_ capacity: Int) -> UnsafeMutablePointer<UInt8> {
        malloc(capacity)!.assumingMemoryBound(to: UInt8.self)
    }

    /// What has been written, as an array.
    var bytes: [UInt8] { Array(UnsafeBufferPointer(start: storage, count: count)) }

    /// What has been written, without a copy.
    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: storage, count: count))
    }

    /// Forgets what was written; keeps the buffer.
    mutating func removeAll() { count = 0 }

    /// The next `length` bytes of the buffer, counted as written: the caller fills them.
    /// Inlined, with the other small writers here and in `JSONWriter`: called a few dozen times
    /// per answer, and with a literal's length known where it is inlined, a copy of a few bytes
    /// becomes a few moves instead of a call to memcpy.
    @inline(__always)
    mutating func room(_ length: Int) -> UnsafeMutablePointer<UInt8> {
        if count + length > capacity { grow(toHold: count + length) }
        defer { count += length }
        return storage + count
    }

    @inline(never)
    private mutating func grow(toHold needed: Int) {
        let larger = max(needed, 2 * capacity)
        let moved = Self.allocate(larger)
        moved.update(from: storage, count: count)
        free(storage)
        storage = moved
        capacity = larger
    }

    @inline(__always)
    mutating func byte(_ value: UInt8) { room(1).pointee = value }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        room(text.utf8CodeUnitCount).update(from: text.utf8Start, count: text.utf8CodeUnitCount)
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let start = bytes.baseAddress, !bytes.isEmpty else { return }
        room(bytes.count).update(from: start, count: bytes.count)
    }

    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append($0) }
    }

    /// A string's UTF-8 (native strings are contiguous: copied as one buffer). Labelled, so
    /// that a literal goes to the `StaticString` overload, which copies without a check.
    mutating func append(string text: String) {
        // Read in place: `withUTF8` needs a mutable copy (and checks it is unique).
        if text.utf8.withContiguousStorageIfAvailable({ append($0) }) == nil {
            for byte in text.utf8 { self.byte(byte) }
        }
    }

    /// `value` in decimal.
    @inline(__always)
    mutating func appendDecimal(_ value: UInt) {
        let digits = Self.decimalDigits(value)
        Self.writeDigits(value, count: digits, to: room(digits))
    }

    /// Nanoseconds as milliseconds with three decimals (`1.933`: microsecond resolution).
    mutating func appendMilliseconds(nanoseconds: UInt64) {
        let microseconds = (nanoseconds + 500) / 1000
        appendDecimal(UInt(microseconds / 1000))
        let text = room(4)
        text[0] = UInt8(ascii: ".")
        Self.writeDigits(UInt(microseconds % 1000), count: 3, to: text + 1)
    }

    /// The canonical lowercase text of `id` (36 bytes).
    mutating func appendUUID(_ id: UUID) {
        let text = UnsafeMutableRawPointer(room(36))
        Self.hexPairs.withUnsafeBufferPointer { pairs in
            withUnsafeBytes(of: id.uuid) { raw in
                var at = 0
                for index in 0..<16 {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        text.storeBytes(of: UInt8(ascii: "-"), toByteOffset: at, as: UInt8.self)
                        at += 1
                    }
                    text.storeBytes(of: pairs[Int(raw[index])], toByteOffset: at, as: UInt16.self)
                    at += 2
                }
            }
        }
    }

    /// Lowercase hex of `data`.
    mutating func appendHex(_ data: [UInt8]) {
        let text = UnsafeMutableRawPointer(room(data.count * 2))
        Self.hexPairs.withUnsafeBufferPointer { pairs in
            data.withUnsafeBufferPointer { bytes in
                for index in bytes.indices {
                    text.storeBytes(of: pairs[Int(bytes[index])], toByteOffset: 2 * index, as: UInt16.self)
                }
            }
        }
    }

    /// Two lowercase hex digits of `value`.
    mutating func appendHex(_ value: UInt8) {
        UnsafeMutableRawPointer(room(2)).storeBytes(of: Self.hexPairs[Int(value)], as: UInt16.self)
    }

    @inline(__always)
    private static func decimalDigits(_ value: UInt) -> Int {
        var digits = 1
        var remaining = value
        while remaining >= 10 {
            remaining /= 10
            digits += 1
        }
        return digits
    }

    /// `value`'s last `count` decimal digits, zero-padded, at `text`.
    @inline(__always)
    static func writeDigits(_ value: UInt, count: Int, to text: UnsafeMutablePointer<UInt8>) {
        var remaining = value
        for index in stride(from: count - 1, through: 0, by: -1) {
            text[index] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
        }
    }
}
