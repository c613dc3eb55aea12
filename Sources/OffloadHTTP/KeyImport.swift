import Dispatch
import Engine
import Store
import Synchronization

/// At start: the key file's keys become version 1 of AES-256-GCM keys of their names (a key
/// already in the store must hold the same material: a different file is a mistake, not a
/// rotation), and a service with no key at all gets one named `default`.
enum KeyImport {
    static func run(_ file: KeyFile?, into keys: KeyRing, store: DurableStore?) throws {
        var imports = (file?.keys ?? [:]).sorted { $0.key < $1.key }.map { (name: $0.key, material: Optional($0.value)) }
        if imports.isEmpty && keys.all.isEmpty { imports = [("default", nil)] }
        for (name, material) in imports {
            if let existing = keys.key(name) {
                guard let material, let first = existing.versions[1]?.material, !first.hasSameMaterial(as: material) else {
                    continue
                }
                throw ServerError(
                    "Key '\(name)' of the key file differs from version 1 of the key of that name in the store; "
                        + "rotate keys through the API (POST /keys/\(name)/rotate), not by changing the file.")
            }
            let change = KeyRingChange.create(name: name, type: .aes256GCM, importing: material)
            if let store {
                let done = DispatchSemaphore(value: 0)
                let result = Mutex<Result<KeyChange, StoreError>?>(nil)
                store.createKey(name: name, type: Algorithm.aes256GCM.rawValue, seal: keys.sealer(name: name, bytes: material)) {
                    outcome in
                    result.withLock { $0 = outcome }
                    done.signal()
                }
                done.wait()
                switch result.withLock({ $0 })! {
                case .success(let change):
                    switch keys.outcome(of: change, named: name) {
                    case .changed, .nameTaken: break  // taken: another replica made it first
                    case let other: throw ServerError("Importing key '\(name)' failed: \(other).")
                    }
                case .failure(let error): throw ServerError("Importing key '\(name)' failed: \(error.message)")
                }
            } else {
                _ = try keys.changeInMemory(change, now: Timestamp.now().wallNanoseconds)
            }
        }
        if keys.defaultName == nil {
            let names = Set(keys.all.map(\.name)).union(imports.map(\.name))
            if names.contains("default") { keys.setDefaultName("default") } else if names.count == 1 { keys.setDefaultName(names.first!) }
        }
    }
}
