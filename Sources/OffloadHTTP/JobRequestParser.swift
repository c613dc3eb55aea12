import Engine
import Foundation

/// What a `POST /encrypt` or `POST /decrypt` body asks for.
enum ParsedJobBody {
    case single(JobRequest)
    /// Items in input order; an invalid item carries its error in place.
    case batch([Result<JobRequest, APIError>])
}

/// Turns a `POST /encrypt` or `/decrypt` body into job requests, or says precisely what is wrong.
struct JobRequestParser {
    /// The API's bound on a batch (the OpenAPI document's maxItems); `--max-batch` may set a lower one.
    static let batchItemCeiling = 1000
    private static let inputFields = ["input", "input_hex", "input_base64", "ciphertext"]
    private static let itemFields: Set<String> = [
        "input", "input_hex", "input_base64", "ciphertext", "algorithm", "key", "key_version", "aad_base64", "hmac", "signature",
    ]

    let operation: JobOperation
    let keys: KeyRing
    let maxBatchItems: Int
    /// What the engine's provider implements; asking for anything else is a 400.
    var supported: (algorithms: Algorithm.Mask, provider: String) = Self.everyAlgorithm
    /// Made once: a default written in place would build the mask for every request.
    private static let everyAlgorithm = (algorithms: Algorithm.Mask(Algorithm.allCases), provider: "offloadsim")

    func parse(_ request: HTTPRequest) throws(APIError) -> ParsedJobBody {
        if operation == .rewrap && !request.isJSON {
            throw APIError(.unsupportedMediaType, "Send {\"ciphertext\": \"offload:...\"} as application/json.")
        }
        if (operation == .hmac || operation == .sign || operation == .verify) && !request.isJSON {
            throw APIError(.unsupportedMediaType, "Send {\"key\": ..., \"input\": ...} as application/json.")
        }
        return request.isJSON ? try parseJSON(request) : .single(try parseRaw(request))
    }

    /// Any non-JSON body: the bytes are the input; the query may name the algorithm and key.
    private func parseRaw(_ request: HTTPRequest) throws(APIError) -> JobRequest {
        var algorithmName: String?
        var keyName: String?
        for (name, value) in request.query {
            switch name {
            case "algorithm": algorithmName = value
            case "key": keyName = value
            default:
                throw APIError(.unknownParameter, "Unknown query parameter '\(name)'; this route takes algorithm and key.")
            }
        }
        return try makeRequest(input: request.body, algorithmName: algorithmName, keyName: keyName, version: nil, aad: nil)
    }

    private func parseJSON(_ request: HTTPRequest) throws(APIError) -> ParsedJobBody {
        if let parameter = request.query.first {
            throw APIError(.unknownParameter,
                "Unknown query parameter '\(parameter.name)'; with a JSON body, put every field in the body.")
        }
        let object = try JSONBody.object(of: request)
        guard let batch = object["batch"] else {
            return .single(try parseItem(object))
        }
        guard object.count == 1 else {
            throw APIError(.invalidBatch, "A batch body has only the field 'batch'; put the other fields in its items.")
        }
        guard let items = batch as? [Any] else {
            throw APIError(.invalidBatch, "'batch' must be an array of input objects.")
        }
        guard !items.isEmpty else { throw APIError(.invalidBatch, "The batch is empty; send at least one item.") }
        guard items.count <= maxBatchItems else {
            throw APIError(.batchTooLarge, "A batch holds at most \(maxBatchItems) items, not \(items.count).")
        }
        return .batch(items.map { item in
            guard let itemObject = item as? [String: Any] else {
                return .failure(APIError(.invalidBatchItem, "Each batch item must be a JSON object."))
            }
            do throws(APIError) {
                return .success(try parseItem(itemObject))
            } catch {
                return .failure(error)
            }
        })
    }

