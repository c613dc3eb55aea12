import Engine
import Foundation
import Glibc
import Logging
import Store

/// A configuration or start-up problem, said so a person can fix it.
public struct ServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

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

/// The offload service: the engine and the HTTP daemon in front of it. The executable and
/// the tests both build it with `start`.
public final class OffloadServer: Sendable {
    public let configuration: ServerConfiguration
    /// The engine behind the routes (tests look at its store).
    public let engine: Engine
    /// Where job records outlive the process, when the configuration names such a store.
    public let store: DurableStore?
    private let daemon: Daemon
    private let logger: Logger

    /// Starts the engine and listens. Throws a `ServerError` or `EngineError` a person can act on.
    public static func start(_ configuration: ServerConfiguration, logger: Logger) throws -> OffloadServer {
        guard configuration.maxBodyBytes >= 1 else { throw ServerError("The body limit must be at least 1 byte.") }
        guard configuration.maxBytesInFlight >= configuration.maxBodyBytes else {
            throw ServerError("The memory for work in flight must hold at least one largest body (--max-body).")
        }
        guard configuration.connectionLimit >= 1 else { throw ServerError("The connection limit must be at least 1.") }
        guard configuration.connectionTimeoutSeconds >= 0 else {
            throw ServerError("The connection timeout cannot be negative.")
        }
        guard configuration.perIPConnectionLimit >= 0 else {
            throw ServerError("The per-IP connection limit cannot be negative.")
        }
        guard (1024...(1 << 20)).contains(configuration.maxHeaderBytes) else {
            throw ServerError("The header limit must be from 1KiB to 1MiB.")
        }
        guard (1...JobRequestParser.batchItemCeiling).contains(configuration.maxBatchItems) else {
            throw ServerError("The batch limit must be from 1 to \(JobRequestParser.batchItemCeiling) items.")
        }
        if configuration.accessTokens != nil && configuration.tls == nil {
            logger.warning(
                "bearer tokens cross the network in clear text without TLS (RFC 6750 requires it): pass --tls-cert and --tls-key, or terminate TLS in front of the service")
        }
        guard configuration.jobRetention > .zero else { throw ServerError("The job retention must be positive.") }
        let engine = try Engine(configuration: configuration.engine)
        var store: DurableStore?
        do {
            let wrap: KeyWrap
            if let given = configuration.masterKey {
                wrap = given
            } else {
                let (implied, warning) = try MasterKey.implied(for: configuration.store)
                if let warning { logger.warning("\(warning)") }
                wrap = implied
            }
            // Ephemeral: nothing outlives the process, neither a store nor a key file.
            let keys = KeyRing(
                wrap: wrap, defaultName: configuration.keyFile?.defaultName,
                isEphemeral: !configuration.store.isDurable && configuration.keyFile == nil)
            if configuration.store.isDurable {
                store = try openStore(configuration, engine: engine, keys: keys, wrap: wrap, logger: logger)
            }
            try KeyImport.run(configuration.keyFile, into: keys, store: store)
            let daemon = try Daemon(configuration: configuration, engine: engine, store: store, keys: keys, logger: logger)
            return OffloadServer(configuration: configuration, engine: engine, store: store, daemon: daemon, logger: logger)
        } catch {
            engine.shutdown()
            store?.close()
            throw error
        }
    }

