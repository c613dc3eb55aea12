import Dispatch
import Engine
import Foundation
import Logging
import OffloadHTTP

/// `offload-http`: reads its options (`ServiceOption.all` declares each once), starts the
/// server, and stops it gracefully on SIGTERM or SIGINT.
@main
enum OffloadHTTPCommand {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.contains("--help") || arguments.contains("-h") {
            print(ServiceOption.usage, terminator: "")
            return
        }
        if arguments == ["--version"] {
            print(ServiceVersion.current)
            return
        }
        if arguments == ["--options-markdown"] {
            // For the README's table (scripts/readme-options); a test checks the two agree.
            print(ServiceOption.markdownTable)
            return
        }
        var settings: ServiceSettings
        do {
            settings = try ServiceSettings(arguments: arguments, environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("offload-http: \(error)\n".utf8))
            exit(64)  // EX_USAGE
        }
        let logger = startLogging(settings)
        do {
            try settings.readFiles()
        } catch {
            logger.critical("could not start: \(error)")
            exit(1)
        }
        exit(serve(settings, logger: logger))
    }

    private static func startLogging(_ settings: ServiceSettings) -> Logger {
        let json = settings.server.logFormat == .json
        let level = settings.logLevel
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
        return Logger(label: "offload-http")
    }

    /// Runs the server until SIGTERM or SIGINT; the process's exit status.
    private static func serve(_ settings: ServiceSettings, logger: Logger) -> Int32 {
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
            server = try OffloadServer.start(settings.server, logger: logger)
        } catch {
            logger.critical("could not start: \(error)")
            return 1
        }
        stopRequested.wait()
        if settings.drainDelay > .zero {
            logger.info(
                "not ready: serving on while load balancers stop sending (a second signal stops now)",
                metadata: ["drain_delay": "\(settings.drainDelay)"])
            server.stopBeingReady()
            _ = stopRequested.wait(timeout: .now() + settings.drainDelay / .seconds(1))
        }
        logger.info("shutting down", metadata: ["timeout": "\(settings.shutdownTimeout)"])
        server.shutdown(timeout: settings.shutdownTimeout)
        signalSources.forEach { $0.cancel() }
        return 0
    }

    /// Each connection and each job's wait fd is a file descriptor: allow as many as the hard limit.
    private static func raiseOpenFileLimit(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            logger.warning("could not raise the open file limit", metadata: ["limit": "\(limit.rlim_cur)"])
        }
    }
}
