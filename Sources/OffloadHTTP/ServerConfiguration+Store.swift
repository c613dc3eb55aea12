import Engine
import Foundation
import Store

extension ServerConfiguration {
    /// The command's default store: an SQLite file in the user's state directory
    /// (`$XDG_STATE_HOME/offload-http/jobs.sqlite3`, else `~/.local/state/offload-http/...`).
    public static var defaultStore: StoreLocation {
        let environment = ProcessInfo.processInfo.environment
        let state = environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.local/state"
        return .sqlite(path: state + "/offload-http/jobs.sqlite3")
    }

    /// The store a URL names; a PostgreSQL password may come from a file (a Kubernetes secret),
    /// with the same permission rule as the other secrets, and overrides one in the URL.
    public static func store(_ url: String, passwordFile: String?) throws -> StoreLocation {
        let password = try passwordFile.map { file in
            let text = String(decoding: try SecretFile.read(file, what: "store password file"), as: UTF8.self)
            return text.trimmingCharacters(in: .newlines)
        }
        do {
            let location = try StoreLocation(parsing: url, password: password)
            switch location {
            case .memory, .sqlite:
                guard password == nil else { throw ServerError("--store-password-file goes with a postgres:// store only.") }
            case .postgres: break
            }
            return location
        } catch let error as StoreError {
            throw ServerError(error.message)
        }
    }

    /// The master key of `--master-key-file`.
    public static func masterKey(file: String) throws -> KeyWrap {
        try MasterKey.load(file: file)
    }
}
