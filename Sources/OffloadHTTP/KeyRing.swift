import Engine
import Foundation
import Store
import Synchronization

/// The service's keys: named, typed and versioned, as a key-management service keeps them.
/// The material of every version is here, unsealed, for the jobs; with a durable store the
/// store holds it sealed under the master key, every change goes there first, and the ring is
/// refreshed from it once a second (so a rotation on one replica is used by all within about a
/// second). Without one (`memory:`), the ring is the only copy.
public final class KeyRing: Sendable {
    /// One key and its versions.
    public struct Key: Sendable {
        public struct Version: Sendable {
            let material: CipherKey
            let createdAt: Int64
            /// A signing key's public key (SubjectPublicKeyInfo PEM), for verifiers elsewhere.
            var publicKeyPEM: String?

            init(material: CipherKey, createdAt: Int64) {
                self.material = material
                self.createdAt = createdAt
                publicKeyPEM = material.publicKeyPEM()
            }
        }

        public let name: String
        /// The AEAD algorithm of its ciphertexts, or the MAC it computes.
        public let type: Algorithm
        let versions: [Int: Version]
        public let latestVersion: Int
        public let minDecryptionVersion: Int
        public let deletionAllowed: Bool
        let createdAt: Int64

        var latest: CipherKey { versions[latestVersion]!.material }
    }

    /// The key types a client may create.
    static let creatableTypes: [Algorithm] = Algorithm.allCases.filter { $0 != .xor0xAA }

    private let keys = Mutex<[String: Key]>([:])
    private let defaultKey: Mutex<String?>
    /// True when nothing keeps the keys beyond this process (no durable store).
    public let isEphemeral: Bool
    private let wrap: KeyWrap

    init(wrap: KeyWrap, defaultName: String?, isEphemeral: Bool) {
        self.wrap = wrap
        self.isEphemeral = isEphemeral
        defaultKey = Mutex(defaultName)
    }

    /// The key a request that names none uses.
    var defaultName: String? {
        defaultKey.withLock { $0 }
    }

    func setDefaultName(_ name: String) {
        defaultKey.withLock { $0 = name }
    }

    func key(_ name: String) -> Key? {
        keys.withLock { $0[name] }
    }

    var all: [Key] {
        keys.withLock { Array($0.values) }.sorted { $0.name < $1.name }
    }

    // MARK: - From the store

    /// Replaces the ring with the store's keys, opening each version's material (versions
    /// already open are kept as they are). A version that does not open is left out and reported.
    func replace(with stored: [StoredKey]) -> [String] {
        let current = keys.withLock { $0 }
        var problems: [String] = []
        var next: [String: Key] = [:]
        for key in stored {
            if let opened = open(key, known: current[key.name], problems: &problems) { next[key.name] = opened }
        }
        keys.withLock { $0 = next }
        return problems
    }

    /// Puts one key as the store now holds it (after a change made here: seen at once).
    func apply(_ stored: StoredKey) {
        var problems: [String] = []
        let known = key(stored.name)
        guard let opened = open(stored, known: known, problems: &problems) else { return }
        keys.withLock { $0[stored.name] = opened }
    }

    func remove(_ name: String) {
        _ = keys.withLock { $0.removeValue(forKey: name) }
    }

    private func open(_ key: StoredKey, known: Key?, problems: inout [String]) -> Key? {
        guard let type = Algorithm(rawValue: key.type), Self.creatableTypes.contains(type) else {
            problems.append("key \(key.name) has type \(key.type), which this build does not know")
            return nil
        }
        var versions: [Int: Key.Version] = [:]
        for version in key.versions {
            if let opened = known?.versions[version.version] {
                versions[version.version] = opened
                continue
            }
            do {
                let material = try CipherKey.unsealed(
                    version.sealedMaterial, name: key.name, version: version.version, privateKey: type.isSignature, with: wrap)
                versions[version.version] = Key.Version(material: material, createdAt: version.createdNanoseconds)
            } catch {
                problems.append("key \(key.name) v\(version.version) does not open: \(error)")
            }
        }
        guard versions[key.latestVersion] != nil else { return nil }
        return Key(
            name: key.name, type: type, versions: versions, latestVersion: key.latestVersion,
            minDecryptionVersion: key.minDecryptionVersion, deletionAllowed: key.deletionAllowed,
            createdAt: key.createdNanoseconds)
    }

