import Engine
import Foundation
import Glibc
import Logging
import Store

/// How the service runs. Every field has the default the README's table gives.
public struct ServerConfiguration: Sendable {
    /// Address to listen on.
    public var host = "0.0.0.0"
    /// Port to listen on; 0 picks a free one.
    public var port = 8080
    /// Largest request body accepted; larger ones get 413.
    public var maxBodyBytes = 1 << 20
    /// Bytes of request bodies being received and jobs in flight (input and output) held at
    /// once; while they are spent a new request gets 503 before its body is read (the command
    /// sets a quarter of `--memory-limit`).
    public var maxBytesInFlight = 256 << 20
    /// Connections open at once.
    public var connectionLimit = 10_000
    /// Connections open at once from one IP address; 0 (the default) is no limit: behind a
    /// load balancer or an ingress every connection comes from one address, and a limit there
    /// would refuse most of the traffic. `connectionLimit` still bounds the whole.
    public var perIPConnectionLimit = 0
    /// Idle seconds before a connection is closed (a suspended one never times out), so that
    /// slow clients (slowloris) cannot hold connections.
    public var connectionTimeoutSeconds = 30
    /// Largest request line plus headers; larger ones are refused by libmicrohttpd (431).
    public var maxHeaderBytes = 8 * 1024
    /// Most items in one batch.
    public var maxBatchItems = 1000
    /// When set, every route but /healthz and /readyz needs `Authorization: Bearer <token>`
    /// with one of these tokens, and each principal sees only its own jobs (admins see all).
    public var accessTokens: AccessTokens?
    /// When set, the service speaks HTTPS only.
    public var tls: TLSCredentials?
    public var engine = EngineConfiguration()
    /// This replica's name, sent in the `Offload-Replica` header of every answer, so that a
    /// client of a scaled-out deployment knows which replica holds its job's record.
    public var replica: String?
    /// The format of request log lines (the executable sets swift-log's handler to match).
    public var logFormat = LogFormat.text
    /// Keys to import as version 1 of keys of their names (`--key-file`); without any key, a
    /// key named `default` is made at first start.
    public var keyFile: KeyFile?
    /// The master key that seals key material in the store (`--master-key-file`); nil: see `MasterKey`.
    public var masterKey: KeyWrap?
    /// Where job records live: in memory (the library's default), an SQLite file (the
    /// command's default) or PostgreSQL shared by replicas.
    public var store = StoreLocation.memory
    /// How long an async decryption's plaintext waits for its first fetch before it is dropped.
    public var resultTTL = Duration.seconds(300)
    /// How long a durable store keeps a finished job (besides `engine.retainedFinishedJobs`).
    public var jobRetention = Duration.seconds(24 * 3600)

    public init() {}
}

extension ServerConfiguration {
    /// Every limit a setting has, checked in this one place: by the command before it starts
    /// anything (so a bad value is a usage error), and by `OffloadServer.start` for
    /// configurations built in code. Each message names the option that sets the value.
    public func validate() throws {
        func require(_ holds: Bool, _ flag: String, _ rule: String) throws {
            guard holds else { throw ServerError("\(flag) \(rule)") }
        }
        try require((0...65535).contains(port), "--port", "must be from 0 to 65535")
        let device = engine.device
        try require((1...1024).contains(device.units), "--device-units", "must be from 1 to 1024")
        try require((1...1_000_000).contains(device.queueDepth), "--device-queue-depth", "must be from 1 to 1000000")
        try require((0...1_000_000).contains(device.ringRetryLimit), "--device-ring-retries", "must be from 0 to 1000000")
        try require((1...256).contains(engine.threads), "--engine-threads", "must be from 1 to 256")
        try require((1...1_000_000).contains(engine.maxJobsPerThread), "--max-jobs", "must be from 1 to 1000000")
        try require((0...1_000_000).contains(engine.maxQueuedJobsPerThread), "--max-queued", "must be from 0 to 1000000")
        try require(
            (0...10_000_000).contains(engine.retainedFinishedJobs), "--retained-jobs", "must be from 0 to 10000000")
        try require((1...(1 << 30)).contains(maxBodyBytes), "--max-body", "must be from 1 byte to 1GiB")
        try require(
            maxBytesInFlight >= maxBodyBytes, "--memory-limit",
            "must leave a quarter for work in flight that holds one largest body (--max-body)")
        try require((1...1_000_000).contains(connectionLimit), "--connection-limit", "must be from 1 to 1000000")
        try require(
            (0...1_000_000).contains(perIPConnectionLimit), "--per-ip-connection-limit", "must be from 0 to 1000000")
        try require(connectionTimeoutSeconds >= 0, "--connection-timeout", "cannot be negative")
        try require((1024...(1 << 20)).contains(maxHeaderBytes), "--max-header-size", "must be from 1KiB to 1MiB")
        try require(
            (1...JobRequestParser.batchItemCeiling).contains(maxBatchItems), "--max-batch",
            "must be from 1 to \(JobRequestParser.batchItemCeiling)")
        // Both count in whole seconds of the store's and the expiry's once-a-second work.
        try require(jobRetention >= .seconds(1), "--job-retention", "must be at least 1s")
        try require(resultTTL >= .seconds(1), "--result-ttl", "must be at least 1s")
    }
}