    private func parseItem(_ object: [String: Any]) throws(APIError) -> JobRequest {
        try JSONBody.check(object, allows: Self.itemFields)
        let given = Self.inputFields.filter { object[$0] != nil }
        guard given.count == 1, let field = given.first else {
            throw given.isEmpty
                ? APIError(.missingInput, "Give the input in exactly one of input, input_hex or input_base64 (or ciphertext to /decrypt).")
                : APIError(.ambiguousInput, "Give only one of \(given.joined(separator: ", ")), not several.")
        }
        let text = try stringField(field, in: object)!
        let aad = try stringField("aad_base64", in: object).map { text throws(APIError) in
            try Self.decodeBase64(text, field: "aad_base64")
        }
        guard operation != .rewrap || field == "ciphertext" else {
            throw APIError(.missingInput, "/rewrap takes a ciphertext, offload:<key>:v<version>:<base64>, as /encrypt answers it.")
        }
        if field == "ciphertext" {
            guard operation.opensSealed else {
                throw APIError(.unknownField, "ciphertext is the input of /decrypt; /encrypt takes input, input_hex or input_base64.")
            }
            for field in ["algorithm", "key", "key_version"] where object[field] != nil {
                throw APIError(.ambiguousInput, "A ciphertext names its key and version; leave out \(field).")
            }
            return try decryptRequest(ciphertext: text, aad: aad)
        }
        let input: [UInt8]
        switch field {
        case "input_hex": input = try Self.decodeHex(text, field: field)
        case "input_base64": input = try Self.decodeBase64(text, field: field)
        default: input = Array(text.utf8)
        }
        if operation == .hmac || operation == .sign || operation == .verify {
            return try authenticationRequest(input: input, object: object)
        }
        for field in ["hmac", "signature"] where object[field] != nil {
            throw APIError(.unknownField, "\(field) is a field of /verify only.")
        }
        var version: Int?
        if let value = object["key_version"] {
            guard let number = JSONBody.int(value), number >= 1 else {
                throw APIError(.invalidField, "key_version must be a whole number from 1.")
            }
            version = number
        }
        return try makeRequest(
            input: input, algorithmName: try stringField("algorithm", in: object),
            keyName: try stringField("key", in: object), version: version, aad: aad)
    }

    /// `/hmac` and `/sign` `{"key", input}`, `/verify` `{"key", input, "hmac" or "signature"}`:
    /// a MAC or signature under the key's latest version, or the one given checked (a
    /// malformed one, or another key's, is simply not valid).
    private func authenticationRequest(input: [UInt8], object: [String: Any]) throws(APIError) -> JobRequest {
        for field in ["algorithm", "aad_base64", "key_version"] where object[field] != nil {
            throw APIError(.unknownField, "\(field) is not a field of /\(operation.rawValue); the key says how.")
        }
        if operation != .verify, let field = ["hmac", "signature"].first(where: { object[$0] != nil }) {
            throw APIError(.unknownField, "\(field) is a field of /verify only.")
        }
        guard let name = try stringField("key", in: object) else {
            throw APIError(.invalidField, "key is required: the name of an hmac-sha256, ecdsa-p256 or ed25519 key.")
        }
        let key = try key(named: name)
        let field: String
        switch operation {
        case .hmac:
            guard key.type.isMAC else {
                throw APIError(.wrongKeyType, "Key \(name) is a \(key.type.rawValue) key; /hmac needs an hmac-sha256 key.")
            }
            field = "hmac"
        case .sign:
            guard key.type.isSignature else {
                throw APIError(.wrongKeyType, "Key \(name) is a \(key.type.rawValue) key; /sign needs an ecdsa-p256 or ed25519 key.")
            }
            field = "signature"
        default:
            guard key.type.isMAC || key.type.isSignature else {
                throw APIError(.wrongKeyType, "Key \(name) is a \(key.type.rawValue) key; /verify checks HMACs and signatures.")
            }
            field = key.type.isMAC ? "hmac" : "signature"
            let other = field == "hmac" ? "signature" : "hmac"
            if object[other] != nil {
                throw APIError(.invalidField, "Key \(name) is a \(key.type.rawValue) key: give \(field), not \(other).")
            }
        }
        _ = try supportedAlgorithm(key.type)
        var version = key.latestVersion
        var expected: [UInt8] = []
        if operation == .verify {
            guard let text = try stringField(field, in: object) else {
                throw APIError(.missingInput, "/verify needs \(field), offload:<key>:v<version>:<base64>, as /\(field == "hmac" ? "hmac" : "sign") answers it.")
            }
            // One that does not parse, or names another key, is not valid: answered so, not refused.
            let parts = text.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
            if parts.count == 4, parts[0] == "offload", parts[1] == name, parts[2].hasPrefix("v"),
                let named = Int(parts[2].dropFirst()), String(named) == parts[2].dropFirst(),
                let bytes = Data(base64Encoded: String(parts[3]))
            {
                guard key.versions[named] != nil else {
                    throw APIError(.unknownKeyVersion, "Key \(name) has no version \(named); its latest is \(key.latestVersion).")
                }
                version = named
                expected = Array(bytes)
            }
        }
        guard let material = key.versions[version]?.material else {
            throw APIError(.unknownKeyVersion, "Key \(name) has no version \(version).")
        }
        var request = JobRequest(operation: operation, algorithm: key.type, input: input, key: material)
        request.expected = expected
        request.describesOutput = operation != .verify
        return request
    }

