import Engine
import Foundation
import Glibc
import Logging
import Store

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
        try configuration.validate()
        if configuration.accessTokens != nil && configuration.tls == nil {
            logger.warning(
                "bearer tokens cross the network in clear text without TLS (RFC 6750 requires it): pass --tls-cert and --tls-key, or terminate TLS in front of the service")
        }
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
