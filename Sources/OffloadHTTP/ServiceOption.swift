import Engine
import Foundation
import Logging

/// One option of `offload-http`, declared once: its flag (`--device-latency`), its environment
/// variable (`OFFLOAD_DEVICE_LATENCY`), its line in `--help`, its row in the README's table (a
/// test checks the README against `markdownTable`) and how its text sets `ServiceSettings`,
/// range checks included.
public struct ServiceOption: Sendable {
    /// The flag without its dashes.
    public let name: String
    /// The default, as the README's table says it (Markdown).
    public let defaultText: String
    /// What it does (Markdown; `--help` shows it without the backticks).
    public let meaning: String
    /// Parses and checks the option's text and sets it; errors say what a valid value is.
    let apply: @Sendable (String, inout ServiceSettings) throws -> Void

    public var flag: String { "--" + name }
    public var variable: String { "OFFLOAD_" + name.uppercased().replacingOccurrences(of: "-", with: "_") }

    init(
        _ name: String, default defaultText: String, _ meaning: String,
        apply: @escaping @Sendable (String, inout ServiceSettings) throws -> Void
    ) {
        self.name = name
        self.defaultText = defaultText
        self.meaning = meaning
        self.apply = apply
    }

    /// The README's table of options, row for row.
    public static var markdownTable: String {
        var lines = ["| option | environment | default | meaning |", "| --- | --- | --- | --- |"]
        for option in all {
            lines.append("| `\(option.flag)` | `\(option.variable)` | \(option.defaultText) | \(option.meaning) |")
        }
        return lines.joined(separator: "\n")
    }

    /// `offload-http --help`.
    public static var usage: String {
        func plain(_ markdown: String) -> String { markdown.replacingOccurrences(of: "`", with: "") }
        var text = """
            USAGE: offload-http [--OPTION VALUE ...]

            Crypto offload as REST: each POST /encrypt runs as an OpenSSL ASYNC job on a simulated
            accelerator (or any OpenSSL provider). Every option can also be set with its environment
            variable; the command line wins.

            OPTIONS:

            """
        for option in all {
            text += "  \(option.flag) (\(option.variable); default: \(plain(option.defaultText)))\n"
            text += wrapped(plain(option.meaning), width: 96, indent: "      ") + "\n"
        }
        text += "  --version\n      The version.\n  -h, --help\n      This text.\n"
        return text
    }

