internal import CPostgres
import Engine
import Foundation

/// The shared store: PostgreSQL through libpq, the C client every PostgreSQL driver is measured
/// against. The store's calls run on threads of their own (never on a serving loop), so libpq's
/// blocking calls fit; an event-loop client (postgres-nio) would bring SwiftNIO's loops beside
/// the engine's for no gain. The schema is versioned in `offload_schema`, migrated at start
/// under an advisory lock, so replicas starting together do not race.
final class PostgresConnection: StoreConnection, SQLSession {
    static let schemaVersion = 2
    /// Rows in one multi-row INSERT or UPDATE (21 or 12 parameters each; PostgreSQL allows 65,535).
    private static let rowsPerStatement = 1000

    private let connection: OpaquePointer

    init(url: String, password: String?) throws(StoreError) {
        // dbname first, password after: libpq expands the URL, then a later keyword overrides it.
        var keywords = ["dbname", "connect_timeout", "application_name"]
        var values = [url, "5", "offload-http"]
        if let password {
            keywords.append("password")
            values.append(password)
        }
        let keywordPointers = keywords.map { strdup($0) } + [nil]
        let valuePointers = values.map { strdup($0) } + [nil]
        defer {
            keywordPointers.forEach { free($0) }
            valuePointers.forEach { free($0) }
        }
        let connection = keywordPointers.map { UnsafePointer($0) }.withUnsafeBufferPointer { keywords in
            valuePointers.map { UnsafePointer($0) }.withUnsafeBufferPointer { values in
                PQconnectdbParams(keywords.baseAddress, values.baseAddress, 1)
            }
        }
        guard let connection else { throw StoreError("Cannot connect to PostgreSQL: out of memory.") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw StoreError(
                "Cannot connect to PostgreSQL at \(StoreLocation.redacted(url)): \(message)", connectionLost: true)
        }
        self.connection = connection
        // libpq prints the server's notices (such as "relation already exists, skipping" of
        // CREATE TABLE IF NOT EXISTS) on standard error; they say nothing an operator needs.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        do throws(StoreError) {
            try migrate()
        } catch {
            PQfinish(connection)
            throw error
        }
    }

    deinit {
        PQfinish(connection)
    }

    private func migrate() throws(StoreError) {
        try execute("BEGIN")
        do throws(StoreError) {
            try execute("SELECT pg_advisory_xact_lock(\(SQLiteConnection.applicationID))")
            try execute("CREATE TABLE IF NOT EXISTS offload_schema (version integer NOT NULL)")
            let version = try query("SELECT max(version) FROM offload_schema", [], kinds: [.integer]).first?[0].integer ?? 0
            if version > Int64(Self.schemaVersion) {
                throw StoreError(
                    "The PostgreSQL store has schema version \(version), newer than this build knows "
                        + "(\(Self.schemaVersion)); run a newer offload-http.")
            }
            if version < 1 {
                try execute("""
                    CREATE TABLE jobs (
                        id uuid PRIMARY KEY, status text NOT NULL, operation text NOT NULL, algorithm text NOT NULL,
                        key_name text, provider text NOT NULL, owner text, input_bytes bigint NOT NULL, output bytea,
                        output_bytes bigint, pauses integer NOT NULL, device_unit integer, engine integer,
                        created_ns bigint NOT NULL, started_ns bigint, finished_ns bigint, device_ns bigint,
                        error_code text, error_message text, instance text NOT NULL, deadline_ns bigint)
                    """)
                try execute("CREATE INDEX jobs_by_creation ON jobs (created_ns)")
                try execute("CREATE INDEX jobs_by_finish ON jobs (finished_ns) WHERE finished_ns IS NOT NULL")
                try execute("CREATE INDEX jobs_unfinished ON jobs (deadline_ns) WHERE status IN \(JobRow.unfinishedStatuses)")
                try execute("CREATE TABLE job_totals (instance text PRIMARY KEY, completed bigint NOT NULL, failed bigint NOT NULL)")
                try execute("INSERT INTO offload_schema (version) VALUES (1)")
            }
            if version < 2 {
                try execute("ALTER TABLE jobs ADD COLUMN key_version integer")
                try execute("ALTER TABLE jobs ADD COLUMN describes_output integer NOT NULL DEFAULT 0")
                try createKeyTables(blob: "bytea")
                try execute("UPDATE offload_schema SET version = 2")
            }
            try execute("COMMIT")
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    /// One transaction, in as few round trips as the batch allows: consecutive inserts are one
    /// multi-row INSERT, consecutive updates one UPDATE from a VALUES list.
    func write(_ writes: [StoreWrite], instance: String) throws(StoreError) {
        try execute("BEGIN")
        do throws(StoreError) {
            var inserts: [[StoreValue]] = []
            var updates: [[StoreValue]] = []
            func flush() throws(StoreError) {
                if !inserts.isEmpty {
                    try execute(
                        "INSERT INTO jobs (\(JobRow.columns.map(\.name).joined(separator: ", "))) VALUES "
                            + Self.placeholders(rows: inserts.count, width: JobRow.columns.count)
                            + " ON CONFLICT (id) DO NOTHING", inserts.flatMap { $0 })
                    inserts.removeAll(keepingCapacity: true)
                }
                if !updates.isEmpty {
                    // The changing columns, then the id, with their types: a VALUES list has none.
                    let names = JobRow.changingColumns + ["id"]
                    let types = names.map { name in Self.sqlType(JobRow.columns.first { $0.name == name }!.kind) }
                    let width = names.count
                    let rows = (0..<updates.count).map { row in
                        "(" + (0..<width).map { "$\(row * width + $0 + 1)::\(types[$0])" }.joined(separator: ", ") + ")"
                    }
                    try execute(
                        "UPDATE jobs SET \(JobRow.changingColumns.map { "\($0) = v.\($0)" }.joined(separator: ", ")) "
                            + "FROM (VALUES \(rows.joined(separator: ", "))) AS v (\(names.joined(separator: ", "))) "
                            + "WHERE jobs.id = v.id AND jobs.status IN \(JobRow.unfinishedStatuses)",
                        updates.flatMap { $0 })
                    updates.removeAll(keepingCapacity: true)
                }
            }
            for write in writes {
                switch write {
                case .insert(let record, let deadline):
                    if !updates.isEmpty { try flush() }  // keep the order: an update before it may be of another row
                    inserts.append(JobRow.values(record, instance: instance, deadline: deadline))
                case .update(let record):
                    if !inserts.isEmpty { try flush() }  // an update may be of a row inserted just before
                    updates.append(JobRow.changes(record))
                }
                if inserts.count == Self.rowsPerStatement || updates.count == Self.rowsPerStatement { try flush() }
            }
            try flush()
            try execute("COMMIT")
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    private static func placeholders(rows: Int, width: Int) -> String {
        (0..<rows).map { row in "(" + (1...width).map { "$\(row * width + $0)" }.joined(separator: ", ") + ")" }
            .joined(separator: ", ")
    }

    private static func sqlType(_ kind: JobRow.Kind) -> String {
        switch kind {
        case .integer: "bigint"
        case .text: "text"
        case .blob: "bytea"
        case .uuid: "uuid"
        }
    }

    func addTotals(instance: String, completed: Int, failed: Int) throws(StoreError) -> (completed: Int, failed: Int) {
        if completed != 0 || failed != 0 {
            try execute(
                "INSERT INTO job_totals (instance, completed, failed) VALUES ($1, $2, $3) ON CONFLICT (instance) "
                    + "DO UPDATE SET completed = job_totals.completed + excluded.completed, "
                    + "failed = job_totals.failed + excluded.failed",
                [.text(instance), .integer(Int64(completed)), .integer(Int64(failed))])
        }
        let row = try query(
            "SELECT coalesce(sum(completed), 0), coalesce(sum(failed), 0) FROM job_totals", [],
            kinds: [.integer, .integer]).first
        return (Int(row?[0].integer ?? 0), Int(row?[1].integer ?? 0))
    }

    func job(_ id: UUID) throws(StoreError) -> JobRecord? {
        let rows = try query(
            "SELECT \(JobRow.selectList(withOutput: true, emptyBlob: "''::bytea")) FROM jobs WHERE id = $1",
            [.text(id.uuidString.lowercased())], kinds: JobRow.readColumns.map(\.kind))
        return try rows.first.map { row throws(StoreError) in try JobRow.record(row) }
    }

    func list(status: JobStatus?, owner: String?, limit: Int) throws(StoreError) -> (jobs: [JobRecord], counts: JobCounts) {
        var conditions: [String] = []
        var parameters: [StoreValue] = []
        if let owner {
            parameters.append(.text(owner))
            conditions.append("owner = $\(parameters.count)")
        }
        let ownerClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        var counts = JobCounts()
        for row in try query(
            "SELECT status, count(*) FROM jobs\(ownerClause) GROUP BY status", parameters, kinds: [.text, .integer])
        {
            if let status = row[0].text.flatMap(JobStatus.init(rawValue:)) { counts[status] = Int(row[1].integer ?? 0) }
        }
        if let status {
            parameters.append(.text(status.rawValue))
            conditions.append("status = $\(parameters.count)")
        }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        parameters.append(.integer(Int64(limit)))
        let rows = try query(
            "SELECT \(JobRow.selectList(withOutput: false, emptyBlob: "''::bytea")) FROM jobs\(whereClause) "
                + "ORDER BY created_ns DESC LIMIT $\(parameters.count)", parameters,
            kinds: JobRow.readColumns.map(\.kind))
        var jobs: [JobRecord] = []
        for row in rows { jobs.append(try JobRow.record(row)) }
        return (jobs, counts)
    }

    func failUnfinished(instance: String?, deadlineBefore: Int64?, error: EngineError, now: Int64) throws(StoreError) -> Int {
        var parameters: [StoreValue] = [.text(error.code.rawValue), .text(error.message), .integer(now)]
        var condition = "status IN \(JobRow.unfinishedStatuses)"
        if let instance {
            parameters.append(.text(instance))
            condition += " AND instance = $\(parameters.count)"
        }
        if let deadlineBefore {
            parameters.append(.integer(deadlineBefore))
            condition += " AND deadline_ns < $\(parameters.count)"
        }
        return try execute(
            "UPDATE jobs SET status = 'failed', error_code = $1, error_message = $2, finished_ns = $3 WHERE \(condition)",
            parameters)
    }

    func prune(keeping: Int, finishedBefore: Int64) throws(StoreError) -> Int {
        try execute(
            """
            DELETE FROM jobs WHERE finished_ns IS NOT NULL AND (finished_ns < $1 OR finished_ns <= (
                SELECT finished_ns FROM jobs WHERE finished_ns IS NOT NULL ORDER BY finished_ns DESC LIMIT 1 OFFSET $2))
            """, [.integer(finishedBefore), .integer(Int64(keeping))])
    }

    // MARK: - SQLSession

    func run(_ sql: String, _ values: [StoreValue]) throws(StoreError) -> Int {
        try execute(sql, values)
    }

    func select(_ sql: String, _ values: [StoreValue], kinds: [JobRow.Kind]) throws(StoreError) -> [[StoreValue]] {
        try query(sql, values, kinds: kinds)
    }

    func begin() throws(StoreError) { try execute("BEGIN") }
    func commit() throws(StoreError) { try execute("COMMIT") }
    func rollback() { _ = try? execute("ROLLBACK") }

    // MARK: - libpq calls

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        message.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? "unknown error"
    }

    /// Runs a statement with parameters (blobs sent binary, the rest as text); returns the result.
    private func result(of sql: String, _ parameters: [StoreValue]) throws(StoreError) -> OpaquePointer {
        var texts: [UnsafeMutablePointer<CChar>?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        for parameter in parameters {
            switch parameter {
            case .null:
                texts.append(nil); lengths.append(0); formats.append(0)
            case .integer(let value):
                texts.append(strdup(String(value))); lengths.append(0); formats.append(0)
            case .text(let value):
                texts.append(strdup(value)); lengths.append(0); formats.append(0)
            case .blob(let bytes):
                let copy = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, bytes.count))
                bytes.withUnsafeBytes { UnsafeMutableRawPointer(copy).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                texts.append(copy); lengths.append(Int32(bytes.count)); formats.append(1)
            }
        }
        defer { texts.forEach { $0.map { free($0) } } }
        let result = texts.map { UnsafePointer($0) }.withUnsafeBufferPointer { values in
            PQexecParams(connection, sql, Int32(parameters.count), nil, values.baseAddress, lengths, formats, 0)
        }
        guard let result else { throw lost() }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let message = Self.trimmed(PQresultErrorMessage(result))
            PQclear(result)
            if PQstatus(connection) != CONNECTION_OK { throw lost() }
            throw StoreError("A PostgreSQL statement failed: \(message)")
        }
        return result
    }

    private func lost() -> StoreError {
        StoreError("The connection to PostgreSQL was lost: \(Self.trimmed(PQerrorMessage(connection)))", connectionLost: true)
    }

    /// Runs a statement; returns the rows it changed.
    @discardableResult
    private func execute(_ sql: String, _ parameters: [StoreValue] = []) throws(StoreError) -> Int {
        let result = try result(of: sql, parameters)
        defer { PQclear(result) }
        return Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    private func query(_ sql: String, _ parameters: [StoreValue], kinds: [JobRow.Kind]) throws(StoreError) -> [[StoreValue]] {
        let result = try result(of: sql, parameters)
        defer { PQclear(result) }
        let rowCount = PQntuples(result)
        var rows: [[StoreValue]] = []
        rows.reserveCapacity(Int(rowCount))
        for row in 0..<rowCount {
            var values: [StoreValue] = []
            for (column, kind) in kinds.enumerated() {
                let column = Int32(column)
                if PQgetisnull(result, row, column) != 0 {
                    values.append(.null)
                    continue
                }
                let text = String(cString: PQgetvalue(result, row, column))
                switch kind {
                case .integer: values.append(Int64(text).map { .integer($0) } ?? .null)
                case .text, .uuid: values.append(.text(text))
                case .blob: values.append(.blob(Self.bytes(fromHexBytea: text)))
                }
            }
            rows.append(values)
        }
        return rows
    }

    /// bytea in PostgreSQL's text output: `\x` then two hex digits per byte.
    private static func bytes(fromHexBytea text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8.dropFirst(2))
        bytes.reserveCapacity(utf8.count / 2)
        func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
        var index = 0
        while index + 1 < utf8.count {
            bytes.append(nibble(utf8[index]) << 4 | nibble(utf8[index + 1]))
            index += 2
        }
        return bytes
    }
}
