internal import CMicroHTTPD
import Engine
import Glibc
import Synchronization

/// One request in progress on a connection, from its headers to the end of its response.
///
/// `@unchecked Sendable`: every property but `finishedResponse` is touched only on
/// libmicrohttpd's thread, between the first access-handler call and the completion
/// notification. `finishedResponse` is written by an engine thread while the connection is
/// suspended and read on libmicrohttpd's thread after the resume; its lock orders the two.
final class Exchange: @unchecked Sendable {
    let connection: OpaquePointer
    var request: HTTPRequest
    var bodyTooLarge = false
    private let finishedResponse = Mutex<HTTPResponse?>(nil)

    init(connection: OpaquePointer, request: HTTPRequest) {
        self.connection = connection
        self.request = request
    }

    /// Stores the answer of a suspended request and wakes its connection. Any thread.
    func finish(with response: HTTPResponse) {
        finishedResponse.withLock { $0 = response }
        MHD_resume_connection(connection)
    }

    func takeFinishedResponse() -> HTTPResponse? {
        finishedResponse.withLock { response in
            defer { response = nil }
            return response
        }
    }
}

/// The libmicrohttpd daemon: one internal epoll thread, connections suspended while their
/// jobs run. Owns the C callbacks; everything HTTP-specific above it is in `Router`.
final class Daemon: Sendable {
    private let router: Router
    private let engine: Engine
    private let maxBodyBytes: Int
    private let draining = Atomic<Bool>(false)
    /// Requests begun and not yet completed (answered, or their connection closed).
    private let requestsInProgress = Atomic<Int>(0)
    private let handle = Mutex<DaemonHandle?>(nil)
    private let boundPort = Atomic<Int>(0)

    /// The C daemon pointer. `@unchecked Sendable`: only started and stopped under `handle`'s lock.
    private struct DaemonHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    init(configuration: ServerConfiguration, engine: Engine) throws {
        self.engine = engine
        self.router = Router(store: engine.store)
        self.maxBodyBytes = configuration.maxBodyBytes
        let address = try SocketAddress(host: configuration.host, port: configuration.port)
        var limits = CMicroHTTPD_limits()
        limits.connection_limit = UInt32(configuration.connectionLimit)
        limits.connection_timeout_seconds = UInt32(configuration.connectionTimeoutSeconds)
        limits.per_ip_connection_limit = 0
        limits.connection_memory_limit = 16 * 1024
        limits.thread_pool_size = 1
        limits.listen_backlog = 4096
        limits.ipv6 = address.isIPv6
        let context = Unmanaged.passUnretained(self).toOpaque()
        let started = address.withSockaddr { sockaddr in
            CMicroHTTPD_start_daemon(
                sockaddr, daemonAccessHandler, context, daemonRequestCompleted, context, limits)
        }
        guard let started else {
            throw ServerError(
                "Could not listen on \(configuration.host):\(configuration.port): "
                    + "the port may be in use or the address not local.")
        }
        handle.withLock { $0 = DaemonHandle(pointer: started) }
        boundPort.store(Int(CMicroHTTPD_bound_port(started)), ordering: .releasing)
    }

    /// The port the daemon listens on (the one picked when the configuration said 0).
    var port: Int { boundPort.load(ordering: .acquiring) }

    /// Stops accepting connections and answers further requests with 503.
    func beginDraining() {
        draining.store(true, ordering: .releasing)
        handle.withLock { handle in
            guard let handle else { return }
            let listener = MHD_quiesce_daemon(handle.pointer)
            if listener >= 0 { close(listener) }
        }
    }

    var activeRequests: Int { requestsInProgress.load(ordering: .acquiring) }

    /// Closes every connection and ends the daemon's thread. No connection may be suspended.
    func stop() {
        handle.withLock { handle in
            if let handle { MHD_stop_daemon(handle.pointer) }
            handle = nil
        }
    }

