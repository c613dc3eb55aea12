import Engine

/// Every error code the API answers with, and its HTTP status: one exhaustive mapping, so a new
/// code cannot reach a client without a status chosen for it. The raw values are the stable
/// snake_case codes clients match on.
enum ErrorCode: String, Sendable, CaseIterable {
    // The request is wrong; the message says how (400).
    case malformedJSON = "malformed_json"
    case duplicateField = "duplicate_field"
    case unknownField = "unknown_field"
    case invalidField = "invalid_field"
    case unknownParameter = "unknown_parameter"
    case tooManyQueryArguments = "too_many_query_arguments"
    case missingInput = "missing_input"
    case emptyInput = "empty_input"
    case ambiguousInput = "ambiguous_input"
    case invalidHex = "invalid_hex"
    case invalidBase64 = "invalid_base64"
    case invalidBatch = "invalid_batch"
    case invalidBatchItem = "invalid_batch_item"
    case batchTooLarge = "batch_too_large"
    case unknownAlgorithm = "unknown_algorithm"
    case unsupportedAlgorithm = "unsupported_algorithm"
    case unknownKey = "unknown_key"
    case keyNotApplicable = "key_not_applicable"
    case aadNotApplicable = "aad_not_applicable"
    case invalidCiphertext = "invalid_ciphertext"
    case malformedCiphertext = "malformed_ciphertext"
    case unknownKeyVersion = "unknown_key_version"
    case keyVersionDisabled = "key_version_disabled"
    case invalidKeyName = "invalid_key_name"
    case unsupportedKeyType = "unsupported_key_type"
    case wrongKeyType = "wrong_key_type"
    case authenticationFailed = "authentication_failed"
    case invalidStatus = "invalid_status"
    case invalidLimit = "invalid_limit"
    case invalidJobID = "invalid_job_id"
    case ambiguousFraming = "ambiguous_framing"
    case ambiguousAuthorization = "ambiguous_authorization"
    // Who is asking (401), what exists (404), how (405, 413, 415, 431, 501).
    case unauthorized
    case notFound = "not_found"
    case jobNotFound = "job_not_found"
    case keyNotFound = "key_not_found"
    case forbidden
    case keyExists = "key_exists"
    case keyDeletionNotAllowed = "key_deletion_not_allowed"
    case methodNotAllowed = "method_not_allowed"
    case payloadTooLarge = "payload_too_large"
    case unsupportedMediaType = "unsupported_media_type"
    case headersTooLarge = "headers_too_large"
    case unsupportedTransferEncoding = "unsupported_transfer_encoding"
    // A job that ran and failed: the service (500), the device or provider (502), its time (504).
    case engineError = "engine_error"
    case deviceError = "device_error"
    case providerError = "provider_error"
    case instanceLost = "instance_lost"
    case jobTimeout = "job_timeout"
    // Not now; retry after Retry-After (503).
    case overloaded
    case deviceBusy = "device_busy"
    case shuttingDown = "shutting_down"
    case draining
    case saturated
    case memoryExhausted = "memory_exhausted"
    case storeUnavailable = "store_unavailable"

    var status: Int {
        switch self {
        case .malformedJSON, .duplicateField, .unknownField, .invalidField, .unknownParameter, .tooManyQueryArguments,
            .missingInput, .emptyInput, .ambiguousInput, .invalidHex, .invalidBase64, .invalidBatch, .invalidBatchItem,
            .batchTooLarge, .unknownAlgorithm, .unsupportedAlgorithm, .unknownKey, .keyNotApplicable, .aadNotApplicable,
            .invalidCiphertext, .authenticationFailed, .invalidStatus, .invalidLimit, .invalidJobID, .ambiguousFraming,
            .ambiguousAuthorization, .malformedCiphertext, .unknownKeyVersion, .keyVersionDisabled, .invalidKeyName,
            .unsupportedKeyType, .wrongKeyType:
            400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound, .jobNotFound, .keyNotFound: 404
        case .keyExists, .keyDeletionNotAllowed: 409
        case .methodNotAllowed: 405
        case .payloadTooLarge: 413
        case .unsupportedMediaType: 415
        case .headersTooLarge: 431
        case .engineError: 500
        case .unsupportedTransferEncoding: 501
        case .deviceError, .providerError: 502
        case .overloaded, .deviceBusy, .shuttingDown, .draining, .saturated, .memoryExhausted, .storeUnavailable,
            .instanceLost:
            503
        case .jobTimeout: 504
        }
    }

    /// Whether a client should retry the same request later (503 answers carry Retry-After).
    var isTemporary: Bool { status == 503 }

    /// The API's code for an engine's: every engine code has its own place here.
    init(_ code: EngineError.Code) {
        switch code {
        case .authenticationFailed: self = .authenticationFailed
        case .invalidCiphertext: self = .invalidCiphertext
        case .unsupportedAlgorithm: self = .unsupportedAlgorithm
        case .deviceError: self = .deviceError
        case .providerError: self = .providerError
        case .jobTimeout: self = .jobTimeout
        case .deviceBusy: self = .deviceBusy
        case .overloaded: self = .overloaded
        case .shuttingDown: self = .shuttingDown
        case .instanceLost: self = .instanceLost
        // Not a client's doing and not a device's: a fault of the service itself.
        case .engineError, .systemError, .asyncUnsupported, .invalidConfiguration, .invalidKey, .missingKey:
            self = .engineError
        }
    }
}
