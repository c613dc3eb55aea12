import Engine
import Foundation
import Store

/// A read of the durable store (`GET /jobs/{id}` of a job not running here, `GET /jobs`).
enum JobLookup {
    /// The job, unless it belongs to another principal than `owner` (nil: any).
    case job(UUID, owner: String?, live: JobRecord?)
    case list(status: JobStatus?, owner: String?, limit: Int)
}

/// The API's routes (GET /openapi.yaml describes them), independent of libmicrohttpd.
struct Router: Sendable {
    let engine: Engine
    let keys: KeyRing
    let maxBatchItems: Int
    let metrics: ServiceMetrics
    /// Bytes of bodies and jobs in flight: readiness fails while a largest body would not fit.
    let memory: MemoryBudget
    let maxBodyBytes: Int
    /// Shutdown has begun: `/readyz` answers 503 (`--drain-delay`, then draining).
    let isLeaving: @Sendable () -> Bool
    /// Where job records outlive the process; nil keeps them in the engine's memory only.
    let store: DurableStore?
    /// The version of the libmicrohttpd serving HTTP (the daemon knows it).
    let libmicrohttpdVersion: String

    enum Route: Equatable {
        case encrypt, decrypt, rewrap, datakey, hmac, sign, verify
        case jobs, job(String), keys, key(String), keyRotation(String)
        case healthz, readyz, metrics, openAPI, stats, version
        /// The live page and its files.
        case page, pageFile(String)

        init?(path: String) {
            switch path {
            case "/": self = .page
            case "/stats": self = .stats
            case "/version": self = .version
            case "/encrypt": self = .encrypt
            case "/decrypt": self = .decrypt
            case "/rewrap": self = .rewrap
            case "/datakey": self = .datakey
            case "/hmac": self = .hmac
            case "/sign": self = .sign
            case "/verify": self = .verify
            case "/jobs": self = .jobs
            case "/keys": self = .keys
            case "/healthz": self = .healthz
            case "/readyz": self = .readyz
            case "/metrics": self = .metrics
            case "/openapi.yaml": self = .openAPI
            default:
                let keyPrefix = "/keys/"
                if path.hasPrefix(keyPrefix) {
                    let rest = path.dropFirst(keyPrefix.count).split(separator: "/", omittingEmptySubsequences: false)
                    switch rest.count {
                    case 1 where !rest[0].isEmpty: self = .key(String(rest[0]))
                    case 2 where !rest[0].isEmpty && rest[1] == "rotate": self = .keyRotation(String(rest[0]))
                    default: return nil
                    }
                    return
                }
                let pagePrefix = "/page/"
                if path.hasPrefix(pagePrefix) {
                    let name = String(path.dropFirst(pagePrefix.count))
                    guard StaticAsset.pageFile(name) != nil else { return nil }
                    self = .pageFile(name)
                    return
                }
                let prefix = "/jobs/"
                guard path.hasPrefix(prefix), path.count > prefix.count else { return nil }
                let id = String(path.dropFirst(prefix.count))
                guard !id.contains("/") else { return nil }
                self = .job(id)
            }
        }

        /// Health and readiness answer without a token: probes carry none. The page and its
        /// files hold no data (a browser cannot send a token to load them); the page asks for
        /// the token and sends it with its API calls.
        var needsAuthorization: Bool {
            switch self {
            case .healthz, .readyz, .page, .pageFile: false
            default: true
            }
        }

        /// The methods the route answers; OPTIONS answers on every route.
        var methods: [String] {
            switch self {
            case .encrypt, .decrypt, .rewrap, .datakey, .hmac, .sign, .verify, .keyRotation: Self.postMethods
            case .keys: Self.keysMethods
            case .key: Self.keyMethods
            default: Self.getMethods
            }
        }

        // Made once: a literal array in `methods` was allocated on every request.
        private static let postMethods = ["POST", "OPTIONS"]
        private static let keysMethods = ["GET", "HEAD", "POST", "OPTIONS"]
        private static let keyMethods = ["GET", "HEAD", "PATCH", "DELETE", "OPTIONS"]
        private static let getMethods = ["GET", "HEAD", "OPTIONS"]