    /// `offload:<key>:v<version>:<base64 of nonce || ciphertext || tag>`, as /encrypt answers it.
    private func decryptRequest(ciphertext: String, aad: [UInt8]?) throws(APIError) -> JobRequest {
        let parts = ciphertext.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "offload", !parts[1].isEmpty, parts[2].hasPrefix("v"),
            let version = Int(parts[2].dropFirst()), version >= 1, String(version) == parts[2].dropFirst()
        else {
            throw APIError(.malformedCiphertext, "A ciphertext reads offload:<key>:v<version>:<base64>, as /encrypt answers it.")
        }
        let input = try Self.decodeBase64(String(parts[3]), field: "The ciphertext's data")
        let name = String(parts[1])
        guard let key = keys.key(name) else {
            throw APIError(.unknownKey, "No key named '\(name)'; GET /keys lists the key names.")
        }
        return try request(input: input, algorithm: key.type, key: key, version: version, aad: aad ?? [])
    }

    private func makeRequest(input: [UInt8], algorithmName: String?, keyName: String?, version: Int?, aad: [UInt8]?)
        throws(APIError) -> JobRequest
    {
        // A key named without an algorithm means the key's own type.
        var named: KeyRing.Key?
        if let keyName { named = try key(named: keyName) }
        let algorithm = try algorithmName == nil && named != nil ? supportedAlgorithm(named!.type) : algorithm(named: algorithmName)
        guard algorithm.isCipher else {
            let ciphers = Algorithm.allCases.filter(\.isCipher).map(\.rawValue).joined(separator: ", ")
            if let named {
                throw APIError(
                    .wrongKeyType, "Key \(named.name) is a \(named.type.rawValue) key, not a cipher's: use /hmac, /sign and /verify.")
            }
            throw APIError(.unknownAlgorithm, "\(algorithm.rawValue) is not a cipher; /\(operation.rawValue) takes \(ciphers).")
        }
        guard !input.isEmpty else {
            throw APIError(.emptyInput, "The input is empty; send at least one byte.")
        }
        guard algorithm.isAEAD else {
            if keyName != nil { throw APIError(.keyNotApplicable, "Algorithm \(algorithm.rawValue) takes no key.") }
            if aad != nil {
                throw APIError(.aadNotApplicable, "Algorithm \(algorithm.rawValue) is not an AEAD cipher and takes no aad_base64.")
            }
            return JobRequest(operation: operation, algorithm: algorithm, input: input)
        }
        if named == nil, let defaultName = keys.defaultName { named = try key(named: defaultName) }
        guard let key = named else {
            throw APIError(.unknownKey, "No key is named and the service has no default key; name one (GET /keys lists them).")
        }
        // Encryption uses the latest version; decryption of hex or base64 input means version 1
        // unless key_version says otherwise (a ciphertext string names its version itself).
        return try request(
            input: input, algorithm: algorithm, key: key, version: version ?? (operation == .encrypt ? key.latestVersion : 1),
            aad: aad ?? [])
    }

