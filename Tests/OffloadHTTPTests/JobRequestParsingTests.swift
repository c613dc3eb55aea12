import Engine
import Foundation
@testable import OffloadHTTP
import Testing

/// Request bodies into job requests, in process: no server, no engine.
@Suite struct JobRequestParsing {
    static let keys: KeyRing = {
        let ring = KeyRing(wrap: try! KeyWrap.random(), defaultName: "default", isEphemeral: true)
        for (name, type) in [("default", Algorithm.aes256GCM), ("mac", .hmacSHA256)] {
            _ = try! ring.changeInMemory(.create(name: name, type: type, importing: nil), now: 0)
        }
        return ring
    }()

    static func parse(
        _ body: String, as contentType: String = "application/json", query: [(name: String, value: String)] = [],
        operation: JobOperation = .encrypt
    ) throws(APIError) -> ParsedJobBody {
        let request = HTTPRequest(
            method: "POST", path: "/encrypt", query: query, contentType: contentType, body: Array(body.utf8))
        return try JobRequestParser(operation: operation, keys: keys, maxBatchItems: 3).parse(request)
    }

    static func code(_ body: String, as contentType: String = "application/json") -> String? {
        do {
            _ = try parse(body, as: contentType)
            return nil
        } catch {
            return error.code.rawValue
        }
    }

    @Test func aRawBodyIsTheInputOfTheDefaultAlgorithm() throws {
        guard case .single(let job) = try Self.parse("ASYNC-OK", as: "text/plain") else {
            Issue.record("not a single job")
            return
        }
        #expect(job.input == Array("ASYNC-OK".utf8) && job.algorithm == .xor0xAA && job.key == nil)
    }

    @Test func aKeyNamedWithoutAnAlgorithmMeansItsType() throws {
        guard case .single(let job) = try Self.parse(#"{"input_hex": "00ff", "key": "default"}"#) else {
            Issue.record("not a single job")
            return
        }
        #expect(job.input == [0x00, 0xff] && job.algorithm == .aes256GCM && job.key?.name == "default")
    }

    @Test func aBatchKeepsItsInvalidItemsInPlace() throws {
        guard case .batch(let items) = try Self.parse(#"{"batch": [{"input": "a"}, {"input_hex": "zz"}, {"input": "c"}]}"#)
        else {
            Issue.record("not a batch")
            return
        }
        #expect(items.count == 3)
        #expect((try? items[0].get())?.input == Array("a".utf8))
        if case .failure(let error) = items[1] { #expect(error.code == .invalidHex) } else { Issue.record("item 1 ran") }
        #expect((try? items[2].get())?.input == Array("c".utf8))
    }

    @Test(arguments: [
        ("", "text/plain", "empty_input"),
        (#"{"input": "a", "input_hex": "00"}"#, "application/json", "ambiguous_input"),
        (#"{"input": "a", "colour": "red"}"#, "application/json", "unknown_field"),
        (#"{"input": "a", "key": "nope"}"#, "application/json", "unknown_key"),
        (#"{"input": "a", "algorithm": "rot13"}"#, "application/json", "unknown_algorithm"),
        (#"{"input": "a", "key": "mac"}"#, "application/json", "wrong_key_type"),
        (#"{"batch": [{"input": "a"}, {"input": "b"}, {"input": "c"}, {"input": "d"}]}"#, "application/json", "batch_too_large"),
        (#"{"input": "a""#, "application/json", "malformed_json"),
    ])
    func badBodiesSayWhatIsWrong(body: String, contentType: String, code: String) {
        #expect(Self.code(body, as: contentType) == code)
    }
}
