import Engine
import Foundation

/// The keys of a `--key-file`: named 256-bit keys, imported at start as version 1 of AES-256-GCM
/// keys of those names, with the one used when a request names none.
public struct KeyFile: Sendable {
    public let keys: [String: CipherKey]
    public let defaultName: String

    public subscript(name: String) -> CipherKey? { keys[name] }

    /// Reads a JSON object of key name to base64 256-bit key. The file must not be readable by
    /// others, nor by its group unless root owns it (PostgreSQL's rule for key files, which lets
    /// a Kubernetes secret mounted with an fsGroup pass). `defaultName` may be left out when the
    /// file holds one key.
    public static func load(file path: String, defaultName: String?) throws -> KeyFile {
        let data = try SecretFile.read(path, what: "key file")
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ServerError("The key file \(path) must be a JSON object of key name to base64 256-bit key.")
        }
        guard !object.isEmpty else { throw ServerError("The key file \(path) holds no key.") }
        if let repeated = JSONDuplicateKeys.first(in: Array(data)) {
            throw ServerError("Key '\(repeated)' is named twice in \(path); which one to use would be a guess.")
        }
        var keys: [String: CipherKey] = [:]
        for (name, value) in object {
            guard name.wholeMatch(of: /[A-Za-z0-9._-]{1,64}/) != nil else {
                throw ServerError("Key name '\(name)' in \(path) may hold only letters, digits, '.', '_' and '-' (1 to 64).")
            }
            // A ciphertext names its key: offload:<key>:v<n>:..., so a name holds no colon (above).
            guard let text = value as? String, let bytes = Data(base64Encoded: text), bytes.count == CipherKey.byteCount
            else {
                // The message names the key but never shows its value.
                throw ServerError("Key '\(name)' in \(path) is not a base64 256-bit (32-byte) key.")
            }
            keys[name] = try CipherKey(name: name, bytes: Array(bytes))
        }
        let chosen: String
        if let defaultName {
            guard keys[defaultName] != nil else {
                throw ServerError("The default key '\(defaultName)' is not in \(path).")
            }
            chosen = defaultName
        } else if keys.count == 1 {
            chosen = keys.keys.first!
        } else {
            throw ServerError("The key file \(path) holds several keys: name the default one with --default-key.")
        }
        return KeyFile(keys: keys, defaultName: chosen)
    }
}
