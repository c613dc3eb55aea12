import Foundation

/// Where job records live, from `--store URL`:
/// - `memory:` in the process only (lost at exit; for tests and benchmarks);
/// - `sqlite:PATH`, an embedded SQLite file for a single instance;
/// - `postgres://user:password@host:port/db` (or `postgresql://`), shared by replicas; the
///   password may come from a file instead of the URL.
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    case memory
    case sqlite(path: String)
    case postgres(url: String, password: String?)

    /// Parses a store URL; `password` (read from a password file) overrides one in the URL.
    public init(parsing text: String, password: String? = nil) throws(StoreError) {
        if text == "memory:" || text == "memory" {
            self = .memory
        } else if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }  // sqlite:///abs/path
            guard !path.isEmpty else {
                throw StoreError("sqlite: needs a file path, for example sqlite:/var/lib/offload-http/jobs.sqlite3.")
            }
            self = .sqlite(path: path)
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
                throw StoreError("The PostgreSQL URL is not valid; write postgres://user:password@host:port/database.")
            }
            _ = host
            self = .postgres(url: text, password: password)
        } else {
            throw StoreError("Unknown store '\(Self.redacted(text))': use memory:, sqlite:PATH or postgres://user@host:port/database.")
        }
    }

    /// The location as logs may show it: a password in a URL is replaced by `***`.
    public var description: String {
        switch self {
        case .memory: "memory:"
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let url, _): Self.redacted(url)
        }
    }

    /// Whether records outlive the process.
    public var isDurable: Bool { self != .memory }

    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "postgres://***"
    }
}