    fileprivate func handle(
        connection: OpaquePointer, url: String, method: String,
        uploadData: UnsafePointer<CChar>?, uploadDataSize: UnsafeMutablePointer<Int>,
        context: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    ) -> MHD_Result {
        guard let existing = context.pointee else {
            return begin(connection: connection, url: url, method: method, context: context)
        }
        let exchange = Unmanaged<Exchange>.fromOpaque(existing).takeUnretainedValue()
        if uploadDataSize.pointee > 0 {
            receiveBody(uploadData, count: uploadDataSize.pointee, into: exchange)
            uploadDataSize.pointee = 0
            return .YES
        }
        if let response = exchange.takeFinishedResponse() {
            return queue(response, on: connection)
        }
        if exchange.bodyTooLarge {
            return queue(APIError.payloadTooLarge(limit: maxBodyBytes).response, on: connection)
        }
        if draining.load(ordering: .acquiring) {
            return queue(drainingResponse, on: connection)
        }
        switch router.route(exchange.request) {
        case .respond(let response):
            return queue(response, on: connection)
        case .runJob(let jobRequest):
            // Suspend first, then submit: a job may finish, and resume the connection, at once.
            MHD_suspend_connection(connection)
            do {
                try engine.submit(jobRequest) { record in
                    exchange.finish(with: Router.response(for: record))
                }
            } catch let error as EngineError where error.code == "overloaded" {
                exchange.finish(with: APIError.unavailable(error.code, error.message).response)
            } catch {
                exchange.finish(with: drainingResponse)
            }
            return .YES
        }
    }

    private var drainingResponse: HTTPResponse {
        var response = APIError.unavailable(
            "shutting_down", "The service is shutting down; retry on another instance.").response
        response.headers.append(("Connection", "close"))
        return response
    }

    private func begin(
        connection: OpaquePointer, url: String, method: String,
        context: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    ) -> MHD_Result {
        let request = HTTPRequest(
            method: method, path: url, query: queryArguments(of: connection),
            contentType: header("Content-Type", of: connection), body: [])
        let exchange = Exchange(connection: connection, request: request)
        context.pointee = Unmanaged.passRetained(exchange).toOpaque()
        requestsInProgress.add(1, ordering: .relaxed)
        if let declared = header("Content-Length", of: connection).flatMap({ Int($0) }) {
            if declared > maxBodyBytes {
                // Answered before the body is read; libmicrohttpd then closes the connection.
                return queue(APIError.payloadTooLarge(limit: maxBodyBytes).response, on: connection)
            }
            exchange.request.body.reserveCapacity(declared)
        }
        return .YES
    }

    private func receiveBody(_ data: UnsafePointer<CChar>?, count: Int, into exchange: Exchange) {
        guard !exchange.bodyTooLarge, let data else { return }
        guard exchange.request.body.count + count <= maxBodyBytes else {
            exchange.bodyTooLarge = true
            exchange.request.body = []
            return
        }
        data.withMemoryRebound(to: UInt8.self, capacity: count) { bytes in
            exchange.request.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: count))
        }
    }

    fileprivate func completed(context: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) {
        guard let context, let existing = context.pointee else { return }
        context.pointee = nil
        Unmanaged<Exchange>.fromOpaque(existing).release()
        requestsInProgress.subtract(1, ordering: .releasing)
    }

    private func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
        let created = response.body.withUnsafeBytes { body in
            MHD_create_response_from_buffer(
                body.count, UnsafeMutableRawPointer(mutating: body.baseAddress), .RESPMEM_MUST_COPY)
        }
        guard let created else { return .NO }
        defer { MHD_destroy_response(created) }
        for (name, value) in response.headers {
            _ = MHD_add_response_header(created, name, value)
        }
        return MHD_queue_response(connection, UInt32(response.status), created)
    }

    private func header(_ name: String, of connection: OpaquePointer) -> String? {
        MHD_lookup_connection_value(connection, .HEADER_KIND, name).map { String(cString: $0) }
    }

    private func queryArguments(of connection: OpaquePointer) -> [(name: String, value: String)] {
        var arguments: [(name: String, value: String)] = []
        withUnsafeMutablePointer(to: &arguments) { pointer in
            _ = MHD_get_connection_values(connection, .GET_ARGUMENT_KIND, { context, _, key, value in
                guard let context, let key else { return .YES }
                let arguments = context.assumingMemoryBound(to: [(name: String, value: String)].self)
                arguments.pointee.append((String(cString: key), value.map { String(cString: $0) } ?? ""))
                return .YES
            }, pointer)
        }
        return arguments
    }
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
        connection: connection, url: String(cString: url), method: String(cString: method),
        uploadData: uploadData, uploadDataSize: uploadDataSize, context: requestContext)
}

/// libmicrohttpd's completion notice: the request's exchange is released exactly once, here.
private func daemonRequestCompleted(
    _ context: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
    _ requestContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ code: MHD_RequestTerminationCode
) {
    guard let context else { return }
    Unmanaged<Daemon>.fromOpaque(context).takeUnretainedValue().completed(context: requestContext)
}
