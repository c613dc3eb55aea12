internal import CMicroHTTPD
import Engine
import Foundation
import Glibc
import Logging
import Store
import Synchronization

/// The HTTP side: one libmicrohttpd daemon per engine loop, run by that loop, connections
/// suspended while their jobs run. Owns the C callbacks; everything HTTP-specific above it
/// is in `Router`.
final class Daemon: Sendable {
    private let router: Router
    /// Runs what the router decides; the daemon only carries requests and answers.
    private let runner: JobRunner
    private let engine: Engine
    private let metrics: ServiceMetrics
    private let requestLog: RequestLog
    private let maxBodyBytes: Int
    /// The checks a head passes before its body is read (the API layer's, transport-free).
    private let headAdmission: HeadAdmission
    /// Headers every answer carries.
    private let commonHeaders: [(name: String, value: String)]
    private let lifecycle = ServerLifecycle()
    private let deadlines: ConnectionDeadlines
    /// Bytes of request bodies and jobs in flight, across connections.
    private let memory: MemoryBudget
    private let plaintextExpiry: PlaintextExpiry
    private let admission: ConnectionAdmission
    /// One libmicrohttpd daemon per engine loop, in loop order.
    private let loops = LoopTable()
    private let boundPort = Atomic<Int>(0)

    /// Starts one daemon per engine loop on one listening socket, each run by its loop: a
    /// request is read, its job run and resumed, and its answer sent on one thread.
    init(configuration: ServerConfiguration, engine: Engine, store: DurableStore?, keys: KeyRing, logger: Logger) throws {
        self.engine = engine
        self.requestLog = RequestLog(logger: logger, format: configuration.logFormat, loops: engine.configuration.threads)
        let metrics = ServiceMetrics(loops: engine.configuration.threads)
        self.metrics = metrics
        let lifecycle = self.lifecycle
        let memory = MemoryBudget(limit: configuration.maxBytesInFlight)
        self.memory = memory
        plaintextExpiry = PlaintextExpiry(jobs: engine.store, ttl: configuration.resultTTL)
        self.runner = JobRunner(engine: engine, store: store, memory: memory, metrics: metrics)
        self.router = Router(
            engine: engine, keys: keys, maxBatchItems: configuration.maxBatchItems, metrics: metrics,
            memory: memory, maxBodyBytes: configuration.maxBodyBytes, isLeaving: { lifecycle.current >= .leaving }, store: store,
            libmicrohttpdVersion: String(cString: MHD_get_version()))
        self.maxBodyBytes = configuration.maxBodyBytes
        headAdmission = HeadAdmission(
            maxHeaderBytes: configuration.maxHeaderBytes, maxBodyBytes: configuration.maxBodyBytes,
            maxQueryArguments: Int(CMICROHTTPD_MAX_QUERY_ARGUMENTS), accessTokens: configuration.accessTokens)
        commonHeaders = configuration.replica.map { [("Offload-Replica", $0)] } ?? []
        deadlines = ConnectionDeadlines(timeoutSeconds: configuration.connectionTimeoutSeconds)
        admission = ConnectionAdmission(
            limit: configuration.connectionLimit, perAddressLimit: configuration.perIPConnectionLimit)
        var limits = CMicroHTTPD_limits()
        // Each daemon may hold every connection: `admission` keeps the limits over all of them.
        limits.connection_limit = UInt32(configuration.connectionLimit)
        // Holds a request's line and headers plus a read buffer, and the answer's headers: the
        // header limit and 4 KiB, so that a head over the limit still leaves room for our 431
        // (libmicrohttpd answers 431 itself for a head that does not fit; one that fills the
        // pool to its last bytes, at about limit + 3.7 KiB, it closes unanswered). libmicrohttpd
        // zeroes the whole pool between two requests of a connection: twice the limit, as
        // before, was 4% of the server's CPU at zero latency and pushed the request's own data
        // out of the core's cache.
        limits.connection_memory_limit = configuration.maxHeaderBytes + 4 * 1024
        limits.listen_backlog = 4096
        limits.listen_fd = -1
        let tls = configuration.tls
        var started: [OpaquePointer] = []
        let context = Unmanaged.passUnretained(self).toOpaque()
        limits.notify_connection = daemonConnectionNotified
        limits.notify_connection_context = context
        let address = try SocketAddress(host: configuration.host, port: configuration.port)
        limits.ipv6 = address.isIPv6
        for _ in 0..<configuration.engine.threads {
            // The PEM strings need to live only during the start: libmicrohttpd copies them.
            let daemon = (tls?.keyPEM ?? "").withCString { key in
                (tls?.certificatePEM ?? "").withCString { certificate in
                    limits.tls_key_pem = tls == nil ? nil : key
                    limits.tls_cert_pem = tls == nil ? nil : certificate
                    return address.withSockaddr { sockaddr in
                        CMicroHTTPD_start_daemon(
                            sockaddr, daemonAccessHandler, context, daemonRequestCompleted, context, limits)
                    }
                }
            }
            guard let daemon, CMicroHTTPD_epoll_fd(daemon) >= 0 else {
                Self.stopSharingListener(started + (daemon.map { [$0] } ?? []))
                lifecycle.advance(to: .stopped)
                deadlines.stop()
                memory.stop()
                plaintextExpiry.stop()
                requestLog.stop()
                throw ServerError(
                    "Could not listen on \(configuration.host):\(configuration.port): "
                        + "the port may be in use or the address not local.")
            }
            started.append(daemon)
            // The others accept on the first one's socket: whichever loop is free takes a new
            // connection (SO_REUSEPORT would let a second process bind the port unnoticed).
            limits.listen_fd = CMicroHTTPD_listen_fd(started[0])
        }
        // Nothing runs a daemon before its loop is handed it below: the table is complete first.
        let loopDaemons = started.enumerated().map { LoopDaemon(pointer: $1, index: $0) }
        loops.set(loopDaemons)
        // The first daemon picked the port when the configuration said 0.
        boundPort.store(Int(CMicroHTTPD_bound_port(started[0])), ordering: .releasing)
        engine.attach(loopDaemons)
    }

