import Engine
import Foundation

/// An HTTP request as the routes see it, once its body is complete.
struct HTTPRequest {
    var method: String
    /// The path without the query string.
    var path: String
    var query: [(name: String, value: String)]
    var contentType: String?
    var body: [UInt8]

    var isJSON: Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }
}

/// Turns a `POST /encrypt` body into a job request, or says precisely what is wrong with it.
enum JobRequestParser {
    private static let inputFields = ["input", "input_hex", "input_base64"]
    private static let jsonFields: Set<String> = ["input", "input_hex", "input_base64", "algorithm", "key", "aad_base64"]
    private static let rawQueryParameters: Set<String> = ["algorithm", "key"]

    static func parse(_ request: HTTPRequest) throws(APIError) -> JobRequest {
        request.isJSON ? try parseJSON(request) : try parseRaw(request)
    }

    /// Any non-JSON body: the bytes are the input; the query may name the algorithm.
    private static func parseRaw(_ request: HTTPRequest) throws(APIError) -> JobRequest {
        var algorithmName: String?
        var keyName: String?
        for (name, value) in request.query {
            switch name {
            case "algorithm": algorithmName = value
            case "key": keyName = value
            default:
                throw .badRequest(
                    "unknown_parameter",
                    "Unknown query parameter '\(name)'; this route takes \(rawQueryParameters.sorted().joined(separator: " and ")).")
            }
        }
        let algorithm = try algorithm(named: algorithmName)
        try checkKey(keyName, for: algorithm)
        try requireInput(request.body)
        return JobRequest(algorithm: algorithm, input: request.body)
    }

    private static func parseJSON(_ request: HTTPRequest) throws(APIError) -> JobRequest {
        if let parameter = request.query.first {
            throw .badRequest(
                "unknown_parameter",
                "Unknown query parameter '\(parameter.name)'; with a JSON body, put every field in the body.")
        }
        guard (try? String(validating: request.body, as: UTF8.self)) != nil else {
            throw APIError(
                status: 415, code: "unsupported_media_type",
                message: "The body is declared application/json but is not UTF-8 text.")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(request.body), options: [.fragmentsAllowed])
        } catch {
            throw .badRequest("malformed_json", "The body is not valid JSON.")
        }
        guard let object = parsed as? [String: Any] else {
            throw .badRequest("malformed_json", "The body must be a JSON object, such as {\"input\": \"text\"}.")
        }
        if let unknown = object.keys.sorted().first(where: { !jsonFields.contains($0) }) {
            throw .badRequest(
                "unknown_field",
                "Unknown field '\(unknown)'; the fields are \(jsonFields.sorted().joined(separator: ", ")).")
        }
        let given = inputFields.filter { object[$0] != nil }
        guard given.count == 1, let field = given.first else {
            throw given.isEmpty
                ? .badRequest("missing_input", "Give the input in exactly one of input, input_hex or input_base64.")
                : .badRequest("ambiguous_input", "Give only one of \(given.joined(separator: ", ")), not several.")
        }
        let text = try stringField(field, in: object)!
        let input: [UInt8]
        switch field {
        case "input_hex": input = try decodeHex(text)
        case "input_base64": input = try decodeBase64(text)
        default: input = Array(text.utf8)
        }
        let algorithm = try algorithm(named: try stringField("algorithm", in: object))
        try checkKey(try stringField("key", in: object), for: algorithm)
        if try stringField("aad_base64", in: object) != nil {
            throw .badRequest(
                "aad_not_applicable", "Algorithm \(algorithm.rawValue) is not an AEAD cipher and takes no aad_base64.")
        }
        try requireInput(input)
        return JobRequest(algorithm: algorithm, input: input)
    }

    private static func stringField(_ name: String, in object: [String: Any]) throws(APIError) -> String? {
        guard let value = object[name] else { return nil }
        guard let string = value as? String else {
            throw .badRequest("invalid_field", "The field '\(name)' must be a string.")
        }
        return string
    }

    private static func algorithm(named name: String?) throws(APIError) -> Algorithm {
        guard let name else { return .xor0xAA }
        guard let algorithm = Algorithm(rawValue: name) else {
            throw .badRequest(
                "unknown_algorithm",
                "Unknown algorithm '\(name)'; known: \(Algorithm.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        return algorithm
    }

    private static func checkKey(_ name: String?, for algorithm: Algorithm) throws(APIError) {
        if name != nil {
            throw .badRequest("key_not_applicable", "Algorithm \(algorithm.rawValue) takes no key.")
        }
    }

    private static func requireInput(_ input: [UInt8]) throws(APIError) {
        if input.isEmpty {
            throw .badRequest("empty_input", "The input is empty; send at least one byte.")
        }
    }

    static func decodeHex(_ text: String) throws(APIError) -> [UInt8] {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else {
            throw .badRequest("invalid_hex", "input_hex has an odd number of digits.")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else {
                throw .badRequest("invalid_hex", "input_hex may hold only the digits 0-9 and a-f (or A-F).")
            }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Standard base64 (RFC 4648 section 4); the trailing padding may be left out.
    static func decodeBase64(_ text: String) throws(APIError) -> [UInt8] {
        var padded = text
        if padded.utf8.count % 4 != 0 && !padded.hasSuffix("=") {
            padded += String(repeating: "=", count: 4 - padded.utf8.count % 4)
        }
        guard let data = Data(base64Encoded: padded) else {
            throw .badRequest("invalid_base64", "input_base64 is not valid standard base64.")
        }
        return Array(data)
    }
}
