import Foundation

/// Finds a key named twice in one JSON object. Foundation's parser keeps the last of them
/// silently, while another reader (a proxy, an audit log, a client's own check) may keep the
/// first: the same body would then mean two things (RFC 8259, section 4: names SHOULD be
/// unique). Runs on text the parser has already accepted, so it only tracks structure.
enum JSONDuplicateKeys {
    private enum Frame {
        case object(keys: Set<String>, expectingKey: Bool)
        case array
    }

    /// The first key named twice in an object of `json`, unescaped; nil when there is none.
    static func first(in json: [UInt8]) -> String? {
        var frames: [Frame] = []
        var index = 0
        while index < json.count {
            switch json[index] {
            case UInt8(ascii: "{"): frames.append(.object(keys: [], expectingKey: true))
            case UInt8(ascii: "["): frames.append(.array)
            case UInt8(ascii: "}"), UInt8(ascii: "]"): _ = frames.popLast()
            case UInt8(ascii: ","):
                if case .object(let keys, _) = frames.last { frames[frames.count - 1] = .object(keys: keys, expectingKey: true) }
            case UInt8(ascii: "\""):
                let start = index
                var escaped = false
                index += 1
                while index < json.count && (json[index] != UInt8(ascii: "\"") || escaped) {
                    escaped = !escaped && json[index] == UInt8(ascii: "\\")
                    index += 1
                }
                if case .object(var keys, expectingKey: true) = frames.last {
                    let key = unescaped(json[start...min(index, json.count - 1)])
                    guard keys.insert(key).inserted else { return key }
                    frames[frames.count - 1] = .object(keys: keys, expectingKey: false)
                }
            default: break
            }
            index += 1
        }
        return nil
    }

    /// A string token's value: its bytes between the quotes, or the parser's reading when it
    /// has escapes (so that "a" and "\u0061" are the same key).
    private static func unescaped(_ token: ArraySlice<UInt8>) -> String {
        let inner = token.dropFirst().dropLast()
        guard inner.contains(UInt8(ascii: "\\")) else { return String(decoding: inner, as: UTF8.self) }
        let value = try? JSONSerialization.jsonObject(with: Data(token), options: [.fragmentsAllowed])
        return value as? String ?? String(decoding: inner, as: UTF8.self)
    }
}
