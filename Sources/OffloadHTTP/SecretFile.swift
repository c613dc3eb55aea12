import Foundation
import Glibc

/// Reading secrets from files: keys, the auth token, the TLS private key.
enum SecretFile {
    /// The file's bytes, once its permissions show that only its owner can read it: not
    /// readable by others, nor by its group unless root owns it (PostgreSQL's rule for key
    /// files, which lets a Kubernetes secret mounted with an fsGroup pass).
    static func read(_ path: String, what: String) throws -> Data {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw ServerError("Cannot read the \(what) \(path): \(String(cString: strerror(errno))).")
        }
        let groupAllowed: mode_t = status.st_uid == 0 ? 0o040 : 0
        guard status.st_mode & 0o077 & ~groupAllowed == 0 else {
            throw ServerError(
                "The \(what) \(path) is readable or writable by others than its owner "
                    + "(mode \(String(status.st_mode & 0o777, radix: 8))); run chmod 600 on it.")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServerError("Cannot read the \(what) \(path).")
        }
        return data
    }
}
