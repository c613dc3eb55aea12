import Engine
import Foundation
import Testing
@testable import OffloadHTTP

@Suite struct JSONWriting {
    private func text(_ build: (inout JSONWriter) -> Void) -> String {
        var json = JSONWriter()
        build(&json)
        return String(decoding: json.bytes, as: UTF8.self)
    }

    @Test(arguments: [
        (Int64(0), "\"1970-01-01T00:00:00.000Z\""),
        (Int64(951_782_400_123_000_000), "\"2000-02-29T00:00:00.123Z\""),
        (Int64(1_798_761_599_999_000_000), "\"2026-12-31T23:59:59.999Z\""),
        (Int64(-1_000_000), "\"1969-12-31T23:59:59.999Z\""),
    ])
    func timestampsAreRFC3339UTCWithMilliseconds(nanoseconds: Int64, expected: String) {
        #expect(text { $0.timestamp(wallNanoseconds: nanoseconds) } == expected)
    }

    @Test func timestampsAgreeWithFoundationOverManyDays() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        for day in stride(from: -100_000, through: 100_000, by: 97) {  // 1696 to 2243
            let milliseconds = Int64(day) * 86_400_000 + 45_296_789  // 12:34:56.789
            let expected = "\"" + formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000)) + "\""
            #expect(text { $0.timestamp(wallNanoseconds: milliseconds * 1_000_000) } == expected)
        }
    }

    @Test func timestampsInOneDocumentEachShowTheirOwnSecond() {
        // The writer formats the date and time once per second: times within a second, the
        // next second, and back, each come out right.
        let second: Int64 = 1_798_761_599  // 2026-12-31T23:59:59Z
        let written = text { json in
            json.beginArray()
            for (offset, milliseconds) in [(0, 1), (0, 999), (1, 0), (0, 500), (-86_400, 7)] as [(Int64, Int64)] {
                json.timestamp(wallNanoseconds: ((second + offset) * 1000 + milliseconds) * 1_000_000)
            }
            json.endArray()
        }
        #expect(written == #"["2026-12-31T23:59:59.001Z","2026-12-31T23:59:59.999Z","2027-01-01T00:00:00.000Z","#
            + #""2026-12-31T23:59:59.500Z","2026-12-30T23:59:59.007Z"]"#)
    }

    @Test func stringsAreEscapedAndTheResultParses() throws {
        let tricky = "quote \" backslash \\ newline \n tab \t bell \u{7} é 🚀"
        let bytes = text {
            $0.beginObject()
            $0.key("text")
            $0.string(tricky)
            $0.key(data: tricky)
            $0.int(-42)
            $0.field("none", nil as Int?)
            $0.key("list")
            $0.beginArray()
            $0.int(1)
            $0.milliseconds(nanoseconds: 2_034_567)
            $0.hex([0x00, 0xab, 0xff])
            $0.endArray()
            $0.endObject()
        }
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes.utf8)) as? [String: Any])
        #expect(parsed["text"] as? String == tricky)
        #expect(parsed[tricky] as? Int == -42)
        #expect(parsed["none"] is NSNull)
        let list = try #require(parsed["list"] as? [Any])
        #expect(list[0] as? Int == 1)
        #expect(list[1] as? Double == 2.035)
        #expect(list[2] as? String == "00abff")
    }

    /// Written into a buffer of its own that grows: a document many times its first capacity,
    /// nested, with every width of integer, comes out whole and in order.
    @Test func aDocumentLargerThanItsBufferComesOutWhole() throws {
        let numbers = [0, 9, 10, 99, 100, 12_345, -1, -10, Int.max, Int.min + 1]
        var json = JSONWriter(capacity: 8)
        json.beginObject()
        json.key("items")
        json.beginArray()
        for index in 0..<500 {
            json.beginObject()
            json.field("index", index)
            json.field("name", "item \(index)")
            json.key("numbers")
            json.beginArray()
            for number in numbers { json.int(number) }
            json.endArray()
            json.endObject()
        }
        json.endArray()
        json.key("done")
        json.bool(true)
        json.endObject()
        let bytes = json.bytes
        #expect(bytes.count > 40_000)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        let items = try #require(parsed["items"] as? [[String: Any]])
        #expect(items.count == 500)
        #expect(items.enumerated().allSatisfy { index, item in
            item["index"] as? Int == index && item["name"] as? String == "item \(index)"
                && (item["numbers"] as? [Int]) == numbers
        })
        #expect(parsed["done"] as? Bool == true)
    }

    @Test func uuidsAreCanonicalLowercase() {
        let id = UUID(uuidString: "5F0C8A4E-1B2C-4D3E-8F90-0123456789AB")!
        #expect(text { $0.uuid(id) } == "\"5f0c8a4e-1b2c-4d3e-8f90-0123456789ab\"")
    }

    /// Strings copied whole (plain ASCII and UTF-8, empty, long, bridged from Foundation) come
    /// out as they went in, and a member spelled out comes out beside written ones with its comma.
    @Test func stringsWithoutEscapesAreCopiedWholeAndMembersTakeTheirCommas() throws {
        let values = ["", "xor-0xaa", "é 🚀 ünïcödé", String(repeating: "long ", count: 100),
                      NSString(string: "bridged from Foundation") as String]
        let bytes = text {
            $0.beginObject()
            for (index, value) in values.enumerated() { $0.key(data: "v\(index)"); $0.string(value) }
            $0.member("\"spelled\":\"out\"")
            $0.field("after", 1)
            $0.endObject()
        }
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes.utf8)) as? [String: Any])
        for (index, value) in values.enumerated() { #expect(parsed["v\(index)"] as? String == value) }
        #expect(parsed["spelled"] as? String == "out")
        #expect(parsed["after"] as? Int == 1)
    }

    /// The members a job's status, operation and algorithm are written with, spelled out case by
    /// case, say what the raw values say.
    @Test func spelledOutJobMembersMatchTheirRawValues() {
        func member(_ text: StaticString) -> String { text.withUTF8Buffer { String(decoding: $0, as: UTF8.self) } }
        for status in JobStatus.allCases {
            #expect(member(JobJSON.member(status)) == "\"status\":\"\(status.rawValue)\"")
        }
        for operation in JobOperation.allCases {
            #expect(member(JobJSON.member(operation)) == "\"operation\":\"\(operation.rawValue)\"")
        }
        for algorithm in Algorithm.allCases {
            #expect(member(JobJSON.member(algorithm)) == "\"algorithm\":\"\(algorithm.rawValue)\"")
        }
    }
}