    /// The port the daemons listen on (the one picked when the configuration said 0).
    var port: Int { boundPort.load(ordering: .acquiring) }

    /// Says "not ready" on `/readyz` and closes each connection after its answer, while still
    /// serving everything: load balancers take the replica out before it stops accepting.
    func beginLeaving() {
        lifecycle.advance(to: .leaving)
    }

    /// Stops accepting connections and answers further requests with 503. Each daemon closes
    /// its listening socket on its own loop's thread.
    func beginDraining() {
        guard lifecycle.advance(to: .draining) else { return }
        let daemons = loops.daemons
        // The loops share one listening socket: the last to let go of it closes it.
        let stillListening = SharedCounter()
        stillListening.add(daemons.count)
        for daemon in daemons {
            engine.perform(onLoop: daemon.index) {
                let listener = MHD_quiesce_daemon(daemon.pointer)
                if stillListening.add(-1) == 0 && listener >= 0 { close(listener) }
            }
        }
    }

    /// Stops daemons that may share one listening socket, closing it once: each lets go of it
    /// first (a quiesced daemon does not close it), then it is closed, then they stop.
    private static func stopSharingListener(_ daemons: [OpaquePointer]) {
        var listener: Int32 = -1
        for daemon in daemons {
            let released = MHD_quiesce_daemon(daemon)
            if released >= 0 { listener = released }
        }
        if listener >= 0 { close(listener) }
        daemons.forEach { MHD_stop_daemon($0) }
    }

    /// Requests begun and not yet completed (answered, or their connection closed).
    var activeRequests: Int { loops.daemons.reduce(0) { $0 + $1.requestsInProgress.value } }

