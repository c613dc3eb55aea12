import Engine
import Foundation

/// A job record as a row of the `jobs` table, the same in both stores.
///
/// Times are wall-clock nanoseconds since the Unix epoch. `instance` is the replica that ran
/// the job and `deadline_ns` the moment by which an unfinished job must have finished: past it
/// (its replica was killed, say), any replica marks it failed, so no job stays `running` forever.
enum JobRow {
    enum Kind { case integer, text, blob, uuid }

    /// The columns in the order rows are written and read.
    static let columns: [(name: String, kind: Kind)] = [
        ("id", .uuid), ("status", .text), ("operation", .text), ("algorithm", .text), ("key_name", .text),
        ("provider", .text), ("owner", .text), ("input_bytes", .integer), ("output", .blob),
        ("output_bytes", .integer), ("pauses", .integer), ("device_unit", .integer), ("engine", .integer),
        ("created_ns", .integer), ("started_ns", .integer), ("finished_ns", .integer), ("device_ns", .integer),
        ("error_code", .text), ("error_message", .text), ("instance", .text), ("deadline_ns", .integer),
        ("key_version", .integer), ("describes_output", .integer),
    ]

    /// The columns read back into a record: all but `instance` and `deadline_ns`.
    static let readColumns = columns.filter { $0.name != "instance" && $0.name != "deadline_ns" }

    /// The columns a finished or started job changes (after `id`, which names the row).
    static let changingColumns = [
        "status", "output", "output_bytes", "pauses", "device_unit", "engine", "started_ns", "finished_ns",
        "device_ns", "error_code", "error_message",
    ]

    static let unfinishedStatuses = "('queued', 'running')"

    /// The output as the store may keep it: a decryption's plaintext never goes to the store.
    private static func storedOutput(_ record: JobRecord) -> StoreValue {
        guard record.operation != .decrypt, let output = record.output else { return .null }
        return .blob(output)
    }

    static func values(_ record: JobRecord, instance: String, deadline: Int64?) -> [StoreValue] {
        [
            .text(record.id.uuidString.lowercased()), .text(record.status.rawValue), .text(record.operation.rawValue),
            .text(record.algorithm.rawValue), StoreValue(record.keyName), .text(record.provider),
            StoreValue(record.owner), .integer(Int64(record.inputBytes)), storedOutput(record),
            StoreValue(record.outputBytes), .integer(Int64(record.pauses)), StoreValue(record.deviceUnit),
            StoreValue(record.engine), .integer(record.createdAt.wallNanoseconds),
            StoreValue(record.startedAt?.wallNanoseconds), StoreValue(finishedNanoseconds(record)),
            StoreValue(record.deviceNanoseconds.map { Int64(clamping: $0) }), StoreValue(record.error?.code.rawValue),
            StoreValue(record.error?.message), .text(instance), StoreValue(deadline),
            StoreValue(record.keyVersion), .integer(record.describesOutput ? 1 : 0),
        ]
    }

    /// The values of `changingColumns`, then the id.
    static func changes(_ record: JobRecord) -> [StoreValue] {
        [
            .text(record.status.rawValue), storedOutput(record), StoreValue(record.outputBytes),
            .integer(Int64(record.pauses)), StoreValue(record.deviceUnit), StoreValue(record.engine),
            StoreValue(record.startedAt?.wallNanoseconds), StoreValue(finishedNanoseconds(record)),
            StoreValue(record.deviceNanoseconds.map { Int64(clamping: $0) }), StoreValue(record.error?.code.rawValue),
            StoreValue(record.error?.message), .text(record.id.uuidString.lowercased()),
        ]
    }

    /// When the job finished: its completion time, or now for a job failed without one.
    private static func finishedNanoseconds(_ record: JobRecord) -> Int64? {
        guard record.status.isFinished else { return nil }
        return record.completedAt?.wallNanoseconds ?? Timestamp.now().wallNanoseconds
    }

    /// The record a row holds, or an error naming what is wrong with it.
    static func record(_ row: [StoreValue]) throws(StoreError) -> JobRecord {
        func text(_ index: Int) -> String? { row[index].text }
        func int(_ index: Int) -> Int? { row[index].integer.map { Int($0) } }
        func time(_ index: Int) -> Timestamp? { row[index].integer.map { Timestamp(storedWallNanoseconds: $0) } }
        guard row.count >= readColumns.count,
            let id = text(0).flatMap(UUID.init(uuidString:)),
            let status = text(1).flatMap(JobStatus.init(rawValue:)),
            let operation = text(2).flatMap(JobOperation.init(rawValue:)),
            let algorithm = text(3).flatMap(Algorithm.init(rawValue:)),
            let provider = text(5), let inputBytes = int(7), let pauses = int(10), let createdAt = time(13)
        else {
            throw StoreError("The store holds a job row this version cannot read: \(row.prefix(4)).")
        }
        // A code this build does not know (a newer replica's) reads as an engine error.
        let error = text(17).map { EngineError(code: EngineError.Code(rawValue: $0) ?? .engineError, message: text(18) ?? "") }
        return JobRecord(
            id: id, status: status, operation: operation, algorithm: algorithm, keyName: text(4),
            keyVersion: int(19), describesOutput: int(20) == 1, provider: provider,
            owner: text(6), inputBytes: inputBytes, output: row[8].blob, outputBytes: int(9), pauses: pauses,
            deviceUnit: int(11), engine: int(12), createdAt: createdAt, startedAt: time(14),
            completedAt: status.isFinished ? time(15) : nil, deviceNanoseconds: row[16].integer.map { UInt64(max(0, $0)) },
            error: error)
    }

    /// The select list of a query: every column read back, the output only when `withOutput`
    /// (a list shows no output; an empty one stands for a kept output, so the record still
    /// says it was kept).
    static func selectList(withOutput: Bool, emptyBlob: String) -> String {
        readColumns.map { column in
            column.name == "output" && !withOutput
                ? "CASE WHEN output IS NULL THEN NULL ELSE \(emptyBlob) END" : column.name
        }.joined(separator: ", ")
    }
}
