import Foundation
import Logging

/// What `offload-http`'s options and `OFFLOAD_*` variables set (`ServiceOption.all` declares
/// them): the server's configuration and what the command itself does with the rest.
public struct ServiceSettings: Sendable {
    public var server = ServerConfiguration()
    public var shutdownTimeout = Duration.seconds(30)
    public var drainDelay = Duration.seconds(5)
    public var logLevel = Logger.Level.info

    // Files and values that only mean something together, read once every option is known.
    var storeURL: String?
    var storePasswordFile: String?
    var memoryLimit: Int?
    var keyFile: String?
    var defaultKey: String?
    var masterKeyFile: String?
    var authTokenFile: String?
    var tlsCertificateFile: String?
    var tlsKeyFile: String?

    init() {}

    /// The settings `arguments` (`--name value` or `--name=value`) and `environment`
    /// (`OFFLOAD_*`) give; the command line wins. Every error names the flag or variable.
    /// Files are read later, by `readFiles`.
    public init(arguments: [String], environment: [String: String]) throws {
        let given = try Self.parse(arguments)
        self.init()
        for option in ServiceOption.all {
            let (text, source) = given[option.name].map { ($0, option.flag) } ?? (environment[option.variable], option.variable)
            guard let text else { continue }
            do {
                try option.apply(text, &self)
            } catch let error as ServerError {
                throw ServerError("\(source): \(error.description)")
            }
        }
        let limit = memoryLimit ?? MemoryLimit.detect().bytes
        server.maxBytesInFlight = max(MemoryLimit.share(of: limit), server.maxBodyBytes)
        server.engine.retainedOutputBytes = MemoryLimit.share(of: limit)
        try server.validate()
    }

    /// The options on a command line, by name; the last of an option given twice.
    private static func parse(_ arguments: [String]) throws -> [String: String] {
        let known = Set(ServiceOption.all.map(\.name))
        var given: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.hasPrefix("--") else {
                throw ServerError("'\(argument)' is not an option; offload-http --help lists them.")
            }
            var name = String(argument.dropFirst(2))
            let value: String
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            } else {
                guard index + 1 < arguments.count else { throw ServerError("\(argument) needs a value.") }
                index += 1
                value = arguments[index]
            }
            guard known.contains(name) else {
                throw ServerError("--\(name) is not an option; offload-http --help lists them.")
            }
            // Given twice, the last one counts (as with most commands: a wrapper's default can
            // be overridden by appending).
            given[name] = value
            index += 1
        }
        return given
    }

    /// Reads what depends on several options: the store and its password, and the secrets (keys, the master key, tokens, TLS), each from a file only its owner reads.
    public mutating func readFiles() throws {
        server.store = try storeURL.map { try ServerConfiguration.store($0, passwordFile: storePasswordFile) }
            ?? ServerConfiguration.defaultStore
        if storeURL == nil && storePasswordFile != nil {
            throw ServerError("--store-password-file goes with a postgres:// store only.")
        }
        if let keyFile {
            server.keyFile = try KeyFile.load(file: keyFile, defaultName: defaultKey)
        }
        if let masterKeyFile {
            server.masterKey = try ServerConfiguration.masterKey(file: masterKeyFile)
        }
        if let authTokenFile {
            server.accessTokens = try AccessTokens.load(file: authTokenFile)
        }
        switch (tlsCertificateFile, tlsKeyFile) {
        case (let certificate?, let key?):
            server.tls = try TLSCredentials.load(certificate: certificate, key: key)
        case (nil, nil):
            break
        default:
            throw ServerError("--tls-cert and --tls-key go together.")
        }
    }
}