    /// Closes every connection and frees the daemons. The engine's loops must have ended (no
    /// loop runs a daemon any more) and no connection may be suspended.
    func stop() {
        guard lifecycle.advance(to: .stopped) else { return }
        Self.stopSharingListener(loops.daemons.map(\.pointer))
        deadlines.stop()
        memory.stop()
        plaintextExpiry.stop()
        requestLog.stop()
    }

    deinit {
        // libmicrohttpd holds this object's address as the context of its callbacks until the
        // daemons are stopped: freed before that, the next callback would use freed memory.
        precondition(lifecycle.current == .stopped, "a Daemon was freed before stop()")
    }

    /// Connections cut off because a request head or body missed its deadline.
    var connectionsCutOff: Int { deadlines.connectionsCutOff }

    fileprivate func connectionOpened(_ connection: OpaquePointer, context: UnsafeMutablePointer<UnsafeMutableRawPointer?>) {
        let fd = CMicroHTTPD_connection_fd(connection)
        let open = OpenConnection(deadline: deadlines.opened(fd: fd), daemon: loops.daemon(serving: connection))
        // Released when the connection closes.
        context.pointee = Unmanaged.passRetained(open).toOpaque()
        var address = [UInt8](repeating: 0, count: 16)
        let length = Int(CMicroHTTPD_client_address(connection, &address))
        if !admission.admit(open.deadline.id, from: Array(address.prefix(length))) {
            // Over a connection limit: closed at once, unanswered (as libmicrohttpd's own limits do).
            _ = shutdown(fd, Int32(SHUT_RDWR))
        }
    }

    fileprivate func connectionClosed(context: UnsafeMutablePointer<UnsafeMutableRawPointer?>) {
        if let pointer = context.pointee {
            let open = Unmanaged<OpenConnection>.fromOpaque(pointer).takeRetainedValue()
            deadlines.closed(open.deadline)
            admission.closed(open.deadline.id)
        }
        context.pointee = nil
    }

    /// `url` and `method` are read (made strings) once, when the request begins; later calls
    /// (body chunks, the end, a resume) find them in the exchange.
    fileprivate func handle(
        connection: OpaquePointer, url: UnsafePointer<CChar>, method: UnsafePointer<CChar>,
        uploadData: UnsafePointer<CChar>?, uploadDataSize: UnsafeMutablePointer<Int>,
        context: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    ) -> MHD_Result {
        guard let existing = context.pointee, existing != Self.queryRefusedMark else {
            return begin(
                connection: connection, url: text(url), method: text(method),
                queryRefused: context.pointee != nil, context: context)
        }
        let exchange = Unmanaged<Exchange>.fromOpaque(existing).takeUnretainedValue()
        if uploadDataSize.pointee > 0 {
            receiveBody(uploadData, count: uploadDataSize.pointee, into: exchange)
            uploadDataSize.pointee = 0
            return .YES
        }
        if let response = exchange.takeFinishedResponse() {
            return queue(response, for: exchange)
        }
        if exchange.isWaitingForAnswer {
            // Called again and still no answer: the job is on the device for longer than a turn.
            exchange.suspend()
            return .YES
        }
        if !exchange.isRunning {
            exchange.isRunning = true
            deadlines.bodyReceived(exchange.openConnection.deadline)
        }
        if exchange.bodyTooLarge {
            return queue(APIError.payloadTooLarge(limit: maxBodyBytes).response, for: exchange)
        }
        if exchange.bodyOverBudget {
            return queue(memoryExhausted, for: exchange)
        }
        if lifecycle.current >= .draining && exchange.method == "POST" {
            return queue(drainingResponse, for: exchange)
        }
        // Moved out of the exchange: each read of a class's stored struct as a whole (an
        // argument, or a computed property of it) copies it, retaining its strings and arrays.
        let request = exchange.takeRequest()
        switch router.route(request, to: exchange.route) {
        case .respond(let response):
            return queue(response, for: exchange)
        case .runJob(let job, let respondAsync):
            if requestLog.isEnabled {
                exchange.jobFacts = RequestLog.JobFacts(
                    operation: job.operation, algorithm: job.algorithm, keyName: job.key?.name, batchItems: nil)
            }
            exchange.jobID = runner.run(
                job, respondAsync: respondAsync, binary: request.prefersBinary,
                onLoop: exchange.daemon.index
            ) { response in exchange.finish(with: response) }
            return answerOrWait(exchange)
        case .runBatch(let items):
            if requestLog.isEnabled, let first = items.lazy.compactMap({ try? $0.get() }).first {
                // One route, one operation: the batch's is its first valid item's.
                exchange.jobFacts = RequestLog.JobFacts(
                    operation: first.operation, algorithm: nil, keyName: nil, batchItems: items.count)
            }
            runner.runBatch(items, onLoop: exchange.daemon.index) { response in exchange.finish(with: response) }
            return answerOrWait(exchange)
        case .later(let work):
            // Answered from another thread, finished on this loop.
            let engine = engine
            work { response in
                engine.perform(onLoop: exchange.daemon.index) { exchange.finish(with: response) }
            }
            return answerOrWait(exchange)
        }
    }

