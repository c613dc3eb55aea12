import Engine
import Foundation
import Testing
@testable import OffloadHTTP

@Suite struct Keys {
    @Test func theKeyListShowsNamesAndAlgorithmsButNeverKeyBytes() async throws {
        let secret: [UInt8] = Array(0..<32)
        let keyFile = try writeKeyFile(["main": secret, "backup": Array(repeating: 9, count: 32)])
        defer { unlink(keyFile) }
        let keys = try KeyFile.load(file: keyFile, defaultName: "main")
        try await withServer({ $0.keyFile = keys }) { server in
            let reply = try await server.get("/keys")
            #expect(reply.status == 200)
            let listed = try #require(reply.json["keys"] as? [[String: Any]])
            #expect(listed.compactMap { $0["name"] as? String } == ["backup", "main"])
            #expect(listed.first { $0["name"] as? String == "main" }?["default"] as? Bool == true)
            #expect(reply.json["ephemeral"] as? Bool == false)
            let body = String(decoding: reply.body, as: UTF8.self)
            #expect(!body.contains(Data(secret).base64EncodedString()))
            #expect(!body.contains(hexString(secret)))
        }
    }

    @Test func aKeyFileReadableByOthersIsRefused() throws {
        let keyFile = try writeKeyFile(["main": Array(repeating: 1, count: 32)], mode: 0o644)
        defer { unlink(keyFile) }
        #expect(throws: ServerError.self) { try KeyFile.load(file: keyFile, defaultName: nil) }
    }

    @Test func groupReadIsAllowedOnlyWhenRootOwnsTheKeyFile() throws {
        let keyFile = try writeKeyFile(["main": Array(repeating: 1, count: 32)], mode: 0o640)
        defer { unlink(keyFile) }
        guard getuid() == 0 else { return }  // only root can hand the file to another owner
        #expect(try KeyFile.load(file: keyFile, defaultName: nil).defaultName == "main")
        chown(keyFile, 4242, 4242)
        #expect(throws: ServerError.self) { try KeyFile.load(file: keyFile, defaultName: nil) }
    }

    @Test func badKeyFilesAreRefusedWithoutShowingTheKey() throws {
        let short = try writeKeyFile(["main": Array(repeating: 7, count: 16)])
        defer { unlink(short) }
        do {
            _ = try KeyFile.load(file: short, defaultName: nil)
            Issue.record("a 128-bit key was accepted")
        } catch {
            #expect("\(error)".contains("main"))
            #expect(!"\(error)".contains(Data(Array(repeating: 7, count: 16)).base64EncodedString()))
        }
        let several = try writeKeyFile(["a": Array(repeating: 1, count: 32), "b": Array(repeating: 2, count: 32)])
        defer { unlink(several) }
        #expect(throws: ServerError.self) { try KeyFile.load(file: several, defaultName: nil) }
        #expect(throws: ServerError.self) { try KeyFile.load(file: several, defaultName: "c") }
        #expect(try KeyFile.load(file: several, defaultName: "b").defaultName == "b")
        // The same name twice: JSON parsers keep one of the two, each its own choice.
        let twice = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID()).json").path
        defer { unlink(twice) }
        let first = Data(Array(repeating: 1, count: 32)).base64EncodedString()
        let second = Data(Array(repeating: 2, count: 32)).base64EncodedString()
        try #"{"main": "\#(first)", "m\u0061in": "\#(second)"}"#.write(toFile: twice, atomically: true, encoding: .utf8)
        chmod(twice, 0o600)
        #expect(performing: { try KeyFile.load(file: twice, defaultName: nil) }, throws: { error in
            "\(error)".contains("'main' is named twice") && !"\(error)".contains(first) && !"\(error)".contains(second)
        })
    }
}