    private static func wrapped(_ text: String, width: Int, indent: String) -> String {
        var lines: [String] = []
        var line = indent
        for word in text.split(separator: " ") {
            if line.count + word.count + 1 > width && line != indent {
                lines.append(line)
                line = indent
            }
            line += (line == indent ? "" : " ") + word
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }
}

extension ServiceOption {
    /// Every option, in the order `--help` and the README list them.
    public static let all: [ServiceOption] = [
        ServiceOption("host", default: "`0.0.0.0`", "address to listen on (IPv4, IPv6 or `localhost`)") {
            $1.server.host = $0
        },
        ServiceOption("port", default: "`8080`", "port; `0` picks a free one and the log says which") {
            $1.server.port = try ConfigurationValue.integer($0)
        },
        ServiceOption(
            "provider", default: "`offloadsim`",
            "the OpenSSL provider every operation runs through: `offloadsim` (the simulated accelerator, built in), "
                + "`default` (OpenSSL's software crypto: no latency, `pauses: 0`, no `xor-0xaa`), or any provider "
                + "OpenSSL loads from `OPENSSL_MODULES` (`qatprovider`); one that cannot be loaded stops the service at start"
        ) { text, settings in
            guard !text.isEmpty, !text.contains("/") else {
                throw ServerError("must be a provider's module name, such as offloadsim, default or qatprovider")
            }
            settings.server.engine.provider = text
        },
        ServiceOption("device-latency", default: "`2ms`", "accelerator time per operation (`500us`, `2ms`, `2s`)") {
            $1.server.engine.device.latency = try ConfigurationValue.duration($0)
        },
        ServiceOption("device-units", default: "`4`", "accelerator execution units (reported as `device_unit`)") {
            $1.server.engine.device.units = try ConfigurationValue.integer($0)
        },
        ServiceOption("device-throughput", default: "`unlimited`", "bytes per second one unit processes (`2GB/s`)") {
            $1.server.engine.device.throughputBytesPerSecond = try ConfigurationValue.throughput($0)
        },
        ServiceOption(
            "device-queue-depth", default: "`4096`",
            "submission ring entries; a full ring makes jobs pause and retry 1 ms apart, then 503"
        ) { $1.server.engine.device.queueDepth = try ConfigurationValue.integer($0) },
        ServiceOption("device-ring-retries", default: "`100`", "retries of a submission that found the ring full") {
            $1.server.engine.device.ringRetryLimit = try ConfigurationValue.integer($0)
        },
        ServiceOption(
            "device-error-rate", default: "`0`", "fraction of operations the device fails (502), for tests and demos"
        ) { $1.server.engine.device.errorRate = try ConfigurationValue.fraction($0) },
        ServiceOption(
            "device-stall-rate", default: "`0`",
            "fraction of operations that never complete (504 after the job timeout)"
        ) { $1.server.engine.device.stallRate = try ConfigurationValue.fraction($0) },
        ServiceOption("device-seed", default: "random", "seed of the fault injection, to repeat a run") { text, settings in
            guard let seed = UInt64(text) else { throw ServerError("must be a whole number from 0 to 2^64-1") }
            settings.server.engine.device.seed = seed
        },
        ServiceOption(
            "notify", default: "`callback`",
            "`callback`: OpenSSL's wait-context callback, no fd per job (a provider without callbacks still "
                + "registers its fd, which is watched); `fd`: the provider's eventfd per wait context, watched with epoll"
        ) { text, settings in
            guard let mode = NotificationMode(rawValue: text) else { throw ServerError("must be fd or callback") }
            settings.server.engine.notification = mode
        },
        ServiceOption(
            "engine-threads", default: "cores",
            "loops, one per core: each serves HTTP (a libmicrohttpd daemon of its own on the shared port), runs its "
                + "requests' ASYNC jobs in its own pool and pumps the device, so a request never changes threads"
        ) { $1.server.engine.threads = try ConfigurationValue.integer($0) },
        ServiceOption("max-jobs", default: "`8192`", "jobs in flight per engine thread (ASYNC pool size)") {
            $1.server.engine.maxJobsPerThread = try ConfigurationValue.integer($0)
        },
        ServiceOption(
            "max-queued", default: "`8192`",
            "jobs per engine thread that may wait for a free slot; beyond that 503"
        ) { $1.server.engine.maxQueuedJobsPerThread = try ConfigurationValue.integer($0) },
        ServiceOption("queue-timeout", default: "`1s`", "longest wait for a free slot; then 503") {
            $1.server.engine.queueTimeout = try ConfigurationValue.duration($0)
        },
        ServiceOption("job-timeout", default: "`30s`", "a job not completed by then fails with 504") {
            $1.server.engine.jobTimeout = try ConfigurationValue.duration($0)
        },
        ServiceOption("max-body", default: "`1MiB`", "largest request body (`65536`, `64KiB`, `1MiB`)") { text, settings in
            settings.server.maxBodyBytes = try ConfigurationValue.byteSize(text)
        },
        ServiceOption(
            "store", default: "`sqlite:$XDG_STATE_HOME/offload-http/jobs.sqlite3` (else `~/.local/state/...`)",
            "where job records live: `sqlite:PATH`, `postgres://user@host:port/db` or `memory:` (see \"Job store\")"
        ) { $1.storeURL = $0 },
        ServiceOption(
            "store-password-file", default: "none",
            "the PostgreSQL password, from a file readable by its owner only; overrides one in the URL"
        ) { $1.storePasswordFile = $0 },
        ServiceOption(
            "job-retention", default: "`24h`", "a finished job older than this is deleted from the store"
        ) { $1.server.jobRetention = try ConfigurationValue.duration($0) },
        ServiceOption(
            "retained-jobs", default: "`10000`",
            "finished jobs kept for `GET /jobs` (in the store, and in memory for `memory:`, where each engine loop "
                + "keeps this many of its own newest); the output of a job "
                + "answered directly (not 202) whose input is over 64 KiB is not kept (its record shows `output_bytes` "
                + "and `\"output_retained\": false`)"
        ) { $1.server.engine.retainedFinishedJobs = try ConfigurationValue.integer($0) },
        ServiceOption(
            "memory-limit", default: "the cgroup's limit, else half the machine's memory",
            "a quarter may hold work in flight: request bodies being received (chunked ones as they arrive) and "
                + "unfinished jobs (input plus output); a request whose body would not fit gets 503 `memory_exhausted` "
                + "with `Retry-After` before its body is read, and `/readyz` is 503 `memory_exhausted` while a largest "
                + "body would not fit. Another quarter holds the outputs of retained jobs (the oldest finished jobs "
                + "are forgotten first; an output larger than that quarter is answered but not kept)"
        ) { text, settings in
            let bytes = try ConfigurationValue.byteSize(text)
            guard bytes >= 16 << 20 else { throw ServerError("must be at least 16MiB") }
            settings.memoryLimit = bytes
        },
        ServiceOption("connection-limit", default: "`10000`", "connections open at once") {
            $1.server.connectionLimit = try ConfigurationValue.integer($0)
        },
        ServiceOption(
            "per-ip-connection-limit", default: "`0` (none)",
            "connections at once from one address. Off by default: behind a load balancer, an ingress or a NAT "
                + "every connection comes from one address, and a limit would refuse most of the traffic (1,024 "
                + "refused half of one benchmark client's 2,000 connections); `--connection-limit` bounds the whole. "
                + "Set it when clients reach the service directly, so that one address cannot take every connection"
        ) { $1.server.perIPConnectionLimit = try ConfigurationValue.integer($0) },
        ServiceOption(
            "connection-timeout", default: "`30s`",
            "in whole seconds: an idle connection is closed after it, a request head must be complete within it (of "
                + "the connection opening or the previous answer), a body within it plus a second per 64 KiB, and an "
                + "answer taken by the client within it plus a second per 64 KiB, whatever the client trickles in "
                + "(slowloris); `0` turns it off; `500ms` is refused (whole seconds only)"
        ) { text, settings in
            // Whole seconds, as the option has always taken (libmicrohttpd's timeout, which it
            // once set, counted them), and 0 is "no timeout": a shorter value must not silently
            // turn the timeout off.
            let duration = try ConfigurationValue.duration(text)
            guard duration.components.attoseconds == 0, duration == .zero || duration >= .seconds(1) else {
                throw ServerError("must be whole seconds, such as 5s or 30s (0 turns the timeout off)")
            }
            settings.server.connectionTimeoutSeconds = Int(duration.components.seconds)
        },
        ServiceOption("max-header-size", default: "`8KiB`", "largest request line and headers (431 beyond)") { text, settings in
            settings.server.maxHeaderBytes = try ConfigurationValue.byteSize(text)
        },
        ServiceOption("max-batch", default: "`1000`", "most items in one batch") {
            $1.server.maxBatchItems = try ConfigurationValue.integer($0)
        },
        ServiceOption(
            "auth-token-file", default: "none",
            "bearer tokens every route but `/healthz` and `/readyz` then needs (401 with `WWW-Authenticate` "
                + "otherwise): one token alone, or one `name:token`, `name:token:admin` or `name:token:metrics` a line "
                + "(`#` comments); each name is a principal that sees only its own jobs, an admin sees all, a `metrics` "
                + "principal (a Prometheus scraper) reads `/metrics` only; the file must be private; without TLS (here "
                + "or in front) the log warns, since bearer tokens then cross the network in clear text"
        ) { $1.authTokenFile = $0 },
        ServiceOption(
            "tls-cert", default: "none",
            "PEM certificate (chain): with `--tls-key`, serve HTTPS only (GnuTLS through libmicrohttpd)"
        ) { $1.tlsCertificateFile = $0 },
        ServiceOption("tls-key", default: "none", "PEM private key of `--tls-cert`, readable by its owner only") {
            $1.tlsKeyFile = $0
        },
        ServiceOption("shutdown-timeout", default: "`30s`", "time to finish jobs in flight on SIGTERM") {
            $1.shutdownTimeout = try ConfigurationValue.duration($0)
        },
        ServiceOption(
            "drain-delay", default: "`5s`",
            "on SIGTERM or SIGINT, time to serve on while `/readyz` answers 503, before accepting stops (`0s`: stop "
                + "accepting at once); a second signal ends it early"
        ) { $1.drainDelay = try ConfigurationValue.duration($0) },
        ServiceOption(
            "key-file", default: "none",
            "JSON of key name to base64 256-bit key, mode 600, imported as version 1 of AES-256-GCM keys of those "
                + "names (see \"Keys\" under \"Use it\")"
        ) { $1.keyFile = $0 },
        ServiceOption(
            "master-key-file", default: "`master.key` beside an SQLite store; required with PostgreSQL",
            "base64 of the 32-byte key that seals key material in the store, mode 600"
        ) { $1.masterKeyFile = $0 },
        ServiceOption(
            "result-ttl", default: "`5m`",
            "how long an async decryption's plaintext waits for the first `GET /jobs/{id}`, which takes it"
        ) { $1.server.resultTTL = try ConfigurationValue.duration($0) },
        ServiceOption("default-key", default: "the only key", "key used when a request names none") {
            $1.defaultKey = $0
        },
        ServiceOption(
            "replica", default: "host and port",
            "name sent as `Offload-Replica` on every answer (the pod name), and written into the store's rows of the "
                + "jobs this process runs (see \"Job store\")"
        ) { text, settings in
            // It goes into a header: printable ASCII only.
            guard !text.isEmpty, text.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
                throw ServerError("must be printable ASCII without spaces")
            }
            settings.server.replica = text
        },
        ServiceOption("log-level", default: "`info`", "`trace` … `critical`") { text, settings in
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw ServerError("must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            settings.logLevel = level
        },
        ServiceOption("log-format", default: "`text`", "`text` or `json` (one object per line)") { text, settings in
            switch text {
            case "text": settings.server.logFormat = .text
            case "json": settings.server.logFormat = .json
            default: throw ServerError("must be text or json")
            }
        },
    ]
}
