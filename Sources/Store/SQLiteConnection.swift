internal import CSQLite
import Engine
import Foundation
import Glibc

/// The embedded store: one SQLite file in WAL mode (readers never wait for the writer), every
/// commit synced to disk (`synchronous=FULL`), so a job answered 202 survives a crash of the
/// process and of the machine. Uses the system's SQLite C library directly: the store needs a
/// dozen statements run from threads of its own, and a wrapper (GRDB, sqlite-nio) would add a
/// concurrency model of its own on top.
final class SQLiteConnection: StoreConnection, SQLSession {
    /// `PRAGMA application_id` of our files ("OFFH"): a file with another id is another program's.
    static let applicationID: Int32 = 0x4F46_4648
    static let schemaVersion = 2

    private let database: OpaquePointer
    private let path: String
    private var insertStatement: OpaquePointer?
    private var updateStatement: OpaquePointer?

    /// Opens (creating when absent) the store at `path`. A file that is not one of our stores,
    /// or is damaged, is reported and left as it is.
    init(path: String) throws(StoreError) {
        self.path = path
        let exists = FileManager.default.fileExists(atPath: path)
        if exists {
            try Self.checkIsOurs(path)
        } else {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw StoreError("Cannot create the directory of the store \(path): \(error.localizedDescription)")
            }
            // Job outputs are data: readable by the service's user only (SQLite gives its -wal
            // and -shm files the same mode).
            let created = Glibc.open(path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
            guard created >= 0 else {
                throw StoreError("Cannot create the store \(path): \(String(cString: strerror(errno))).")
            }
            Glibc.close(created)
        }
        var handle: OpaquePointer?
        let opened = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard opened == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw StoreError("Cannot open the store \(path): \(message).")
        }
        database = handle
        sqlite3_busy_timeout(database, 5000)
        do throws(StoreError) {
            try execute("PRAGMA journal_mode=WAL")
            try execute("PRAGMA synchronous=FULL")
            try migrate()
        } catch {
            sqlite3_close(database)
            throw error
        }
    }

    deinit {
        sqlite3_finalize(insertStatement)
        sqlite3_finalize(updateStatement)
        sqlite3_close(database)
    }

    /// Reads the file without writing to it: a damaged file, another program's database or one
    /// of a newer version of this service stops the start, untouched.
    private static func checkIsOurs(_ path: String) throws(StoreError) {
        var handle: OpaquePointer?
        defer { sqlite3_close(handle) }
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let handle else {
            throw StoreError("Cannot open the store \(path) to read it; check its permissions.")
        }
        func integer(_ sql: String) throws(StoreError) -> Int64 {
            var statement: OpaquePointer?
            defer { sqlite3_finalize(statement) }
            guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK,
                sqlite3_step(statement) == SQLITE_ROW
            else {
                throw StoreError(
                    "The store \(path) is not a readable SQLite database (\(String(cString: sqlite3_errmsg(handle)))); "
                        + "it was left as it is: move it away or name another file with --store sqlite:PATH.")
            }
            return sqlite3_column_int64(statement, 0)
        }
        let applicationID = try integer("PRAGMA application_id")
        let version = try integer("PRAGMA user_version")
        let tables = try integer("SELECT count(*) FROM sqlite_master")
        if applicationID == Int64(Self.applicationID) {
            // Reads every page of our own file: a damaged one is found now, not by a later write.
            var statement: OpaquePointer?
            defer { sqlite3_finalize(statement) }
            guard sqlite3_prepare_v2(handle, "PRAGMA quick_check", -1, &statement, nil) == SQLITE_OK,
                sqlite3_step(statement) == SQLITE_ROW, let text = sqlite3_column_text(statement, 0),
                String(cString: text) == "ok"
            else {
                throw StoreError(
                    "The store \(path) is damaged (SQLite's quick_check failed); it was left as it is: "
                        + "restore it from a backup, or move it away to start with an empty store.")
            }
        }
        if applicationID != Int64(Self.applicationID) && (tables > 0 || version != 0 || applicationID != 0) {
            throw StoreError(
                "The store \(path) is an SQLite database of another program; it was left as it is: "
                    + "name another file with --store sqlite:PATH.")
        }
        if version > Int64(schemaVersion) {
            throw StoreError(
                "The store \(path) has schema version \(version), newer than this build knows (\(schemaVersion)); "
                    + "run a newer offload-http.")
        }
    }

    private func migrate() throws(StoreError) {
        try execute("BEGIN IMMEDIATE")
        do throws(StoreError) {
            let version = try integer("PRAGMA user_version")
            if version < 1 {
                try execute("""
                    CREATE TABLE jobs (
                        id TEXT PRIMARY KEY NOT NULL, status TEXT NOT NULL, operation TEXT NOT NULL,
                        algorithm TEXT NOT NULL, key_name TEXT, provider TEXT NOT NULL, owner TEXT,
                        input_bytes INTEGER NOT NULL, output BLOB, output_bytes INTEGER, pauses INTEGER NOT NULL,
                        device_unit INTEGER, engine INTEGER, created_ns INTEGER NOT NULL, started_ns INTEGER,
                        finished_ns INTEGER, device_ns INTEGER, error_code TEXT, error_message TEXT,
                        instance TEXT NOT NULL, deadline_ns INTEGER)
                    """)
                try execute("CREATE INDEX jobs_by_creation ON jobs (created_ns)")
                try execute("CREATE INDEX jobs_by_finish ON jobs (finished_ns) WHERE finished_ns IS NOT NULL")
                try execute("CREATE INDEX jobs_unfinished ON jobs (deadline_ns) WHERE status IN \(JobRow.unfinishedStatuses)")
                try execute(
                    "CREATE TABLE job_totals (instance TEXT PRIMARY KEY NOT NULL, completed INTEGER NOT NULL, failed INTEGER NOT NULL)")
                try execute("PRAGMA application_id = \(Self.applicationID)")
                try execute("PRAGMA user_version = 1")
            }
            if version < 2 {
                try execute("ALTER TABLE jobs ADD COLUMN key_version INTEGER")
                try execute("ALTER TABLE jobs ADD COLUMN describes_output INTEGER NOT NULL DEFAULT 0")
                try createKeyTables(blob: "BLOB")
                try execute("PRAGMA user_version = 2")
            }
            try execute("COMMIT")
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    func write(_ writes: [StoreWrite], instance: String) throws(StoreError) {
        if insertStatement == nil {
            let names = JobRow.columns.map(\.name)
            insertStatement = try prepare(
                "INSERT OR IGNORE INTO jobs (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))")
            updateStatement = try prepare(
                "UPDATE jobs SET \(JobRow.changingColumns.map { "\($0) = ?" }.joined(separator: ", ")) "
                    + "WHERE id = ? AND status IN \(JobRow.unfinishedStatuses)")
        }
        try execute("BEGIN IMMEDIATE")
        do throws(StoreError) {
            for write in writes {
                switch write {
                case .insert(let record, let deadline):
                    try run(insertStatement!, JobRow.values(record, instance: instance, deadline: deadline))
                case .update(let record):
                    try run(updateStatement!, JobRow.changes(record))
                }
            }
            try execute("COMMIT")
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    func job(_ id: UUID) throws(StoreError) -> JobRecord? {
        let rows = try query(
            "SELECT \(JobRow.selectList(withOutput: true, emptyBlob: "x''")) FROM jobs WHERE id = ?",
            [.text(id.uuidString.lowercased())])
        guard let row = rows.first else { return nil }
        return try JobRow.record(row)
    }

    func list(status: JobStatus?, owner: String?, limit: Int) throws(StoreError) -> (jobs: [JobRecord], counts: JobCounts) {
        var conditions: [String] = []
        var parameters: [StoreValue] = []
        if let owner {
            conditions.append("owner = ?")
            parameters.append(.text(owner))
        }
        let ownerClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        var counts = JobCounts()
        for row in try query("SELECT status, count(*) FROM jobs\(ownerClause) GROUP BY status", parameters) {
            if let status = row[0].text.flatMap(JobStatus.init(rawValue:)) { counts[status] = Int(row[1].integer ?? 0) }
        }
        if let status {
            conditions.append("status = ?")
            parameters.append(.text(status.rawValue))
        }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let rows = try query(
            "SELECT \(JobRow.selectList(withOutput: false, emptyBlob: "x''")) FROM jobs\(whereClause) "
                + "ORDER BY created_ns DESC LIMIT ?", parameters + [.integer(Int64(limit))])
        var jobs: [JobRecord] = []
        for row in rows { jobs.append(try JobRow.record(row)) }
        return (jobs, counts)
    }

    func failUnfinished(instance: String?, deadlineBefore: Int64?, error: EngineError, now: Int64) throws(StoreError) -> Int {
        var condition = "status IN \(JobRow.unfinishedStatuses)"
        var parameters: [StoreValue] = [.text(error.code.rawValue), .text(error.message), .integer(now)]
        if let instance {
            condition += " AND instance = ?"
            parameters.append(.text(instance))
        }
        if let deadlineBefore {
            condition += " AND deadline_ns < ?"
            parameters.append(.integer(deadlineBefore))
        }
        try execute(
            "UPDATE jobs SET status = 'failed', error_code = ?, error_message = ?, finished_ns = ? WHERE \(condition)",
            parameters)
        return Int(sqlite3_changes(database))
    }

    func addTotals(instance: String, completed: Int, failed: Int) throws(StoreError) -> (completed: Int, failed: Int) {
        if completed != 0 || failed != 0 {
            try execute(
                "INSERT INTO job_totals (instance, completed, failed) VALUES (?, ?, ?) ON CONFLICT (instance) "
                    + "DO UPDATE SET completed = completed + excluded.completed, failed = failed + excluded.failed",
                [.text(instance), .integer(Int64(completed)), .integer(Int64(failed))])
        }
        let row = try query("SELECT coalesce(sum(completed), 0), coalesce(sum(failed), 0) FROM job_totals", []).first
        return (Int(row?[0].integer ?? 0), Int(row?[1].integer ?? 0))
    }

    func prune(keeping: Int, finishedBefore: Int64) throws(StoreError) -> Int {
        try execute(
            """
            DELETE FROM jobs WHERE finished_ns IS NOT NULL AND (finished_ns < ? OR finished_ns <= (
                SELECT finished_ns FROM jobs WHERE finished_ns IS NOT NULL ORDER BY finished_ns DESC LIMIT 1 OFFSET ?))
            """, [.integer(finishedBefore), .integer(Int64(keeping))])
        return Int(sqlite3_changes(database))
    }

    // MARK: - SQLSession

    func run(_ sql: String, _ values: [StoreValue]) throws(StoreError) -> Int {
        try execute(Self.numbered(sql), values)
        return Int(sqlite3_changes(database))
    }

    func select(_ sql: String, _ values: [StoreValue], kinds: [JobRow.Kind]) throws(StoreError) -> [[StoreValue]] {
        try query(Self.numbered(sql), values)
    }

    func begin() throws(StoreError) { try execute("BEGIN IMMEDIATE") }
    func commit() throws(StoreError) { try execute("COMMIT") }
    func rollback() { _ = try? execute("ROLLBACK") }

    /// `$1` as SQLite's `?1`.
    private static func numbered(_ sql: String) -> String {
        sql.replacing(/\$(\d+)/) { "?\($0.1)" }
    }

    // MARK: - SQLite calls

    private func error(_ what: String) -> StoreError {
        // The extended code tells apart the I/O errors that share one message.
        StoreError(
            "\(what) in the store \(path) failed: \(String(cString: sqlite3_errmsg(database))) "
                + "(SQLite code \(sqlite3_extended_errcode(database))).")
    }

    private func prepare(_ sql: String) throws(StoreError) -> OpaquePointer {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(database, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw error("Preparing a statement")
        }
        return statement
    }

    private func bind(_ statement: OpaquePointer, _ values: [StoreValue]) {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            switch value {
            case .null: sqlite3_bind_null(statement, index)
            case .integer(let integer): sqlite3_bind_int64(statement, index, integer)
            case .text(let text): sqlite3_bind_text(statement, index, text, -1, CSQLite_transient())
            case .blob(let bytes):
                if bytes.isEmpty {
                    sqlite3_bind_zeroblob(statement, index, 0)
                } else {
                    bytes.withUnsafeBytes { _ = sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), CSQLite_transient()) }
                }
            }
        }
    }

    private func run(_ statement: OpaquePointer, _ values: [StoreValue]) throws(StoreError) {
        bind(statement, values)
        defer { sqlite3_reset(statement) }
        guard sqlite3_step(statement) == SQLITE_DONE else { throw error("Writing a job") }
    }

    private func execute(_ sql: String, _ values: [StoreValue] = []) throws(StoreError) {
        let statement = try prepare(sql)
        defer { sqlite3_finalize(statement) }
        bind(statement, values)
        var result = sqlite3_step(statement)
        while result == SQLITE_ROW { result = sqlite3_step(statement) }
        guard result == SQLITE_DONE else { throw error("'\(sql.prefix(40))'") }
    }

    private func integer(_ sql: String) throws(StoreError) -> Int64 {
        try query(sql, []).first?.first?.integer ?? 0
    }

    private func query(_ sql: String, _ values: [StoreValue]) throws(StoreError) -> [[StoreValue]] {
        let statement = try prepare(sql)
        defer { sqlite3_finalize(statement) }
        bind(statement, values)
        var rows: [[StoreValue]] = []
        let columns = sqlite3_column_count(statement)
        while true {
            let result = sqlite3_step(statement)
            if result == SQLITE_DONE { break }
            guard result == SQLITE_ROW else { throw error("Reading jobs") }
            var row: [StoreValue] = []
            row.reserveCapacity(Int(columns))
            for column in 0..<columns {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(statement, column)))
                case SQLITE_TEXT: row.append(.text(String(cString: sqlite3_column_text(statement, column))))
                case SQLITE_BLOB:
                    let count = Int(sqlite3_column_bytes(statement, column))
                    if let pointer = sqlite3_column_blob(statement, column), count > 0 {
                        row.append(.blob(Array(UnsafeRawBufferPointer(start: pointer, count: count))))
                    } else {
                        row.append(.blob([]))
                    }
                default: row.append(.null)
                }
            }
            rows.append(row)
        }
        return rows
    }
}
