import ArgumentParser
import Dispatch
import Engine
import Foundation
import Logging
import OffloadHTTP

@main
struct OffloadHTTPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offload-http",
        abstract: "Crypto offload as REST: each POST /encrypt runs as an OpenSSL ASYNC job on a simulated accelerator.",
        discussion: "Every option can also be set with the environment variable named in its help; the command line wins.",
        version: ServiceVersion.current)

    @Option(help: "Address to listen on. [env: OFFLOAD_HOST] (default: 0.0.0.0)")
    var host: String?

    @Option(help: "Port to listen on; 0 picks a free port and the log says which. [env: OFFLOAD_PORT] (default: 8080)")
    var port: String?

    @Option(help: "OpenSSL provider every operation runs through: offloadsim (the simulated accelerator, built in), default (OpenSSL's software crypto), or a provider OpenSSL loads from OPENSSL_MODULES, such as qatprovider. [env: OFFLOAD_PROVIDER] (default: offloadsim)")
    var provider: String?

    @Option(help: "Time the accelerator takes per operation, such as 500us, 2ms, 2s. [env: OFFLOAD_DEVICE_LATENCY] (default: 2ms)")
    var deviceLatency: String?

    @Option(help: "Execution units of the accelerator. [env: OFFLOAD_DEVICE_UNITS] (default: 4)")
    var deviceUnits: String?

    @Option(help: "Bytes per second one unit processes, such as 2GB/s, or unlimited. [env: OFFLOAD_DEVICE_THROUGHPUT] (default: unlimited)")
    var deviceThroughput: String?

    @Option(help: "Entries in the accelerator's submission ring; a full ring makes jobs retry. [env: OFFLOAD_DEVICE_QUEUE_DEPTH] (default: 4096)")
    var deviceQueueDepth: String?

    @Option(help: "Fraction of operations the accelerator fails (HTTP 502), for tests and demos. [env: OFFLOAD_DEVICE_ERROR_RATE] (default: 0)")
    var deviceErrorRate: String?

    @Option(help: "Fraction of operations the accelerator never completes (HTTP 504 after the job timeout). [env: OFFLOAD_DEVICE_STALL_RATE] (default: 0)")
    var deviceStallRate: String?

    @Option(help: "Seed of the fault injection, to repeat a run exactly. [env: OFFLOAD_DEVICE_SEED] (default: random)")
    var deviceSeed: String?

    @Option(help: "Times a job retries, 1 ms apart, when the accelerator's ring is full; then 503. [env: OFFLOAD_DEVICE_RING_RETRIES] (default: 100)")
    var deviceRingRetries: String?

    @Option(help: "How the accelerator signals completion: fd (an eventfd per job) or callback. [env: OFFLOAD_NOTIFY] (default: fd)")
    var notify: String?

    @Option(help: "Time a job may take before it fails with 504, such as 30s. [env: OFFLOAD_JOB_TIMEOUT] (default: 30s)")
    var jobTimeout: String?

    @Option(help: "Jobs per engine thread that may wait for a free job slot; more get 503. [env: OFFLOAD_MAX_QUEUED] (default: 8192)")
    var maxQueued: String?

    @Option(help: "Time a job may wait for a free job slot before it gets 503. [env: OFFLOAD_QUEUE_TIMEOUT] (default: 1s)")
    var queueTimeout: String?

    @Option(help: "Engine threads, each with its own ASYNC job pool. [env: OFFLOAD_ENGINE_THREADS] (default: number of cores)")
    var engineThreads: String?

    @Option(help: "Jobs in flight per engine thread (the ASYNC pool's size). [env: OFFLOAD_MAX_JOBS] (default: 8192)")
    var maxJobs: String?

    @Option(help: "Largest request body, such as 1MiB or 65536. [env: OFFLOAD_MAX_BODY] (default: 1MiB)")
    var maxBody: String?

    @Option(help: "Memory the service keeps within: a quarter may hold request bodies being received (beyond it 503), a quarter the outputs of retained jobs (the oldest go first), such as 1GiB. [env: OFFLOAD_MEMORY_LIMIT] (default: the cgroup's limit, else half the machine's memory)")
    var memoryLimit: String?

    @Option(help: "Finished jobs kept for GET /jobs. [env: OFFLOAD_RETAINED_JOBS] (default: 10000)")
    var retainedJobs: String?

    @Option(help: "Where job records live: sqlite:PATH (one instance; async jobs survive a restart), postgres://user@host:port/db (shared by replicas) or memory: (lost at exit). [env: OFFLOAD_STORE] (default: sqlite:$XDG_STATE_HOME/offload-http/jobs.sqlite3, else ~/.local/state/...)")
    var store: String?

    @Option(help: "File holding the PostgreSQL password of --store; readable by its owner only. [env: OFFLOAD_STORE_PASSWORD_FILE]")
    var storePasswordFile: String?

    @Option(help: "How long the plaintext of an async /decrypt waits for its first GET /jobs/{id}, which takes it, such as 5m. [env: OFFLOAD_RESULT_TTL] (default: 5m)")
    var resultTTL: String?

    @Option(help: "How long the store keeps a finished job, such as 24h (--retained-jobs bounds their number too). [env: OFFLOAD_JOB_RETENTION] (default: 24h)")
    var jobRetention: String?

    @Option(help: "Connections open at once. [env: OFFLOAD_CONNECTION_LIMIT] (default: 10000)")
    var connectionLimit: String?

    @Option(help: "Connections open at once from one IP address; 0 is no limit. [env: OFFLOAD_PER_IP_CONNECTION_LIMIT] (default: 0)")
    var perIPConnectionLimit: String?

    @Option(help: "Largest request line and headers, such as 8KiB. [env: OFFLOAD_MAX_HEADER_SIZE] (default: 8KiB)")
    var maxHeaderSize: String?

    @Option(help: "Most items in one batch, up to 1000. [env: OFFLOAD_MAX_BATCH] (default: 1000)")
    var maxBatch: String?

    @Option(help: "File of bearer tokens: one token, or name:token[:admin] a line; every route but /healthz and /readyz then needs one, and each name sees only its own jobs (admin: all). Must be readable by its owner only. [env: OFFLOAD_AUTH_TOKEN_FILE]")
    var authTokenFile: String?

    @Option(help: "PEM certificate (chain) to serve HTTPS with; needs --tls-key. [env: OFFLOAD_TLS_CERT]")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert; readable by its owner only. [env: OFFLOAD_TLS_KEY]")
    var tlsKey: String?

    @Option(help: "Idle time before a connection is closed, such as 30s. [env: OFFLOAD_CONNECTION_TIMEOUT] (default: 30s)")
    var connectionTimeout: String?

    @Option(help: "Time to finish jobs in flight on SIGTERM or SIGINT. [env: OFFLOAD_SHUTDOWN_TIMEOUT] (default: 30s)")
    var shutdownTimeout: String?

    @Option(help: "On SIGTERM or SIGINT, time to go on serving while /readyz answers 503, so that load balancers stop sending before the service stops accepting; a second signal ends it early. [env: OFFLOAD_DRAIN_DELAY] (default: 5s)")
    var drainDelay: String?

    @Option(help: "This replica's name, sent as the Offload-Replica header of every answer (for example the pod name). [env: OFFLOAD_REPLICA]")
    var replica: String?

    @Option(help: "JSON file of key name to base64 256-bit key, imported as version 1 of AES-256-GCM keys of those names; must not be readable by group or others. Without any key, one named default is made at first start. [env: OFFLOAD_KEY_FILE]")
    var keyFile: String?

    @Option(help: "File holding the base64 of the 32-byte master key that seals key material in the store (openssl rand -base64 32); readable by its owner only. Without it: one generated beside an SQLite store (master.key), required with PostgreSQL. [env: OFFLOAD_MASTER_KEY_FILE]")
    var masterKeyFile: String?

    @Option(help: "Key used when a request names none; may be left out when the key file holds one key. [env: OFFLOAD_DEFAULT_KEY]")
    var defaultKey: String?

    @Option(help: "Log format: text (for people) or json (one object per line). [env: OFFLOAD_LOG_FORMAT] (default: text)")
    var logFormat: String?

    @Option(help: "Lowest level logged: trace, debug, info, notice, warning, error, critical. [env: OFFLOAD_LOG_LEVEL] (default: info)")
    var logLevel: String?

    func run() throws {
        let (resolved, shutdownTimeout, drainDelay, level, json) = try resolveConfiguration()
        var configuration = resolved
        configuration.logFormat = json ? .json : .text
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "offload-http")
        do {
            try loadSecrets(into: &configuration)
        } catch {
            logger.critical("could not start: \(error)")
            throw ExitCode.failure
        }
        raiseOpenFileLimit(logger: logger)

        // Signals are taken by a dispatch source, not a handler, so shutdown runs as normal code.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        // Neither reloads anything (restart to change keys or tokens); they must not kill the
        // process with requests in flight, as their default action would.
        signal(SIGHUP, SIG_IGN)
        signal(SIGUSR1, SIG_IGN)
        signal(SIGUSR2, SIG_IGN)
        let stopRequested = DispatchSemaphore(value: 0)
        let signalSources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stopRequested.signal() }
            source.resume()
            return source
        }

        let server: OffloadServer
        do {
            server = try OffloadServer.start(configuration, logger: logger)
        } catch {
            logger.critical("could not start: \(error)")
            throw ExitCode.failure
        }
        stopRequested.wait()
        if drainDelay > .zero {
            logger.info(
                "not ready: serving on while load balancers stop sending (a second signal stops now)",
                metadata: ["drain_delay": "\(drainDelay)"])
            server.stopBeingReady()
            _ = stopRequested.wait(timeout: .now() + drainDelay / .seconds(1))
        }
        logger.info("shutting down", metadata: ["timeout": "\(shutdownTimeout)"])
        server.shutdown(timeout: shutdownTimeout)
        signalSources.forEach { $0.cancel() }
    }

    private func resolveConfiguration() throws -> (
        ServerConfiguration, shutdownTimeout: Duration, drainDelay: Duration, Logger.Level, json: Bool
    ) {
        var configuration = ServerConfiguration()
        configuration.host = try setting(host, "--host", "OFFLOAD_HOST", default: configuration.host) { $0 }
        configuration.replica = try setting(replica, "--replica", "OFFLOAD_REPLICA", default: nil) { text -> String? in
            // It goes into a header: printable ASCII only.
            guard !text.isEmpty, text.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
                throw ValidationError("must be printable ASCII without spaces")
            }
            return text
        }
        configuration.port = try setting(port, "--port", "OFFLOAD_PORT", default: configuration.port) {
            try ConfigurationValue.integer($0, in: 0...65535)
        }
        configuration.engine.device.latency = try setting(
            deviceLatency, "--device-latency", "OFFLOAD_DEVICE_LATENCY",
            default: configuration.engine.device.latency, ConfigurationValue.duration)
        configuration.engine.device.units = try setting(
            deviceUnits, "--device-units", "OFFLOAD_DEVICE_UNITS", default: configuration.engine.device.units
        ) { try ConfigurationValue.integer($0, in: 1...1024) }
        configuration.engine.device.throughputBytesPerSecond = try setting(
            deviceThroughput, "--device-throughput", "OFFLOAD_DEVICE_THROUGHPUT",
            default: configuration.engine.device.throughputBytesPerSecond, ConfigurationValue.throughput)
        configuration.engine.device.queueDepth = try setting(
            deviceQueueDepth, "--device-queue-depth", "OFFLOAD_DEVICE_QUEUE_DEPTH",
            default: configuration.engine.device.queueDepth
        ) { try ConfigurationValue.integer($0, in: 1...1_000_000) }
        configuration.engine.device.errorRate = try setting(
            deviceErrorRate, "--device-error-rate", "OFFLOAD_DEVICE_ERROR_RATE",
            default: configuration.engine.device.errorRate, ConfigurationValue.fraction)
        configuration.engine.device.stallRate = try setting(
            deviceStallRate, "--device-stall-rate", "OFFLOAD_DEVICE_STALL_RATE",
            default: configuration.engine.device.stallRate, ConfigurationValue.fraction)
        configuration.engine.device.seed = try setting(
            deviceSeed, "--device-seed", "OFFLOAD_DEVICE_SEED", default: configuration.engine.device.seed
        ) { text in
            guard let seed = UInt64(text) else { throw ValidationError("must be a whole number from 0 to 2^64-1") }
            return seed
        }
        configuration.engine.device.ringRetryLimit = try setting(
            deviceRingRetries, "--device-ring-retries", "OFFLOAD_DEVICE_RING_RETRIES",
            default: configuration.engine.device.ringRetryLimit
        ) { try ConfigurationValue.integer($0, in: 0...1_000_000) }
        configuration.engine.provider = try setting(
            provider, "--provider", "OFFLOAD_PROVIDER", default: configuration.engine.provider
        ) { text in
            guard !text.isEmpty, !text.contains("/") else {
                throw ValidationError("must be a provider's module name, such as offloadsim, default or qatprovider")
            }
            return text
        }
        configuration.engine.notification = try setting(
            notify, "--notify", "OFFLOAD_NOTIFY", default: configuration.engine.notification
        ) { text in
            guard let mode = NotificationMode(rawValue: text) else { throw ValidationError("must be fd or callback") }
            return mode
        }
        configuration.engine.jobTimeout = try setting(
            jobTimeout, "--job-timeout", "OFFLOAD_JOB_TIMEOUT", default: configuration.engine.jobTimeout,
            ConfigurationValue.duration)
        configuration.engine.maxQueuedJobsPerThread = try setting(
            maxQueued, "--max-queued", "OFFLOAD_MAX_QUEUED", default: configuration.engine.maxQueuedJobsPerThread
        ) { try ConfigurationValue.integer($0, in: 0...1_000_000) }
        configuration.engine.queueTimeout = try setting(
            queueTimeout, "--queue-timeout", "OFFLOAD_QUEUE_TIMEOUT", default: configuration.engine.queueTimeout,
            ConfigurationValue.duration)
        configuration.engine.threads = try setting(
            engineThreads, "--engine-threads", "OFFLOAD_ENGINE_THREADS", default: configuration.engine.threads
        ) { try ConfigurationValue.integer($0, in: 1...256) }
        configuration.engine.maxJobsPerThread = try setting(
            maxJobs, "--max-jobs", "OFFLOAD_MAX_JOBS", default: configuration.engine.maxJobsPerThread
        ) { try ConfigurationValue.integer($0, in: 1...1_000_000) }
        configuration.maxBodyBytes = try setting(
            maxBody, "--max-body", "OFFLOAD_MAX_BODY", default: configuration.maxBodyBytes
        ) {
            let bytes = try ConfigurationValue.byteSize($0)
            guard (1...(1 << 30)).contains(bytes) else { throw ValidationError("must be from 1 byte to 1GiB") }
            return bytes
        }
        let detected = MemoryLimit.detect()
        let limit = try setting(
            memoryLimit, "--memory-limit", "OFFLOAD_MEMORY_LIMIT", default: detected.bytes
        ) { text in
            let bytes = try ConfigurationValue.byteSize(text)
            guard bytes >= 16 << 20 else { throw ValidationError("must be at least 16MiB") }
            return bytes
        }
        configuration.maxBytesInFlight = max(MemoryLimit.share(of: limit), configuration.maxBodyBytes)
        configuration.engine.retainedOutputBytes = MemoryLimit.share(of: limit)
        configuration.engine.retainedFinishedJobs = try setting(
            retainedJobs, "--retained-jobs", "OFFLOAD_RETAINED_JOBS",
            default: configuration.engine.retainedFinishedJobs
        ) { try ConfigurationValue.integer($0, in: 0...10_000_000) }
        let passwordFile = storePasswordFile ?? ProcessInfo.processInfo.environment["OFFLOAD_STORE_PASSWORD_FILE"]
        configuration.store = try setting(store, "--store", "OFFLOAD_STORE", default: nil) {
            try ServerConfiguration.store($0, passwordFile: passwordFile)
        } ?? ServerConfiguration.defaultStore
        // Both count in whole seconds of the store's and the expiry's once-a-second work.
        let atLeastASecond = { (text: String) throws -> Duration in
            let duration = try ConfigurationValue.duration(text)
            guard duration >= .seconds(1) else { throw ValidationError("must be at least 1s") }
            return duration
        }
        configuration.jobRetention = try setting(
            jobRetention, "--job-retention", "OFFLOAD_JOB_RETENTION", default: configuration.jobRetention, atLeastASecond)
        configuration.resultTTL = try setting(
            resultTTL, "--result-ttl", "OFFLOAD_RESULT_TTL", default: configuration.resultTTL, atLeastASecond)
        configuration.connectionLimit = try setting(
            connectionLimit, "--connection-limit", "OFFLOAD_CONNECTION_LIMIT", default: configuration.connectionLimit
        ) { try ConfigurationValue.integer($0, in: 1...1_000_000) }
        configuration.perIPConnectionLimit = try setting(
            perIPConnectionLimit, "--per-ip-connection-limit", "OFFLOAD_PER_IP_CONNECTION_LIMIT",
            default: configuration.perIPConnectionLimit
        ) { try ConfigurationValue.integer($0, in: 0...1_000_000) }
        configuration.maxHeaderBytes = try setting(
            maxHeaderSize, "--max-header-size", "OFFLOAD_MAX_HEADER_SIZE", default: configuration.maxHeaderBytes
        ) {
            let bytes = try ConfigurationValue.byteSize($0)
            guard (1024...(1 << 20)).contains(bytes) else { throw ValidationError("must be from 1KiB to 1MiB") }
            return bytes
        }
        configuration.maxBatchItems = try setting(
            maxBatch, "--max-batch", "OFFLOAD_MAX_BATCH", default: configuration.maxBatchItems
        ) { try ConfigurationValue.integer($0, in: 1...1000) }
        configuration.connectionTimeoutSeconds = try setting(
            connectionTimeout, "--connection-timeout", "OFFLOAD_CONNECTION_TIMEOUT",
            default: configuration.connectionTimeoutSeconds
        ) { text in
            // libmicrohttpd counts whole seconds and takes 0 as "no timeout": a shorter value
            // must not silently turn the timeout off.
            let duration = try ConfigurationValue.duration(text)
            guard duration.components.attoseconds == 0, duration == .zero || duration >= .seconds(1) else {
                throw ValidationError("must be whole seconds, such as 5s or 30s (0 turns the timeout off)")
            }
            return Int(duration.components.seconds)
        }
        let shutdown = try setting(
            shutdownTimeout, "--shutdown-timeout", "OFFLOAD_SHUTDOWN_TIMEOUT", default: .seconds(30),
            ConfigurationValue.duration)
        let drain = try setting(
            drainDelay, "--drain-delay", "OFFLOAD_DRAIN_DELAY", default: .seconds(5), ConfigurationValue.duration)
        let level = try setting(logLevel, "--log-level", "OFFLOAD_LOG_LEVEL", default: Logger.Level.info) {
            guard let level = Logger.Level(rawValue: $0.lowercased()) else {
                throw ValidationError("must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return level
        }
        let json = try setting(logFormat, "--log-format", "OFFLOAD_LOG_FORMAT", default: false) { text in
            guard text == "text" || text == "json" else { throw ValidationError("must be text or json") }
            return text == "json"
        }
        return (configuration, shutdown, drain, level, json)
    }

    /// Keys, the auth token and the TLS credentials, from files only their owner can read.
    private func loadSecrets(into configuration: inout ServerConfiguration) throws {
        let environment = ProcessInfo.processInfo.environment
        if let keyFile = keyFile ?? environment["OFFLOAD_KEY_FILE"] {
            configuration.keyFile = try KeyFile.load(file: keyFile, defaultName: defaultKey ?? environment["OFFLOAD_DEFAULT_KEY"])
        }
        if let masterKeyFile = masterKeyFile ?? environment["OFFLOAD_MASTER_KEY_FILE"] {
            configuration.masterKey = try ServerConfiguration.masterKey(file: masterKeyFile)
        }
        if let tokenFile = authTokenFile ?? environment["OFFLOAD_AUTH_TOKEN_FILE"] {
            configuration.accessTokens = try AccessTokens.load(file: tokenFile)
        }
        let certificate = tlsCert ?? environment["OFFLOAD_TLS_CERT"]
        let key = tlsKey ?? environment["OFFLOAD_TLS_KEY"]
        switch (certificate, key) {
        case (let certificate?, let key?):
            configuration.tls = try TLSCredentials.load(certificate: certificate, key: key)
        case (nil, nil):
            break
        default:
            throw ValidationError("--tls-cert and --tls-key go together")
        }
    }

    /// The option's value from the command line, else the environment, else the default.
    private func setting<T>(
        _ given: String?, _ option: String, _ variable: String, default fallback: T,
        _ parse: (String) throws -> T
    ) throws -> T {
        let (text, source): (String?, String) =
            given != nil ? (given, option) : (ProcessInfo.processInfo.environment[variable], variable)
        guard let text else { return fallback }
        do {
            return try parse(text)
        } catch {
            throw ValidationError("\(source): \(error)")
        }
    }

    /// Each connection and each job's wait fd is a file descriptor: allow as many as the hard limit.
    private func raiseOpenFileLimit(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            logger.warning("could not raise the open file limit", metadata: ["limit": "\(limit.rlim_cur)"])
        }
    }
}
