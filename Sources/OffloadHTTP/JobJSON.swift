import Engine
import Foundation

/// How jobs look to clients (the OpenAPI document's Job): the whole job, or a summary without its output.
enum JobJSON {
    /// The job; with `plaintext`, a data key's plaintext too (in this answer only).
    static func job(_ record: JobRecord, plaintext: [UInt8]? = nil) -> [UInt8] {
        var json = JSONWriter(capacity: 512 + 2 * (record.output?.count ?? 0))
        write(record, includingOutput: true, plaintext: plaintext, to: &json)
        return json.bytes
    }

    /// A batch's results in input order: each a job, or the error of an item that never ran.
    static func batch(_ results: [Result<JobRecord, APIError>]) -> [UInt8] {
        var json = JSONWriter(capacity: 256 + 512 * results.count)
        json.beginObject()
        json.key("results")
        json.beginArray()
        for result in results {
            switch result {
            case .success(let record):
                write(record, includingOutput: true, to: &json)
            case .failure(let error):
                json.beginObject()
                json.field("status", JobStatus.failed.rawValue)
                json.errorField(code: error.code.rawValue, message: error.message)
                json.endObject()
            }
        }
        json.endArray()
        json.endObject()
        return json.bytes
    }

    static func list(_ records: [JobRecord], counts: JobCounts) -> [UInt8] {
        var json = JSONWriter(capacity: 256 + 480 * records.count)
        json.beginObject()
        json.key("jobs")
        json.beginArray()
        for record in records {
            write(record, includingOutput: false, to: &json)
        }
        json.endArray()
        json.key("counts")
        json.beginObject()
        for status in JobStatus.allCases {
            json.key(data: status.rawValue)
            json.int(counts[status])
        }
        json.endObject()
        json.endObject()
        return json.bytes
    }

    static func write(_ record: JobRecord, includingOutput: Bool, plaintext: [UInt8]? = nil, to json: inout JSONWriter) {
        json.beginObject()
        json.key("id")
        json.uuid(record.id)
        json.member(member(record.status))
        json.member(member(record.operation))
        json.member(member(record.algorithm))
        if let keyName = record.keyName { json.field("key", keyName) }
        json.field("key_version", record.keyVersion)
        json.field("input_bytes", record.inputBytes)
        json.field("output_bytes", record.outputBytes)
        if record.operation == .verify {
            // The comparison's result, not the MAC it computed.
            if record.status == .completed, let output = record.output {
                json.key("valid")
                json.bool(output == [1])
            }
        } else if includingOutput, let output = record.output {
            json.key("output_hex")
            json.hex(output)
            if record.describesOutput, let name = record.keyName, let version = record.keyVersion {
                // What /decrypt (or /verify) takes alone: the key and version travel with it.
                let field: StaticString = switch record.operation {
                case .hmac: "hmac"
                case .sign: "signature"
                default: "ciphertext"
                }
                json.field(
                    field,
                    "offload:\(name):v\(version):" + Data(output).base64EncodedString())
            }
        }
        if let plaintext, record.status == .completed {
            json.field("plaintext_base64", Data(plaintext).base64EncodedString())
        }
        if !record.outputRetained {
            json.key("output_retained")
            json.bool(false)
        }
        json.field("provider", record.provider)
        if let owner = record.owner { json.field("owner", owner) }
        json.field("pauses", record.pauses)
        json.field("device_unit", record.deviceUnit)
        json.field("engine", record.engine)
        timestamp("created_at", record.createdAt, to: &json)
        timestamp("started_at", record.startedAt, to: &json)
        timestamp("completed_at", record.completedAt, to: &json)
        json.key("timings_ms")
        json.beginObject()
        duration("queued", from: record.createdAt, to: record.startedAt, to: &json)
        json.key("device")
        if let device = record.deviceNanoseconds { json.milliseconds(nanoseconds: device) } else { json.null() }
        duration("total", from: record.createdAt, to: record.completedAt, to: &json)
        json.endObject()
        if let error = record.error {
            json.errorField(code: error.code.rawValue, message: error.message)
        }
        json.endObject()
    }

