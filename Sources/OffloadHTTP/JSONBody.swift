import Foundation

/// A request body that must be one JSON object: parsed once, with the errors every JSON route gives.
enum JSONBody {
    static func object(of request: HTTPRequest) throws(APIError) -> [String: Any] {
        guard request.isJSON else {
            throw APIError(.unsupportedMediaType, "Send the body as application/json.")
        }
        guard String(validating: request.body, as: UTF8.self) != nil else {
            throw APIError(.unsupportedMediaType, "The body is declared application/json but is not UTF-8 text.")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(request.body), options: [.fragmentsAllowed])
        } catch {
            throw APIError(.malformedJSON, "The body is not valid JSON.")
        }
        guard let object = parsed as? [String: Any] else {
            throw APIError(.malformedJSON, "The body must be a JSON object, such as {\"input\": \"text\"}.")
        }
        if let repeated = JSONDuplicateKeys.first(in: request.body) {
            throw APIError(.duplicateField, "The field '\(repeated)' appears twice in one object; give each field once.")
        }
        return object
    }

    /// A JSON `true` or `false` (Foundation gives booleans and numbers both as NSNumber, and
    /// either casts to Bool and Int: the boolean's class tells them apart).
    static func bool(_ value: Any) -> Bool? {
        type(of: value) == booleanType ? value as? Bool : nil
    }

    /// A JSON whole number, not a boolean.
    static func int(_ value: Any) -> Int? {
        type(of: value) == booleanType ? nil : value as? Int
    }

    private static let booleanType = type(of: NSNumber(value: true))

    /// Refuses fields the route does not take.
    static func check(_ object: [String: Any], allows fields: Set<String>) throws(APIError) {
        if let unknown = object.keys.sorted().first(where: { !fields.contains($0) }) {
            throw APIError(.unknownField, "Unknown field '\(unknown)'; the fields are \(fields.sorted().joined(separator: ", ")).")
        }
    }
}