        /// The route's template, as metrics and the OpenAPI document name it.
        var template: String {
            switch self {
            case .encrypt: "/encrypt"
            case .decrypt: "/decrypt"
            case .rewrap: "/rewrap"
            case .datakey: "/datakey"
            case .hmac: "/hmac"
            case .sign: "/sign"
            case .verify: "/verify"
            case .jobs: "/jobs"
            case .job: "/jobs/{id}"
            case .keys: "/keys"
            case .key: "/keys/{name}"
            case .keyRotation: "/keys/{name}/rotate"
            case .healthz: "/healthz"
            case .readyz: "/readyz"
            case .metrics: "/metrics"
            case .openAPI: "/openapi.yaml"
            case .stats: "/stats"
            case .version: "/version"
            case .page: "/"
            case .pageFile: "/page/{file}"
            }
        }

        /// Every method some route answers, for `OPTIONS *`.
        static let allMethods = ["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"]
            .filter { method in all.contains { $0.methods.contains(method) } }.joined(separator: ", ")

        /// Every route the service answers, for the OpenAPI coverage test.
        static let all: [Route] = [
            .encrypt, .decrypt, .rewrap, .datakey, .hmac, .sign, .verify, .jobs, .job(""), .keys, .key(""),
            .keyRotation(""), .healthz, .readyz, .metrics, .openAPI, .stats, .version, .page, .pageFile("app.js"),
        ]
    }

