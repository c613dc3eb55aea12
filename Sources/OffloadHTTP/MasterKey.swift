import Engine
import Foundation
import Glibc
import Store

/// Where the master key comes from: `--master-key-file` (base64 of 32 bytes, private), else,
/// beside an embedded store, a file generated at first start; replicas sharing PostgreSQL must
/// all be given the same one; without a durable store, a random key for the process.
enum MasterKey {
    static let checkContext = "offload-http master key check"

    static func load(file path: String) throws -> KeyWrap {
        let text = String(decoding: try SecretFile.read(path, what: "master key file"), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Data(base64Encoded: text), bytes.count == KeyWrap.masterKeyBytes else {
            // Never shows the file's content.
            throw ServerError("The master key file \(path) must hold the base64 of 32 random bytes (openssl rand -base64 32).")
        }
        return try KeyWrap(masterKey: Array(bytes))
    }

    /// The master key for `store` when none was given, and a warning to log if one was made.
    static func implied(for store: StoreLocation) throws -> (KeyWrap, warning: String?) {
        switch store {
        case .memory:
            return (try KeyWrap.random(), "no durable store: keys live in memory and ciphertexts will not decrypt after a restart")
        case .postgres:
            throw ServerError(
                "A postgres:// store needs --master-key-file: every replica must seal and open keys with the same master key.")
        case .sqlite(let path):
            let file = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("master.key").path
            if FileManager.default.fileExists(atPath: file) { return (try load(file: file), nil) }
            let wrap = try KeyWrap.random()
            try? FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: file).deletingLastPathComponent().path, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            let descriptor = Glibc.open(file, O_CREAT | O_EXCL | O_WRONLY, 0o600)
            if descriptor < 0 && errno == EEXIST {
                // Another process on the same store made it a moment ago: use that one, once written.
                for _ in 0..<50 {
                    if let wrap = try? load(file: file) { return (wrap, nil) }
                    usleep(20_000)
                }
                return (try load(file: file), nil)
            }
            guard descriptor >= 0 else {
                throw ServerError("Cannot create the master key file \(file): \(String(cString: strerror(errno))).")
            }
            let text = Array((Data(wrap.masterKeyBytesForFile).base64EncodedString() + "\n").utf8)
            let written = text.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            fsync(descriptor)
            Glibc.close(descriptor)
            guard written == text.count else { throw ServerError("Cannot write the master key file \(file).") }
            return (wrap, "generated a master key in \(file): keep it with the store, and back it up apart from it (--master-key-file names another)")
        }
    }

    /// The store's check that this is the master key it was made with.
    static func check(_ wrap: KeyWrap) throws -> MasterKeyCheck {
        MasterKeyCheck(sealed: try wrap.seal(Array(checkContext.utf8), context: checkContext)) { sealed in
            (try? wrap.open(sealed, context: checkContext)) == Array(checkContext.utf8)
        }
    }
}