    /// A request refused at once (its answer already stored) is answered now. Otherwise the
    /// handler returns without an answer and without suspending the connection: libmicrohttpd
    /// looks again, in its next run, at a connection that waits on the application (it keeps
    /// it in its ready list, and its timeout is then zero). By then the loop has started the
    /// jobs of every request its daemon read, polled the device and finished what the device
    /// completed at once, so that answer goes out without a suspend and a resume (each an
    /// `epoll_ctl` call in libmicrohttpd, together 9% of the CPU at zero latency). A request
    /// still without an answer on that second call is suspended until `finish` resumes it.
    ///
    /// Every request of a burst is so read and started, then answered, in passes rather than one
    /// request after the other to its answer (measured: 10 to 20% more requests a second at
    /// zero latency with the client on the same two cores, as it wakes once per burst).
    private func answerOrWait(_ exchange: Exchange) -> MHD_Result {
        if let response = exchange.takeFinishedResponse() {
            return queue(response, for: exchange)
        }
        exchange.isWaitingForAnswer = true
        return .YES
    }

    /// Takes `bytes` of the memory budget for the request's body, or says there is no room.
    private func reserveBody(_ bytes: Int, for exchange: Exchange) -> Bool {
        guard memory.reserve(bytes) else { return false }
        exchange.reservedBodyBytes += bytes
        return true
    }

    private var memoryExhausted: HTTPResponse {
        APIError.memoryExhausted.response
    }

    private var drainingResponse: HTTPResponse { JobRunner.drainingResponse }

    /// The request context libmicrohttpd gives a request whose query had too many arguments.
    private static var queryRefusedMark: UnsafeMutableRawPointer? { CMicroHTTPD_query_refused_mark() }

