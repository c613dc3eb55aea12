import Engine
import Foundation
import Store

/// `/keys`, `/keys/{name}` and `/keys/{name}/rotate`: keys as a key-management service shows
/// them (names, types, versions, never material). Changes go to the store first (when there is
/// one) and are answered once committed; with tokens, only an admin may change keys.
struct KeyAPI: Sendable {
    let keys: KeyRing
    let store: DurableStore?


    func list() -> HTTPResponse {
        var json = JSONWriter()
        json.beginObject()
        json.key("keys")
        json.beginArray()
        for key in keys.all { write(key, withVersions: false, to: &json) }
        json.endArray()
        json.key("ephemeral")
        json.bool(keys.isEphemeral)
        json.endObject()
        return .json(200, json.bytes)
    }

    func show(_ name: String) throws(APIError) -> HTTPResponse {
        guard let key = keys.key(name) else { throw Self.notFound(name) }
        return .json(200, body(key))
    }

    func create(_ request: HTTPRequest) throws(APIError) -> RouteOutcome {
        try Self.requireAdmin(request.principal)
        let object = try JSONBody.object(of: request)
        try JSONBody.check(object, allows: ["name", "type"])
        guard let name = object["name"] as? String else {
            throw APIError(.invalidField, "name is required: a string such as \"orders\".")
        }
        // It appears in ciphertexts (`offload:<name>:v1:...`): no colon, nothing to escape.
        guard name.wholeMatch(of: /[a-z0-9][a-z0-9_-]{0,63}/) != nil else {
            throw APIError(.invalidKeyName, "A key name is 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit.")
        }
        let typeName = object["type"] == nil ? Algorithm.aes256GCM.rawValue : object["type"] as? String
        guard let typeName, let type = Algorithm(rawValue: typeName), KeyRing.creatableTypes.contains(type) else {
            throw APIError(
                .unsupportedKeyType,
                "type must be one of \(KeyRing.creatableTypes.map(\.rawValue).joined(separator: ", ")); "
                    + "xor-0xaa takes no key.")
        }
        return change(.create(name: name, type: type, importing: nil))
    }

    func rotate(_ name: String, _ request: HTTPRequest) throws(APIError) -> RouteOutcome {
        try Self.requireAdmin(request.principal)
        return change(.rotate(name: name))
    }

    func update(_ name: String, _ request: HTTPRequest) throws(APIError) -> RouteOutcome {
        try Self.requireAdmin(request.principal)
        let object = try JSONBody.object(of: request)
        try JSONBody.check(object, allows: ["min_decryption_version", "deletion_allowed"])
        var minimum: Int?
        if let value = object["min_decryption_version"] {
            guard let number = JSONBody.int(value), number >= 1 else {
                throw APIError(.invalidField, "min_decryption_version must be a whole number from 1.")
            }
            minimum = number
        }
        var deletion: Bool?
        if let value = object["deletion_allowed"] {
            guard let flag = JSONBody.bool(value) else {
                throw APIError(.invalidField, "deletion_allowed must be true or false.")
            }
            deletion = flag
        }
        guard minimum != nil || deletion != nil else {
            throw APIError(.invalidField, "Give min_decryption_version, deletion_allowed or both.")
        }
        return change(.update(name: name, minDecryptionVersion: minimum, deletionAllowed: deletion))
    }

    func delete(_ name: String, _ request: HTTPRequest) throws(APIError) -> RouteOutcome {
        try Self.requireAdmin(request.principal)
        return change(.delete(name: name))
    }

    // MARK: - Changes

    /// Makes the change in the store (answered once committed) or, without one, in the ring.
    private func change(_ change: KeyRingChange) -> RouteOutcome {
        let keys = keys
        guard let store else {
            do {
                return .respond(Self.answer(
                    .success(try keys.changeInMemory(change, now: Timestamp.now().wallNanoseconds)), to: change, keys: keys))
            } catch {
                return .respond(APIError(.engineError, "The key could not be made: \(error)").response)
            }
        }
        return .later { respond in
            let then: @Sendable (Result<KeyChange, StoreError>) -> Void = { result in
                respond(Self.answer(result.map { keys.outcome(of: $0, named: change.name) }, to: change, keys: keys))
            }
            switch change {
            case .create(let name, let type, let importing):
                store.createKey(name: name, type: type.rawValue, seal: keys.sealer(name: name, bytes: importing), then: then)
            case .rotate(let name):
                store.rotateKey(name: name, seal: keys.sealer(name: name), then: then)
            case .update(let name, let minimum, let deletion):
                store.updateKey(name: name, minDecryptionVersion: minimum, deletionAllowed: deletion, then: then)
            case .delete(let name):
                store.deleteKey(name: name, then: then)
            }
        }
    }

    private static func answer(_ result: Result<KeyRingOutcome, StoreError>, to change: KeyRingChange, keys: KeyRing) -> HTTPResponse {
        switch result {
        case .failure(let error):
            return Router.storeUnavailable(error).response
        case .success(.changed):
            guard let key = keys.key(change.name) else { return notFound(change.name).response }
            let body = KeyAPI(keys: keys, store: nil).body(key)
            if case .create = change {
                return .json(201, body, headers: [("Location", "/keys/\(key.name)")])
            }
            return .json(200, body)
        case .success(.deleted):
            return HTTPResponse(status: 204, headers: [], body: [])
        case .success(.notFound):
            return notFound(change.name).response
        case .success(.nameTaken):
            return APIError(.keyExists, "A key named \(change.name) exists; rotate it to add a version.").response
        case .success(.refused(let reason)):
            if case .delete = change { return APIError(.keyDeletionNotAllowed, reason).response }
            return APIError(.invalidField, reason).response
        }
    }

    private static func requireAdmin(_ principal: Principal?) throws(APIError) {
        guard principal?.isAdmin != false else {
            throw APIError(.forbidden, "Only an admin principal may create or change keys.")
        }
    }

    private static func notFound(_ name: String) -> APIError {
        APIError(.keyNotFound, "No key named '\(name)'; GET /keys lists the key names.")
    }

    // MARK: - JSON

    func body(_ key: KeyRing.Key) -> [UInt8] {
        var json = JSONWriter()
        write(key, withVersions: true, to: &json)
        return json.bytes
    }

    private func write(_ key: KeyRing.Key, withVersions: Bool, to json: inout JSONWriter) {
        json.beginObject()
        json.field("name", key.name)
        json.field("type", key.type.rawValue)
        json.field("latest_version", key.latestVersion)
        json.field("min_decryption_version", key.minDecryptionVersion)
        json.key("deletion_allowed")
        json.bool(key.deletionAllowed)
        json.key("created_at")
        json.timestamp(wallNanoseconds: key.createdAt)
        json.key("default")
        json.bool(key.name == keys.defaultName)
        if withVersions {
            json.key("versions")
            json.beginObject()
            for version in key.versions.keys.sorted() {
                json.key(data: String(version))
                json.beginObject()
                json.key("created_at")
                json.timestamp(wallNanoseconds: key.versions[version]!.createdAt)
                if let pem = key.versions[version]!.publicKeyPEM { json.field("public_key_pem", pem) }
                json.endObject()
            }
            json.endObject()
        }
        json.endObject()
    }
}
