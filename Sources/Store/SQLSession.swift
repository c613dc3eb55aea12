/// What the key statements need of a connection, so that they are written once for SQLite and
/// PostgreSQL: statements with numbered parameters (`$1`, `$2`, ... in the order they first
/// appear; SQLite reads them as `?1`, `?2`), and transactions.
protocol SQLSession: AnyObject {
    /// Runs a statement; returns the rows it changed.
    func run(_ sql: String, _ values: [StoreValue]) throws(StoreError) -> Int
    /// Runs a query; `kinds` says how to read each column where the driver returns text.
    func select(_ sql: String, _ values: [StoreValue], kinds: [JobRow.Kind]) throws(StoreError) -> [[StoreValue]]
    /// Starts a transaction that takes the write lock at once.
    func begin() throws(StoreError)
    func commit() throws(StoreError)
    func rollback()
}

extension SQLSession {
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try begin()
        do throws(StoreError) {
            let result = try body()
            try commit()
            return result
        } catch {
            rollback()
            throw error
        }
    }
}

/// The key statements (schema version 2), on any `SQLSession`.
extension SQLSession {
    private static var keyColumns: String {
        "name, type, latest_version, min_decryption_version, deletion_allowed, created_ns"
    }
    private static var keyKinds: [JobRow.Kind] { [.text, .text, .integer, .integer, .integer, .integer] }

    func loadKeys() throws(StoreError) -> [StoredKey] {
        let keys = try select("SELECT \(Self.keyColumns) FROM keys ORDER BY name", [], kinds: Self.keyKinds)
        let versions = try select(
            "SELECT name, version, material, created_ns FROM key_versions ORDER BY name, version", [],
            kinds: [.text, .integer, .blob, .integer])
        var byName: [String: [StoredKey.Version]] = [:]
        for row in versions {
            guard let name = row[0].text, let version = row[1].integer, let material = row[2].blob,
                let created = row[3].integer
            else { continue }
            byName[name, default: []].append(
                StoredKey.Version(version: Int(version), sealedMaterial: material, createdNanoseconds: created))
        }
        return keys.compactMap { row in Self.key(row, versions: byName[row[0].text ?? ""] ?? []) }
    }

    private static func key(_ row: [StoreValue], versions: [StoredKey.Version]) -> StoredKey? {
        guard let name = row[0].text, let type = row[1].text, let latest = row[2].integer, let minimum = row[3].integer,
            let deletion = row[4].integer, let created = row[5].integer
        else { return nil }
        return StoredKey(
            name: name, type: type, latestVersion: Int(latest), minDecryptionVersion: Int(minimum),
            deletionAllowed: deletion != 0, createdNanoseconds: created, versions: versions)
    }

    private func loadKey(_ name: String) throws(StoreError) -> StoredKey? {
        guard let row = try select(
            "SELECT \(Self.keyColumns) FROM keys WHERE name = $1", [.text(name)], kinds: Self.keyKinds
        ).first else { return nil }
        let versions = try select(
            "SELECT version, material, created_ns FROM key_versions WHERE name = $1 ORDER BY version", [.text(name)],
            kinds: [.integer, .blob, .integer]
        ).compactMap { row -> StoredKey.Version? in
            guard let version = row[0].integer, let material = row[1].blob, let created = row[2].integer else { return nil }
            return StoredKey.Version(version: Int(version), sealedMaterial: material, createdNanoseconds: created)
        }
        return Self.key(row, versions: versions)
    }

    private static func sealed(_ seal: KeySealer, _ version: Int, _ type: String) throws(StoreError) -> [UInt8] {
        do {
            return try seal(version, type)
        } catch {
            throw StoreError("Sealing the key's material failed: \(error)")
        }
    }

    func createKey(name: String, type: String, now: Int64, seal: KeySealer) throws(StoreError) -> KeyChange {
        try transaction { () throws(StoreError) -> KeyChange in
            let inserted = try run(
                "INSERT INTO keys (name, type, latest_version, min_decryption_version, deletion_allowed, created_ns, updated_ns) "
                    + "VALUES ($1, $2, 1, 1, 0, $3, $3) ON CONFLICT (name) DO NOTHING",
                [.text(name), .text(type), .integer(now)])
            guard inserted == 1 else { return .nameTaken }
            _ = try run(
                "INSERT INTO key_versions (name, version, material, created_ns) VALUES ($1, 1, $2, $3)",
                [.text(name), .blob(try Self.sealed(seal, 1, type)), .integer(now)])
            return try loadKey(name).map { .done($0) } ?? .notFound
        }
    }