    /// What `request` leads to; `route` is what its path names (looked up once, when its head
    /// arrived: authorization and metrics needed it before).
    func route(_ request: HTTPRequest, to route: Route?) -> RouteOutcome {
        do throws(APIError) {
            if request.path == "*" && request.method == "OPTIONS" {
                // `OPTIONS *`: what the server as a whole answers.
                return .respond(HTTPResponse(status: 204, headers: [("Allow", Route.allMethods)], body: []))
            }
            guard let route else {
                throw APIError(.notFound, "No route \(request.path); GET /openapi.yaml lists the routes.")
            }
            guard route.methods.contains(request.method) else {
                throw .methodNotAllowed(request.method, allowed: route.methods)
            }
            if request.method == "OPTIONS" {
                return .respond(HTTPResponse(
                    status: 204, headers: [("Allow", route.methods.joined(separator: ", "))], body: []))
            }
            switch route {
            case .datakey:
                var job = try dataKey(request)
                job.owner = request.principal?.name
                return .runJob(job, respondAsync: request.prefersAsync)
            case .encrypt, .decrypt, .rewrap, .hmac, .sign, .verify:
                let operation: JobOperation = switch route {
                case .decrypt: .decrypt
                case .rewrap: .rewrap
                case .hmac: .hmac
                case .sign: .sign
                case .verify: .verify
                default: .encrypt
                }
                var parser = JobRequestParser(operation: operation, keys: keys, maxBatchItems: maxBatchItems)
                parser.supported = (engine.algorithmMask, engine.providerName)
                let owner = request.principal?.name
                switch try parser.parse(request) {
                case .single(var job):
                    job.owner = owner
                    job.retainsOutput = Self.retainsOutput(of: job, answeredDirectly: !request.prefersAsync)
                    return .runJob(job, respondAsync: request.prefersAsync)
                case .batch(let items):
                    return .runBatch(items.map { item in item.map { job in
                        var owned = job
                        owned.owner = owner
                        owned.retainsOutput = Self.retainsOutput(of: job, answeredDirectly: true)
                        return owned
                    } })
                }
            case .jobs: return try listJobs(request.query, for: request.principal)
            case .job(let id): return try job(id, for: request.principal)
            case .keys:
                return request.method == "POST" ? try keyAPI.create(request) : .respond(keyAPI.list())
            case .key(let name):
                switch request.method {
                case "PATCH": return try keyAPI.update(name, request)
                case "DELETE": return try keyAPI.delete(name, request)
                default: return .respond(try keyAPI.show(name))
                }
            case .keyRotation(let name): return try keyAPI.rotate(name, request)
            case .healthz: return .respond(.json(200, Array(#"{"status":"ok"}"#.utf8)))
            case .readyz: return .respond(try readiness())
            case .metrics:
                return .respond(HTTPResponse(
                    status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                    body: metrics.exposition(engine: engine, memory: memory, store: store)))
            case .openAPI: return .respond(StaticAsset.openAPI.response(ifNoneMatch: request.ifNoneMatch))
            case .page: return .respond(StaticAsset.page.response(ifNoneMatch: request.ifNoneMatch))
            case .pageFile(let name):
                // The route exists only for known names.
                return .respond(StaticAsset.pageFile(name)!.response(ifNoneMatch: request.ifNoneMatch))
            case .stats: return .respond(.json(200, StatsJSON.stats(engine: engine, store: store)))
            case .version:
                var json = JSONWriter()
                json.beginObject()
                json.field("version", ServiceVersion.current)
                json.field("openssl", Engine.openSSLVersion)
                json.field("libmicrohttpd", libmicrohttpdVersion)
                json.field("provider", engine.providerName)
                json.endObject()
                return .respond(.json(200, json.bytes))
            }
        } catch {
            return .respond(error.response)
        }
    }

    /// `POST /datakey` `{"key", "bits", "plaintext"}`: fresh random bytes sealed under the key
    /// (envelope encryption). The plaintext is in the answer only: a data key asked for with its
    /// plaintext is answered directly, never kept for a later fetch.
    private func dataKey(_ request: HTTPRequest) throws(APIError) -> JobRequest {
        let object = try JSONBody.object(of: request)
        try JSONBody.check(object, allows: ["key", "bits", "plaintext"])
        var bits = 256
        if let value = object["bits"] {
            guard let number = JSONBody.int(value), [128, 256, 512].contains(number) else {
                throw APIError(.invalidField, "bits must be 128, 256 or 512.")
            }
            bits = number
        }
        var plaintext = true
        if let value = object["plaintext"] {
            guard let flag = JSONBody.bool(value) else { throw APIError(.invalidField, "plaintext must be true or false.") }
            plaintext = flag
        }
        if plaintext && request.prefersAsync {
            throw APIError(
                .invalidField,
                "A data key's plaintext is answered directly or not at all: ask with plaintext false for an async job.")
        }
        let named: String? = if let value = object["key"] { value as? String } else { keys.defaultName }
        guard let name = named else {
            throw APIError(.invalidField, "key must be a key's name (the service has no default key).")
        }
        guard let key = keys.key(name) else {
            throw APIError(.unknownKey, "No key named '\(name)'; GET /keys lists the key names.")
        }
        guard key.type.isAEAD else {
            throw APIError(.wrongKeyType, "Key \(name) is a \(key.type.rawValue) key; a data key is sealed under a cipher's key.")
        }
        let material: [UInt8]
        do {
            material = try KeyWrap.randomBytes(bits / 8)
        } catch {
            throw APIError(.engineError, "No random bytes for the data key: \(error)")
        }
        guard engine.algorithmMask.contains(key.type) else {
            let error = EngineError.unsupportedAlgorithm(key.type, provider: engine.providerName)
            throw APIError(ErrorCode(error.code), error.message)
        }
        var job = JobRequest(operation: .datakey, algorithm: key.type, input: material, key: key.latest)
        job.describesOutput = true
        job.answersWithInput = plaintext
        return job
    }

    /// The largest input whose output is kept after it was answered: a client given a large
    /// output in its answer seldom fetches it again, and keeping it would hold memory (the
    /// output of a job answered 202 is always kept, its client has not seen it yet).
    static let largestRetainedAnsweredInput = 64 * 1024

    /// Whether the job record keeps the output once the job is done. A decryption's plaintext
    /// is never kept when it was answered: the answer is its only copy (as in Vault and KMS);
    /// an async one is kept until it is fetched (in this process's memory only, never in the store).
    static func retainsOutput(of job: JobRequest, answeredDirectly: Bool) -> Bool {
        guard answeredDirectly else { return true }
        return job.operation != .decrypt && job.input.count <= largestRetainedAnsweredInput
    }

    /// The answer to a job's request once the job has finished: the job as JSON (200, or the
    /// status of its error's code: `ErrorCode.status`, one exhaustive mapping), or for a client
    /// that prefers it, the raw output with the job's fields in headers. The same request is
    /// answered in either form, depending on Accept: every answer varies by it.
    static func response(for record: JobRecord, binary: Bool, plaintext: [UInt8]? = nil) -> HTTPResponse {
        if binary && plaintext == nil && record.status == .completed, let output = record.output {
            var headers: [(name: String, value: String)] = [("Content-Type", "application/octet-stream")]
            headers += JobJSON.headers(record)
            headers.append(("Vary", "Accept"))
            return HTTPResponse(status: 200, headers: headers, body: output)
        }
        guard record.status != .completed else {
            return HTTPResponse(status: 200, headers: jobHeaders, body: JobJSON.job(record, plaintext: plaintext))
        }
        let code = record.error.map { ErrorCode($0.code) } ?? .engineError
        return HTTPResponse(
            status: code.status, headers: code.isTemporary ? jobHeaders + [("Retry-After", "1")] : jobHeaders,
            body: JobJSON.job(record))
    }

    /// The headers of a job's JSON answer, the answer of almost every request: one array for
    /// all of them, where each answer built (allocated) its own.
    private static let jobHeaders: [(name: String, value: String)] = [
        ("Content-Type", HTTPResponse.jsonContentType), ("Vary", "Accept"),
    ]

    private func readiness() throws(APIError) -> HTTPResponse {
        if isLeaving() {
            throw APIError(.draining, "The service is shutting down.")
        }
        if engine.isSaturated {
            throw APIError(.saturated, "Every engine's job pool is full; requests are queueing.")
        }
        if !memory.hasRoom(for: maxBodyBytes) {
            throw .memoryExhausted
        }
        if let store, !store.isAvailable {
            // Still ready: synchronous requests work without the store, and a store outage
            // must not take every replica out of its load balancer at once. The body says why
            // async submissions are refused.
            var json = JSONWriter()
            json.beginObject()
            json.field("status", "degraded")
            json.errorField(
                code: "store_unavailable",
                message: "The job store is unavailable (\(store.unavailable ?? "not reachable")); "
                    + "async jobs are refused until it returns, synchronous requests are served.")
            json.endObject()
            return .json(200, json.bytes)
        }
        return .json(200, Array(#"{"status":"ready"}"#.utf8))
    }

    private var keyAPI: KeyAPI { KeyAPI(keys: keys, store: store) }

    /// A principal sees its own jobs, an admin every job; without tokens everyone sees every job.
    /// With a durable store the list is the store's: every replica's jobs.
    private func listJobs(_ query: [(name: String, value: String)], for principal: Principal?) throws(APIError) -> RouteOutcome {
        let (status, limit) = try Self.jobListQuery(query)
        let owner = Self.visibleOwner(for: principal)
        if store != nil {
            return later(.list(status: status, owner: owner, limit: limit))
        }
        let (jobs, counts) = engine.store.list(status: status, owner: owner, limit: limit)
        return .respond(.json(200, JobJSON.list(jobs, counts: counts)))
    }

    /// The owner whose jobs a principal sees: its own, or any (nil) for an admin or without tokens.
    private static func visibleOwner(for principal: Principal?) -> String? {
        principal?.isAdmin == false ? principal?.name : nil
    }

    private func later(_ lookup: JobLookup) -> RouteOutcome {
        let router = self
        return .later { respond in router.answer(lookup, then: respond) }
    }

    /// Answers a read of the durable store, on the store's reader thread.
    private func answer(_ lookup: JobLookup, then respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard let store else { preconditionFailure("a lookup needs a durable store") }
        switch lookup {
        case .job(let id, let owner, let live):
            store.job(id) { result in
                switch result {
                case .success(let stored):
                    // A job finished here whose record is not written yet is answered from memory
                    // (the store's row, if any, is older).
                    let record = stored.map { stored in
                        live.map { live in live.status.isFinished && !stored.status.isFinished ? live : stored } ?? stored
                    } ?? live
                    guard let record, owner == nil || record.owner == owner else {
                        return respond(Self.jobNotFound(id.uuidString.lowercased()).response)
                    }
                    respond(.json(200, JobJSON.job(record)))
                case .failure(let error):
                    if let live, owner == nil || live.owner == owner { return respond(.json(200, JobJSON.job(live))) }
                    respond(Self.storeUnavailable(error).response)
                }
            }
        case .list(let status, let owner, let limit):
            let jobs = engine.store
            store.list(status: status, owner: owner, limit: limit) { result in
                switch result {
                case .success(let stored):
                    let (list, counts) = Self.merged(stored: stored, live: jobs, status: status, owner: owner, limit: limit)
                    respond(.json(200, JobJSON.list(list, counts: counts)))
                case .failure(let error): respond(Self.storeUnavailable(error).response)
                }
            }
        }
    }

    /// The store's async jobs (every replica's) and this process's jobs in memory (its
    /// synchronous ones, and its async ones as they run), newest first, each once: a job in
    /// both is shown as memory has it. The counts add the memory's jobs the store does not hold.
    static func merged(
        stored: (jobs: [JobRecord], counts: JobCounts), live: JobStore, status: JobStatus?, owner: String?, limit: Int
    ) -> (jobs: [JobRecord], counts: JobCounts) {
        let (memory, memoryCounts) = live.list(status: status, owner: owner, limit: limit)
        let durable = live.durableCounts(owner: owner)
        var counts = stored.counts
        for status in JobStatus.allCases { counts[status] += memoryCounts[status] - durable[status] }
        let inMemory = Set(memory.map(\.id))
        let jobs = (memory + stored.jobs.filter { !inMemory.contains($0.id) })
            .sorted { $0.createdAt.wallNanoseconds > $1.createdAt.wallNanoseconds }
        return (Array(jobs.prefix(limit)), counts)
    }

    static func storeUnavailable(_ error: StoreError) -> APIError {
        APIError(.storeUnavailable, "The job store cannot be read or written: \(error.message) Retry shortly.")
    }

    private static func jobNotFound(_ id: String) -> APIError {
        APIError(.jobNotFound, "No job \(id): it never existed or is no longer retained.")
    }

    /// `?status=` and `?limit=` of `GET /jobs`.
    static func jobListQuery(_ query: [(name: String, value: String)]) throws(APIError) -> (JobStatus?, Int) {
        var status: JobStatus?
        var limit = 100
        for (name, value) in query {
            switch name {
            case "status":
                guard let parsed = JobStatus(rawValue: value) else {
                    throw APIError(.invalidStatus,
                        "status must be one of \(JobStatus.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                status = parsed
            case "limit":
                guard let parsed = Int(value), (1...1000).contains(parsed) else {
                    throw APIError(.invalidLimit, "limit must be a whole number from 1 to 1000.")
                }
                limit = parsed
            default:
                throw APIError(.unknownParameter, "Unknown query parameter '\(name)'; use status and limit.")
            }
        }
        return (status, limit)
    }

    private func job(_ id: String, for principal: Principal?) throws(APIError) -> RouteOutcome {
        guard let uuid = UUID(uuidString: id) else {
            throw APIError(.invalidJobID, "'\(id)' is not a job id; job ids are UUIDs.")
        }
        let owner = Self.visibleOwner(for: principal)
        let live = engine.store.job(uuid)
        if let live, live.operation == .decrypt, live.status.isFinished, live.output != nil,
            owner == nil || live.owner == owner
        {
            // A plaintext is given once: this answer is its only copy from now on.
            engine.store.dropPlaintext(uuid)
            return .respond(.json(200, JobJSON.job(live)))
        }
        // A job running here, or a synchronous one (the store never holds those), is answered
        // from memory; a finished async one, or another replica's, from the store, so that a
        // result is reported only once it is durable.
        if store != nil && (live.map { $0.storedDurably && $0.status.isFinished } ?? true) {
            return later(.job(uuid, owner: owner, live: live))
        }
        // Another principal's job is answered as one that does not exist: its id says nothing.
        guard let record = live, owner == nil || record.owner == owner else { throw Self.jobNotFound(id) }
        return .respond(.json(200, JobJSON.job(record)))
    }
}