    private func begin(
        connection: OpaquePointer, url: String, method: String, queryRefused: Bool,
        context: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    ) -> MHD_Result {
        var head = head(of: connection, queryRefused: queryRefused)
        // libmicrohttpd has checked that the length is digits; it may still not fit an Int
        // (18446744073709551615 is libmicrohttpd's "unknown size", which it would read until close).
        let declaredLength = head.contentLength.map { UInt64($0).map { Int(clamping: $0) } ?? .max }
        head.declaredLength = declaredLength
        let request = HTTPRequest(
            method: method, path: url, query: queryArguments(of: connection),
            contentType: head.contentType,
            ifNoneMatch: head.ifNoneMatch,
            prefersAsync: (head.prefer ?? "").lowercased().split(separator: ",").contains {
                $0.trimmingCharacters(in: .whitespaces) == "respond-async"
            },
            body: [],
            accept: head.accept)
        // Set when the connection opened, before any of its requests.
        guard let socketContext = CMicroHTTPD_socket_context(connection) else { return .NO }
        let open = Unmanaged<OpenConnection>.fromOpaque(socketContext).takeUnretainedValue()
        let exchange = Exchange(connection: connection, openConnection: open, request: request)
        deadlines.headReceived(open.deadline, declaredBytes: min(declaredLength ?? 0, maxBodyBytes))
        context.pointee = Unmanaged.passRetained(exchange).toOpaque()
        exchange.daemon.requestsInProgress.add(1)
        if requestLog.isEnabled {
            withUnsafeMutableBytes(of: &exchange.clientAddress) { bytes in
                exchange.clientAddressLength = Int(CMicroHTTPD_client_address(
                    connection, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)))
            }
        }
        do {
            exchange.request.principal = try headAdmission.admit(head, to: exchange.route)
        } catch {
            return queue(error.response, for: exchange)
        }
        if let declared = declaredLength {
            guard reserveBody(declared, for: exchange) else {
                // Bodies already being received hold all the memory they may: refused before
                // this one is read, so slow bodies cannot add up without bound.
                return queue(memoryExhausted, for: exchange)
            }
            exchange.request.body.reserveCapacity(declared)
        }
        return .YES
    }

    private func receiveBody(_ data: UnsafePointer<CChar>?, count: Int, into exchange: Exchange) {
        guard !exchange.bodyTooLarge, !exchange.bodyOverBudget, let data else { return }
        guard exchange.request.body.count + count <= maxBodyBytes else {
            exchange.bodyTooLarge = true
            exchange.request.body = []
            return
        }
        // A body without Content-Length (chunked) takes its budget as it arrives.
        let beyondReserved = exchange.request.body.count + count - exchange.reservedBodyBytes
        if beyondReserved > 0 && !reserveBody(beyondReserved, for: exchange) {
            exchange.bodyOverBudget = true
            exchange.request.body = []
            return
        }
        data.withMemoryRebound(to: UInt8.self, capacity: count) { bytes in
            exchange.request.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: count))
        }
    }

    fileprivate func completed(
        context: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, code: MHD_RequestTerminationCode
    ) {
        guard let context, let existing = context.pointee else { return }
        context.pointee = nil
        // A request refused for its query before any exchange began (its handler was never called).
        guard existing != Self.queryRefusedMark else { return }
        let exchange = Unmanaged<Exchange>.fromOpaque(existing).takeRetainedValue()
        exchange.daemon.requestsInProgress.add(-1)
        // One clock read for the next head's deadline and the log line's duration and time.
        let now = Timestamp.now()
        deadlines.answered(exchange.openConnection.deadline, at: now.monotonicNanoseconds)
        if exchange.reservedBodyBytes > 0 { memory.release(exchange.reservedBodyBytes) }
        guard requestLog.isEnabled else { return }
        requestLog.record(RequestLog.Entry(
            clientAddress: exchange.clientAddress, clientAddressLength: exchange.clientAddressLength,
            method: exchange.method, path: exchange.path, status: exchange.status,
            job: exchange.jobFacts, jobID: exchange.jobID, nanoseconds: exchange.nanoseconds(until: now.monotonicNanoseconds),
            // A connection the deadlines cut off ends as a read error in libmicrohttpd's eyes.
            outcome: code == .REQUEST_TERMINATED_COMPLETED_OK ? nil
                : exchange.openConnection.deadline.isCutOff ? "timeout" : Self.describe(code),
            wallNanoseconds: now.wallNanoseconds), fromLoop: exchange.daemon.index)
    }

    private static func describe(_ code: MHD_RequestTerminationCode) -> String {
        switch code {
        case .REQUEST_TERMINATED_WITH_ERROR: "connection_error"
        case .REQUEST_TERMINATED_TIMEOUT_REACHED: "timeout"
        case .REQUEST_TERMINATED_DAEMON_SHUTDOWN: "shutdown"
        case .REQUEST_TERMINATED_READ_ERROR: "client_disconnected"
        case .REQUEST_TERMINATED_CLIENT_ABORT: "client_disconnected"
        default: "other"
        }
    }

    private func queue(_ response: HTTPResponse, for exchange: Exchange) -> MHD_Result {
        exchange.status = response.status
        let now = Timestamp.monotonicNow()
        metrics.requestAnswered(
            onLoop: exchange.daemon.index, route: exchange.route?.template ?? "unmatched",
            method: exchange.method, status: response.status,
            nanoseconds: exchange.nanoseconds(until: now))
        deadlines.answerQueued(exchange.openConnection.deadline, bytes: response.body.count, at: now)
        guard let created = Self.makeResponse(body: response.body) else { return .NO }
        defer { MHD_destroy_response(created) }
        for (name, value) in response.headers { Self.add(name, value, to: created) }
        for (name, value) in commonHeaders { Self.add(name, value, to: created) }
        if lifecycle.current >= .leaving && !response.headers.contains(where: { $0.name == "Connection" }) {
            // The replica is leaving: a keep-alive client reconnects, through its load balancer,
            // to a replica that stays.
            _ = MHD_add_response_header(created, "Connection", "close")
        }
        if !response.headers.contains(where: { $0.name == "Cache-Control" }) {
            // Every answer but the OpenAPI document carries job data, keys, health or metrics
            // that no cache or proxy may keep or serve stale.
            _ = MHD_add_response_header(created, "Cache-Control", "no-store")
        }
        return MHD_queue_response(exchange.connection, UInt32(response.status), created)
    }

    /// Adds a header through `withCString`: passing a short string where C takes a `char *`
    /// converts it through a heap-allocated array (the implicit conversion), four per answer.
    private static func add(_ name: String, _ value: String, to response: OpaquePointer) {
        name.withCString { name in
            value.withCString { value in _ = MHD_add_response_header(response, name, value) }
        }
    }

    /// Bodies from this size on are lent to libmicrohttpd rather than copied.
    private static let lentBodyBytes = 16 * 1024

    /// A libmicrohttpd response for `body`. A small body is copied; a large one (a raw output
    /// of up to the body limit, or its hex) is lent: its storage is kept alive by a retained
    /// box until libmicrohttpd frees the response, so it is never copied.
    private static func makeResponse(body: [UInt8]) -> OpaquePointer? {
        guard body.count >= lentBodyBytes else {
            return body.withUnsafeBytes { bytes in
                MHD_create_response_from_buffer(
                    bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
            }
        }
        let box = LentBody(body)
        let retained = Unmanaged.passRetained(box).toOpaque()
        // The array is immutable and owned by the box: its storage neither moves nor changes
        // while the box lives.
        let created = box.bytes.withUnsafeBytes { bytes in
            MHD_create_response_from_buffer_with_free_callback_cls(
                bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), releaseLentBody, retained)
        }
        if created == nil { Unmanaged<LentBody>.fromOpaque(retained).release() }
        return created
    }

    /// What the service reads of the head, in one pass over the headers: how many times the
    /// request names each header that must appear once at most (framing, RFC 9112 section
    /// 6.3, and credentials), and the first value of each header it reads (no lookup per
    /// header, and no string for a header the request lacks).
    private func head(of connection: OpaquePointer, queryRefused: Bool) -> RequestHead {
        var head = RequestHead(headerBytes: Int(CMicroHTTPD_header_size(connection)), queryRefused: queryRefused)
        withUnsafeMutablePointer(to: &head) { pointer in
            _ = MHD_get_connection_values(connection, .HEADER_KIND, { context, _, key, value in
                guard let context, let key else { return .YES }
                let head = context.assumingMemoryBound(to: RequestHead.self)
                if strcasecmp(key, "Content-Length") == 0 {
                    head.pointee.contentLengthHeaders += 1
                    if head.pointee.contentLength == nil { head.pointee.contentLength = value.map(text) ?? "" }
                } else if strcasecmp(key, "Content-Type") == 0 {
                    if head.pointee.contentType == nil { head.pointee.contentType = value.map(text) ?? "" }
                } else if strcasecmp(key, "Accept") == 0 {
                    if head.pointee.accept == nil { head.pointee.accept = value.map(text) ?? "" }
                } else if strcasecmp(key, "Prefer") == 0 {
                    if head.pointee.prefer == nil { head.pointee.prefer = value.map(text) ?? "" }
                } else if strcasecmp(key, "If-None-Match") == 0 {
                    if head.pointee.ifNoneMatch == nil { head.pointee.ifNoneMatch = value.map(text) ?? "" }
                } else if strcasecmp(key, "Transfer-Encoding") == 0 {
                    head.pointee.transferEncodingHeaders += 1
                    if head.pointee.transferEncoding == nil { head.pointee.transferEncoding = value.map(text) ?? "" }
                } else if strcasecmp(key, "Authorization") == 0 {
                    head.pointee.authorizationHeaders += 1
                    if head.pointee.authorization == nil { head.pointee.authorization = value.map(text) ?? "" }
                }
                return .YES
            }, pointer)
        }
        return head
    }

    private func queryArguments(of connection: OpaquePointer) -> [(name: String, value: String)] {
        var arguments: [(name: String, value: String)] = []
        withUnsafeMutablePointer(to: &arguments) { pointer in
            _ = MHD_get_connection_values(connection, .GET_ARGUMENT_KIND, { context, _, key, value in
                guard let context, let key else { return .YES }
                let arguments = context.assumingMemoryBound(to: [(name: String, value: String)].self)
                arguments.pointee.append((text(key), value.map(text) ?? ""))
                return .YES
            }, pointer)
        }
        return arguments
    }
}