    /// Opens the durable store; a store that cannot be reached or is not ours stops the start.
    private static func openStore(
        _ configuration: ServerConfiguration, engine: Engine, keys: KeyRing, wrap: KeyWrap, logger: Logger
    ) throws -> DurableStore {
        // The longest a job can take (waiting for a slot, then running), and a margin: past
        // it, an unfinished job's replica is taken to be gone.
        let deadline = configuration.engine.queueTimeout + configuration.engine.jobTimeout + .seconds(10)
        let store: DurableStore
        do {
            store = try DurableStore(
                location: configuration.store, instance: instance(configuration),
                retainedJobs: configuration.engine.retainedFinishedJobs, retention: configuration.jobRetention,
                jobDeadline: deadline, logger: logger,
                onCommitted: { [jobs = engine.store] ids in jobs.forget(ids) },
                finishedTotals: { [jobs = engine.store] in jobs.finishedTotals },
                masterKeyCheck: try MasterKey.check(wrap),
                onKeys: { stored in
                    for problem in keys.replace(with: stored) { logger.error("key not loaded", metadata: ["reason": "\(problem)"]) }
                })
        } catch let error as StoreError {
            throw ServerError("The job store \(configuration.store) cannot be used: \(error.message)")
        }
        let problems = keys.replace(with: store.initialKeys)
        guard problems.isEmpty else {
            store.close()
            throw ServerError("The store's keys cannot be opened: \(problems.joined(separator: "; ")).")
        }
        return store
    }

    /// The name written into the jobs this process runs: the replica's name, else host and port.
    /// A process restarted under the same name fails at once the jobs its predecessor left
    /// unfinished; others are failed when their deadline passes.
    static func instance(_ configuration: ServerConfiguration) -> String {
        if let replica = configuration.replica { return replica }
        let host = ProcessInfo.processInfo.hostName
        return configuration.port == 0 ? "\(host):pid\(getpid())" : "\(host):\(configuration.port)"
    }

    private init(configuration: ServerConfiguration, engine: Engine, store: DurableStore?, daemon: Daemon, logger: Logger) {
        self.configuration = configuration
        self.engine = engine
        self.store = store
        self.daemon = daemon
        self.logger = logger
        logger.info("listening", metadata: [
            "host": "\(configuration.host)", "port": .stringConvertible(daemon.port),
            "store": "\(configuration.store)",
            "version": "\(ServiceVersion.current)",
            // Whether clients must authenticate and whether the wire is encrypted, said at start.
            "auth": "\(configuration.accessTokens == nil ? "off" : "bearer tokens")",
            "tls": "\(configuration.tls == nil ? "off" : "on")",
            "engine.threads": .stringConvertible(configuration.engine.threads),
            "provider": "\(engine.providerName)",
            "memory.in_flight_bytes": .stringConvertible(configuration.maxBytesInFlight),
            "memory.retained_outputs_bytes": .stringConvertible(configuration.engine.retainedOutputBytes),
            "device.latency": "\(configuration.engine.device.latency)",
        ])
    }

    /// The port the service listens on (the one picked when the configuration said 0).
    public var port: Int { daemon.port }

    /// Connections cut off because a request head or body missed its deadline.
    public var connectionsCutOff: Int { daemon.connectionsCutOff }

    /// Requests begun and not yet answered or abandoned.
    public var requestsInProgress: Int { daemon.activeRequests }

    /// The first step of a shutdown that load balancers can follow: every request is still
    /// served, but `/readyz` answers 503 and each answer closes its connection. `shutdown` then
    /// stops accepting; the time between is the drain delay.
    public func stopBeingReady() {
        daemon.beginLeaving()
    }

    /// Stops gracefully: no new connections, every job in flight finished and answered, then
    /// every connection closed. Jobs still running after `timeout` are failed and answered 503;
    /// a second more is given for answers to reach their clients.
    public func shutdown(timeout: Duration = .seconds(30)) {
        daemon.beginDraining()
        // Each loop ends once its jobs have ended and its connections' answers are sent (or a
        // second after the deadline): the loops run the daemons, so nothing is left to wait for.
        let aborted = engine.shutdown(timeout: timeout)
        if aborted > 0 {
            logger.error("shutdown timeout: failed the jobs still running", metadata: ["jobs": "\(aborted)"])
        }
        let unanswered = daemon.activeRequests
        daemon.stop()
        // The finished jobs' records are queued by now: written before the process ends.
        store?.close()
        logger.info("stopped", metadata: ["jobs.failed": "\(aborted)", "requests.cut_off": "\(unanswered)"])
    }
}
