internal import COpenSSL
internal import OffloadSim

/// The OpenSSL provider every job's cipher comes from, in a library context of the engine's
/// own (so that several engines in one process, as in the tests, each drive their own device).
///
/// `offloadsim` is built in (OSSL_PROVIDER_add_builtin) and drives the engine's simulated
/// accelerator; `default` is OpenSSL's software implementation; any other name is loaded from
/// OPENSSL_MODULES (Intel's `qatprovider` on a machine with QAT). `default` is always loaded
/// too: loading any provider stops OpenSSL from loading it by itself.
final class CryptoProvider: @unchecked Sendable {
    // @unchecked: the library context and providers are set up in init, then only read
    // (OpenSSL's fetches are thread-safe), and released in deinit.
    static let simulationName = "offloadsim"

    let name: String
    let libraryContext: OpaquePointer
    /// The device the built-in provider drives: kept until the provider is unloaded.
    private let device: SimulatedAccelerator?
    private var loaded: [OpaquePointer] = []
    /// The algorithms this provider implements, checked at start.
    let algorithms: Set<Algorithm>
    /// The same, as the mask each job is checked against.
    let algorithmMask: Algorithm.Mask

    init(name: String, device: SimulatedAccelerator?) throws {
        guard let context = OSSL_LIB_CTX_new() else {
            throw EngineError(code: .engineError, message: "OSSL_LIB_CTX_new failed: \(openSSLErrors())")
        }
        self.name = name
        self.device = device
        libraryContext = context
        do {
            guard OSSL_PROVIDER_add_builtin(context, Self.simulationName, offloadsim_builtin_init) == 1 else {
                throw EngineError(code: .engineError, message: "Registering offloadsim failed: \(openSSLErrors())")
            }
            let provider = try Self.load(name, into: context)
            loaded.append(provider)
            if name == Self.simulationName, let device {
                offloadsim_provider_attach_device(OSSL_PROVIDER_get0_provider_ctx(provider), device.handle)
            }
            if name != "default" { loaded.append(try Self.load("default", into: context)) }
            var algorithms = Set<Algorithm>()
            // MACs come from the default provider (an accelerator's provider offers ciphers).
            if let mac = EVP_MAC_fetch(context, "HMAC", "provider=default") {
                algorithms.insert(.hmacSHA256)
                EVP_MAC_free(mac)
            }
            // Signatures run in OpenSSL's default library context, where their keys are decoded.
            for algorithm in Algorithm.allCases where algorithm.isSignature {
                if let signature = EVP_SIGNATURE_fetch(nil, algorithm.openSSLName, nil) {
                    algorithms.insert(algorithm)
                    EVP_SIGNATURE_free(signature)
                }
            }
            for algorithm in Algorithm.allCases where algorithm.isCipher {
                if let cipher = EVP_CIPHER_fetch(context, algorithm.openSSLName, "provider=\(name)") {
                    algorithms.insert(algorithm)
                    EVP_CIPHER_free(cipher)
                }
            }
            ERR_clear_error()
            guard algorithms.contains(where: \.isCipher) else {
                throw EngineError(
                    code: .invalidConfiguration,
                    message: "The provider '\(name)' implements none of \(Algorithm.allCases.filter(\.isCipher).map(\.openSSLName)).")
            }
            self.algorithms = algorithms
            algorithmMask = Algorithm.Mask(algorithms)
        } catch {
            for provider in loaded.reversed() { OSSL_PROVIDER_unload(provider) }
            OSSL_LIB_CTX_free(context)
            throw error
        }
    }

    deinit {
        for provider in loaded.reversed() { OSSL_PROVIDER_unload(provider) }
        OSSL_LIB_CTX_free(libraryContext)
    }

    static var libraryVersion: String { String(cString: OpenSSL_version(OPENSSL_VERSION)) }

    /// Whether the engine can ask the provider to fail a pending operation (offloadsim only;
    /// OpenSSL has no cancel).
    var canFailPendingOperations: Bool { name == Self.simulationName }

    /// The provider's ciphers, fetched for one engine thread (each thread holds its own
    /// references, so that starting a job touches no reference count another thread uses).
    func fetchCiphers() -> CipherSet {
        var ciphers: [Algorithm: OpaquePointer] = [:]
        for algorithm in algorithms where algorithm.isCipher {
            ciphers[algorithm] = EVP_CIPHER_fetch(libraryContext, algorithm.openSSLName, "provider=\(name)")
        }
        let mac = algorithms.contains(.hmacSHA256) ? EVP_MAC_fetch(libraryContext, "HMAC", "provider=default") : nil
        ERR_clear_error()
        return CipherSet(ciphers: ciphers, mac: mac)
    }

    /// Whether an OpenSSL error came from the built-in simulation, and with which reason.
    func simulationReason(of error: UInt) -> Int32? {
        guard name == Self.simulationName, error != 0,
              let library = ERR_lib_error_string(error), String(cString: library).hasPrefix(Self.simulationName)
        else { return nil }
        return COpenSSL_error_reason(error)
    }

    private static func load(_ name: String, into context: OpaquePointer) throws -> OpaquePointer {
        if let provider = OSSL_PROVIDER_load(context, name) { return provider }
        let searched = getenv("OPENSSL_MODULES").map { "OPENSSL_MODULES=\(String(cString: $0))" }
            ?? "OpenSSL's modules directory \(String(cString: OPENSSL_info(OPENSSL_INFO_MODULES_DIR)))"
            + " (OPENSSL_MODULES is not set)"
        throw EngineError(
            code: .invalidConfiguration,
            message: "The OpenSSL provider '\(name)' could not be loaded; looked for \(name).so in \(searched): "
                + openSSLErrors())
    }
}

extension Algorithm {
    /// The cipher's name in OpenSSL.
    var openSSLName: String {
        switch self {
        case .xor0xAA: "XOR-0XAA"
        case .aes256GCM: "AES-256-GCM"
        case .chacha20Poly1305: "ChaCha20-Poly1305"
        case .hmacSHA256: "HMAC"
        case .ecdsaP256: "ECDSA"
        case .ed25519: "ED25519"
        }
    }
}
