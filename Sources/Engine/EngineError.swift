internal import CLinux
import Glibc

/// The errors of this module: a stable `code` for clients and a sentence for people.
public struct EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Every code the engine reports. A job's failure carries one of them; the HTTP layer maps
    /// each to a status in one exhaustive switch.
    public enum Code: String, Sendable, CaseIterable {
        case asyncUnsupported = "async_unsupported"
        case authenticationFailed = "authentication_failed"
        case deviceBusy = "device_busy"
        case deviceError = "device_error"
        case engineError = "engine_error"
        case instanceLost = "instance_lost"
        case invalidCiphertext = "invalid_ciphertext"
        case invalidConfiguration = "invalid_configuration"
        case invalidKey = "invalid_key"
        case jobTimeout = "job_timeout"
        case missingKey = "missing_key"
        case overloaded = "overloaded"
        case providerError = "provider_error"
        case shuttingDown = "shutting_down"
        case systemError = "system_error"
        case unsupportedAlgorithm = "unsupported_algorithm"
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    static func invalidConfiguration(_ message: String) -> EngineError {
        EngineError(code: .invalidConfiguration, message: message)
    }

    /// The provider lacks the algorithm: `xor-0xaa` exists only in offloadsim.
    public static func unsupportedAlgorithm(_ algorithm: Algorithm, provider: String) -> EngineError {
        let only = algorithm == .xor0xAA ? " It exists only in the offloadsim provider." : ""
        return EngineError(
            code: .unsupportedAlgorithm,
            message: "\(algorithm.rawValue) is not implemented by the provider '\(provider)' this service runs on.\(only)")
    }

    static func system(_ call: String, errno code: Int32 = errno) -> EngineError {
        EngineError(code: .systemError, message: "\(call) failed: \(String(cString: strerror(code)))")
    }
}
