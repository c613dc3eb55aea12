/// A named, typed, versioned key as the store keeps it: its versions' material sealed under the
/// master key (the store never sees key bytes, and cannot open them).
public struct StoredKey: Sendable, Equatable {
    public struct Version: Sendable, Equatable {
        public let version: Int
        public let sealedMaterial: [UInt8]
        public let createdNanoseconds: Int64

        public init(version: Int, sealedMaterial: [UInt8], createdNanoseconds: Int64) {
            self.version = version
            self.sealedMaterial = sealedMaterial
            self.createdNanoseconds = createdNanoseconds
        }
    }

    public let name: String
    public let type: String
    public let latestVersion: Int
    public let minDecryptionVersion: Int
    public let deletionAllowed: Bool
    public let createdNanoseconds: Int64
    /// Oldest first.
    public let versions: [Version]

    public init(
        name: String, type: String, latestVersion: Int, minDecryptionVersion: Int, deletionAllowed: Bool,
        createdNanoseconds: Int64, versions: [Version]
    ) {
        self.name = name
        self.type = type
        self.latestVersion = latestVersion
        self.minDecryptionVersion = minDecryptionVersion
        self.deletionAllowed = deletionAllowed
        self.createdNanoseconds = createdNanoseconds
        self.versions = versions
    }
}

/// Seals a new version's material, given its number (the seal binds the material to it) and
/// the key's type as the store holds it (which decides what material to make).
public typealias KeySealer = @Sendable (_ version: Int, _ type: String) throws -> [UInt8]