    /// The sealer of a new version's material for the store: fresh material of the key's type
    /// (as the store holds it), or `bytes`.
    func sealer(name: String, bytes: CipherKey? = nil) -> KeySealer {
        let wrap = wrap
        return { version, typeName in
            guard let type = Algorithm(rawValue: typeName) else {
                throw EngineError(code: .invalidKey, message: "Key \(name) has type \(typeName), which this build does not know.")
            }
            let material = try bytes?.with(name: name, version: version) ?? CipherKey.generated(type, name: name, version: version)
            return try material.sealed(with: wrap)
        }
    }

    // MARK: - Without a store

    /// Applies a change to the ring itself (a service without a durable store).
    func changeInMemory(_ change: KeyRingChange, now: Int64) throws -> KeyRingOutcome {
        try keys.withLock { keys throws -> KeyRingOutcome in
            switch change {
            case .create(let name, let type, let bytes):
                guard keys[name] == nil else { return .nameTaken }
                let material = try bytes?.with(name: name, version: 1) ?? CipherKey.generated(type, name: name, version: 1)
                keys[name] = Key(
                    name: name, type: type, versions: [1: Key.Version(material: material, createdAt: now)],
                    latestVersion: 1, minDecryptionVersion: 1, deletionAllowed: false, createdAt: now)
            case .rotate(let name):
                guard let key = keys[name] else { return .notFound }
                let version = key.latestVersion + 1
                var versions = key.versions
                versions[version] = Key.Version(
                    material: try CipherKey.generated(key.type, name: name, version: version), createdAt: now)
                keys[name] = Key(
                    name: name, type: key.type, versions: versions, latestVersion: version,
                    minDecryptionVersion: key.minDecryptionVersion, deletionAllowed: key.deletionAllowed,
                    createdAt: key.createdAt)
            case .update(let name, let minimum, let deletion):
                guard let key = keys[name] else { return .notFound }
                if let minimum, !(1...key.latestVersion).contains(minimum) {
                    return .refused(
                        "min_decryption_version must be from 1 to the latest version, \(key.latestVersion), not \(minimum).")
                }
                keys[name] = Key(
                    name: name, type: key.type, versions: key.versions, latestVersion: key.latestVersion,
                    minDecryptionVersion: minimum ?? key.minDecryptionVersion,
                    deletionAllowed: deletion ?? key.deletionAllowed, createdAt: key.createdAt)
            case .delete(let name):
                guard let key = keys[name] else { return .notFound }
                guard key.deletionAllowed else {
                    return .refused("Key \(name) may not be deleted: PATCH it with deletion_allowed true first.")
                }
                keys[name] = nil
                return .deleted
            }
            return .changed
        }
    }

    /// What a change in the store did, once the ring has it too.
    func outcome(of change: KeyChange, named name: String) -> KeyRingOutcome {
        switch change {
        case .done(let stored):
            apply(stored)  // seen here at once, not at the next reload
            return .changed
        case .deleted:
            remove(name)
            return .deleted
        case .notFound: return .notFound
        case .nameTaken: return .nameTaken
        case .refused(let reason): return .refused(reason)
        }
    }
}

/// What a change to a key did (the key as changed is in the ring).
enum KeyRingOutcome: Sendable {
    case changed, deleted, notFound, nameTaken
    /// Not allowed (deletion not allowed yet, or a version out of range), with the reason.
    case refused(String)
}

/// A change to a key, as the API asks for it.
enum KeyRingChange: Sendable {
    case create(name: String, type: Algorithm, importing: CipherKey?)
    case rotate(name: String)
    case update(name: String, minDecryptionVersion: Int?, deletionAllowed: Bool?)
    case delete(name: String)

    var name: String {
        switch self {
        case .create(let name, _, _), .rotate(let name), .update(let name, _, _), .delete(let name): name
        }
    }
}