    func rotateKey(name: String, now: Int64, seal: KeySealer) throws(StoreError) -> KeyChange {
        try transaction { () throws(StoreError) -> KeyChange in
            // The row's update takes its lock: a concurrent rotation waits, then gets the next number.
            guard let row = try select(
                "UPDATE keys SET latest_version = latest_version + 1, updated_ns = $2 WHERE name = $1 "
                    + "RETURNING latest_version, type",
                [.text(name), .integer(now)], kinds: [.integer, .text]
            ).first, let version = row[0].integer, let type = row[1].text else { return .notFound }
            _ = try run(
                "INSERT INTO key_versions (name, version, material, created_ns) VALUES ($1, $2, $3, $4)",
                [.text(name), .integer(version), .blob(try Self.sealed(seal, Int(version), type)), .integer(now)])
            return try loadKey(name).map { .done($0) } ?? .notFound
        }
    }

    func updateKey(name: String, minDecryptionVersion: Int?, deletionAllowed: Bool?, now: Int64) throws(StoreError) -> KeyChange {
        try transaction { () throws(StoreError) -> KeyChange in
            guard let key = try loadKey(name) else { return .notFound }
            if let minimum = minDecryptionVersion, !(1...key.latestVersion).contains(minimum) {
                return .refused(
                    "min_decryption_version must be from 1 to the latest version, \(key.latestVersion), not \(minimum).")
            }
            _ = try run(
                "UPDATE keys SET min_decryption_version = $2, deletion_allowed = $3, updated_ns = $4 WHERE name = $1",
                [.text(name), .integer(Int64(minDecryptionVersion ?? key.minDecryptionVersion)),
                 .integer((deletionAllowed ?? key.deletionAllowed) ? 1 : 0), .integer(now)])
            return try loadKey(name).map { .done($0) } ?? .notFound
        }
    }

    func deleteKey(name: String, now: Int64) throws(StoreError) -> KeyChange {
        try transaction { () throws(StoreError) -> KeyChange in
            guard let key = try loadKey(name) else { return .notFound }
            guard key.deletionAllowed else {
                return .refused("Key \(name) may not be deleted: PATCH it with deletion_allowed true first.")
            }
            _ = try run("DELETE FROM key_versions WHERE name = $1", [.text(name)])
            _ = try run("DELETE FROM keys WHERE name = $1", [.text(name)])
            return .deleted
        }
    }

    func meta(_ name: String) throws(StoreError) -> [UInt8]? {
        try select("SELECT value FROM store_meta WHERE name = $1", [.text(name)], kinds: [.blob]).first?[0].blob
    }

    func setMetaIfAbsent(_ name: String, _ value: [UInt8]) throws(StoreError) -> [UInt8] {
        _ = try run(
            "INSERT INTO store_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", [.text(name), .blob(value)])
        return try meta(name) ?? value
    }

    /// The tables of schema version 2 (`blob` is the dialect's byte type).
    func createKeyTables(blob: String) throws(StoreError) {
        _ = try run(
            "CREATE TABLE keys (name TEXT PRIMARY KEY NOT NULL, type TEXT NOT NULL, latest_version INTEGER NOT NULL, "
                + "min_decryption_version INTEGER NOT NULL, deletion_allowed INTEGER NOT NULL, created_ns BIGINT NOT NULL, "
                + "updated_ns BIGINT NOT NULL)", [])
        _ = try run(
            "CREATE TABLE key_versions (name TEXT NOT NULL, version INTEGER NOT NULL, material \(blob) NOT NULL, "
                + "created_ns BIGINT NOT NULL, PRIMARY KEY (name, version))", [])
        _ = try run("CREATE TABLE store_meta (name TEXT PRIMARY KEY NOT NULL, value \(blob) NOT NULL)", [])
    }
}