    /// The job's fields as `Offload-*` headers, for an answer whose body is the raw output
    /// (`Accept: application/octet-stream`): the same names and values as the JSON, less the output.
    static func headers(_ record: JobRecord) -> [(name: String, value: String)] {
        func text(_ write: (inout JSONWriter) -> Void) -> String {
            var json = JSONWriter(capacity: 32)
            write(&json)
            return String(decoding: json.bytes.filter { $0 != UInt8(ascii: "\"") }, as: UTF8.self)
        }
        var headers: [(name: String, value: String)] = [
            ("Offload-Job-Id", record.id.uuidString.lowercased()),
            ("Offload-Job-Status", record.status.rawValue),
            ("Offload-Operation", record.operation.rawValue),
            ("Offload-Algorithm", record.algorithm.rawValue),
            ("Offload-Provider", record.provider),
            ("Offload-Input-Bytes", String(record.inputBytes)),
            ("Offload-Pauses", String(record.pauses)),
        ]
        if let keyName = record.keyName { headers.append(("Offload-Key", keyName)) }
        if let version = record.keyVersion { headers.append(("Offload-Key-Version", String(version))) }
        if let owner = record.owner { headers.append(("Offload-Owner", owner)) }
        if let unit = record.deviceUnit { headers.append(("Offload-Device-Unit", String(unit))) }
        if let engine = record.engine { headers.append(("Offload-Engine", String(engine))) }
        for (name, time) in [
            ("Offload-Created-At", record.createdAt), ("Offload-Started-At", record.startedAt),
            ("Offload-Completed-At", record.completedAt),
        ] {
            if let time { headers.append((name, text { $0.timestamp(wallNanoseconds: time.wallNanoseconds) })) }
        }
        var timings: [String] = []
        if let started = record.startedAt {
            timings.append("queued=" + text { $0.milliseconds(nanoseconds: record.createdAt.nanoseconds(until: started)) })
        }
        if let device = record.deviceNanoseconds { timings.append("device=" + text { $0.milliseconds(nanoseconds: device) }) }
        if let completed = record.completedAt {
            timings.append("total=" + text { $0.milliseconds(nanoseconds: record.createdAt.nanoseconds(until: completed)) })
        }
        headers.append(("Offload-Timings-Ms", timings.joined(separator: ", ")))
        return headers
    }

    /// `"status":"<raw value>"`, spelled out for each case (JobJSONTests checks every case
    /// against its raw value): written as one copy on every job answer.
    static func member(_ status: JobStatus) -> StaticString {
        switch status {
        case .queued: "\"status\":\"queued\""
        case .running: "\"status\":\"running\""
        case .completed: "\"status\":\"completed\""
        case .failed: "\"status\":\"failed\""
        }
    }

    static func member(_ operation: JobOperation) -> StaticString {
        switch operation {
        case .encrypt: "\"operation\":\"encrypt\""
        case .decrypt: "\"operation\":\"decrypt\""
        case .rewrap: "\"operation\":\"rewrap\""
        case .datakey: "\"operation\":\"datakey\""
        case .hmac: "\"operation\":\"hmac\""
        case .sign: "\"operation\":\"sign\""
        case .verify: "\"operation\":\"verify\""
        }
    }

    static func member(_ algorithm: Algorithm) -> StaticString {
        switch algorithm {
        case .xor0xAA: "\"algorithm\":\"xor-0xaa\""
        case .aes256GCM: "\"algorithm\":\"aes-256-gcm\""
        case .chacha20Poly1305: "\"algorithm\":\"chacha20-poly1305\""
        case .hmacSHA256: "\"algorithm\":\"hmac-sha256\""
        case .ecdsaP256: "\"algorithm\":\"ecdsa-p256\""
        case .ed25519: "\"algorithm\":\"ed25519\""
        }
    }

    private static func timestamp(_ name: StaticString, _ time: Timestamp?, to json: inout JSONWriter) {
        json.key(name)
        if let time { json.timestamp(wallNanoseconds: time.wallNanoseconds) } else { json.null() }
    }

    private static func duration(
        _ name: StaticString, from start: Timestamp, to end: Timestamp?, to json: inout JSONWriter
    ) {
        json.key(name)
        if let end { json.milliseconds(nanoseconds: start.nanoseconds(until: end)) } else { json.null() }
    }
}