    private func key(named name: String) throws(APIError) -> KeyRing.Key {
        guard let key = keys.key(name) else {
            throw APIError(.unknownKey, "No key named '\(name)'; GET /keys lists the key names.")
        }
        return key
    }

    private func request(input: [UInt8], algorithm: Algorithm, key: KeyRing.Key, version: Int, aad: [UInt8])
        throws(APIError) -> JobRequest
    {
        guard key.type.isAEAD else {
            throw APIError(.wrongKeyType, "Key \(key.name) is a \(key.type.rawValue) key, not a cipher's: use /hmac and /verify.")
        }
        guard let material = key.versions[version]?.material else {
            throw APIError(
                .unknownKeyVersion, "Key \(key.name) has no version \(version); its latest is \(key.latestVersion).")
        }
        if operation.opensSealed {
            guard version >= key.minDecryptionVersion else {
                throw APIError(
                    .keyVersionDisabled,
                    "Version \(version) of key \(key.name) is below its min_decryption_version, \(key.minDecryptionVersion): "
                        + "it no longer decrypts. Rewrap ciphertexts before raising it.")
            }
            guard input.count >= Algorithm.aeadOverhead else {
                throw APIError(.invalidCiphertext,
                    "The input is shorter than a nonce and a tag (\(Algorithm.aeadOverhead) bytes); it was not made by /encrypt.")
            }
        }
        var request = JobRequest(operation: operation, algorithm: algorithm, input: input, key: material, aad: aad)
        // The output names its key only when the key's type is the algorithm that made it.
        request.describesOutput = operation.sealsOutput && algorithm == key.type
        if operation == .rewrap { request.rewrapKey = key.latest }
        return request
    }

    private func stringField(_ name: String, in object: [String: Any]) throws(APIError) -> String? {
        guard let value = object[name] else { return nil }
        guard let string = value as? String else {
            throw APIError(.invalidField, "The field '\(name)' must be a string.")
        }
        return string
    }

    private func algorithm(named name: String?) throws(APIError) -> Algorithm {
        guard let name else { return try supportedAlgorithm(.xor0xAA) }
        guard let algorithm = Algorithm(rawValue: name) else {
            throw APIError(.unknownAlgorithm,
                "Unknown algorithm '\(name)'; known: \(Algorithm.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        return try supportedAlgorithm(algorithm)
    }

    private func supportedAlgorithm(_ algorithm: Algorithm) throws(APIError) -> Algorithm {
        guard supported.algorithms.contains(algorithm) else {
            let error = EngineError.unsupportedAlgorithm(algorithm, provider: supported.provider)
            throw APIError(ErrorCode(error.code), error.message)
        }
        return algorithm
    }

    static func decodeHex(_ text: String, field: String) throws(APIError) -> [UInt8] {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else {
            throw APIError(.invalidHex, "\(field) has an odd number of digits.")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else {
                throw APIError(.invalidHex, "\(field) may hold only the digits 0-9 and a-f (or A-F).")
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
    static func decodeBase64(_ text: String, field: String) throws(APIError) -> [UInt8] {
        // Foundation alone takes "====" as one zero byte: padding only at the end, at most two,
        // and only to complete a group of four.
        let bytes = Array(text.utf8)
        let padding = bytes.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        let digits = bytes.count - padding
        let isDigit = { (byte: UInt8) in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: "/")
        }
        guard padding <= 2, digits % 4 != 1, bytes[..<digits].allSatisfy(isDigit),
              padding == 0 || (digits > 0 && bytes.count % 4 == 0) else {
            throw APIError(.invalidBase64, "\(field) is not valid standard base64.")
        }
        var padded = text
        if padded.utf8.count % 4 != 0 && !padded.hasSuffix("=") {
            padded += String(repeating: "=", count: 4 - padded.utf8.count % 4)
        }
        guard let data = Data(base64Encoded: padded) else {
            throw APIError(.invalidBase64, "\(field) is not valid standard base64.")
        }
        return Array(data)
    }
}