/// A C string from libmicrohttpd as a string (invalid UTF-8 repaired, as `String(cString:)`
/// does), decoded straight from its bytes: `String(cString:)` copied them to an array first.
private func text(_ pointer: UnsafePointer<CChar>) -> String {
    let count = strlen(pointer)
    return pointer.withMemoryRebound(to: UInt8.self, capacity: count) { bytes in
        String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }
}

/// A response body lent to libmicrohttpd, released when it frees the response.
private final class LentBody {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

private func releaseLentBody(_ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    Unmanaged<LentBody>.fromOpaque(context).release()
}

/// libmicrohttpd's access handler: called after the headers, once per body chunk, and once
/// more at the end (and again after a resume).
private func daemonAccessHandler(
    _ context: UnsafeMutableRawPointer?, _ connection: OpaquePointer?, _ url: UnsafePointer<CChar>?,
    _ method: UnsafePointer<CChar>?, _ version: UnsafePointer<CChar>?, _ uploadData: UnsafePointer<CChar>?,
    _ uploadDataSize: UnsafeMutablePointer<Int>?, _ requestContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> MHD_Result {
    guard let context, let connection, let url, let method, let uploadDataSize, let requestContext else {
        return .NO
    }
    let daemon = Unmanaged<Daemon>.fromOpaque(context).takeUnretainedValue()
    return daemon.handle(
        connection: connection, url: url, method: method,
        uploadData: uploadData, uploadDataSize: uploadDataSize, context: requestContext)
}

/// libmicrohttpd's connection notice: opened (its fd gets deadlines) and closed.
private func daemonConnectionNotified(
    _ context: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
    _ socketContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ event: MHD_ConnectionNotificationCode
) {
    guard let context, let connection, let socketContext else { return }
    let daemon = Unmanaged<Daemon>.fromOpaque(context).takeUnretainedValue()
    switch event {
    case .CONNECTION_NOTIFY_STARTED: daemon.connectionOpened(connection, context: socketContext)
    case .CONNECTION_NOTIFY_CLOSED: daemon.connectionClosed(context: socketContext)
    default: break
    }
}

/// libmicrohttpd's completion notice: the request's exchange is released exactly once, here.
private func daemonRequestCompleted(
    _ context: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
    _ requestContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ code: MHD_RequestTerminationCode
) {
    guard let context else { return }
    Unmanaged<Daemon>.fromOpaque(context).takeUnretainedValue().completed(context: requestContext, code: code)
}
