import Engine
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
@testable import OffloadHTTP

/// An HTTP answer as a client sees it.
struct Reply: @unchecked Sendable {
    // @unchecked: `json` holds Foundation property-list values, read-only after parsing.
    let status: Int
    /// Header names in lowercase.
    let headers: [String: String]
    let body: Data
    let json: [String: Any]

    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    var errorMessage: String? { (json["error"] as? [String: Any])?["message"] as? String }
}

/// A real server on 127.0.0.1 with a free port, and a real HTTP client for it.
final class TestServer: Sendable {
    let server: OffloadServer
    let session: URLSession

    init(_ configure: (inout ServerConfiguration) -> Void) throws {
        var configuration = ServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.engine.threads = 2
        configuration.engine.device.latency = .milliseconds(2)
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        server = try OffloadServer.start(configuration, logger: logger)
        let sessionConfiguration = URLSessionConfiguration.ephemeral
        sessionConfiguration.httpMaximumConnectionsPerHost = 64
        sessionConfiguration.timeoutIntervalForRequest = 30
        session = URLSession(configuration: sessionConfiguration)
    }

    var port: Int { server.port }

    func request(
        _ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]
    ) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.httpBody = body
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            headers[String(describing: name).lowercased()] = String(describing: value)
        }
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return Reply(status: http.statusCode, headers: headers, body: data, json: json)
    }

    func post(_ path: String, _ text: String, contentType: String = "application/octet-stream") async throws -> Reply {
        try await request("POST", path, body: Data(text.utf8), headers: ["Content-Type": contentType])
    }

    func postJSON(_ path: String, _ object: [String: Any]) async throws -> Reply {
        try await request(
            "POST", path, body: try JSONSerialization.data(withJSONObject: object),
            headers: ["Content-Type": "application/json"])
    }

    func get(_ path: String) async throws -> Reply {
        try await request("GET", path)
    }

    func stop() {
        session.invalidateAndCancel()
        server.shutdown(timeout: .seconds(10))
    }
}

/// Runs `body` against a fresh server and stops the server afterwards, even when `body` throws.
func withServer<T>(
    _ configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (TestServer) async throws -> T
) async throws -> T {
    let server = try TestServer(configure)
    do {
        let result = try await body(server)
        server.stop()
        return result
    } catch {
        server.stop()
        throw error
    }
}

/// A blocking TCP connection to 127.0.0.1, for requests no well-behaved client makes.
final class RawConnection {
    let fd: Int32

    /// `receiveBuffer`: the socket's receive buffer in bytes, set before it connects (so its
    /// window stays that small), or the system's default.
    init(port: Int, timeout: Duration = .seconds(30), receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        if var bytes = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        var receiveTimeout = timeval(
            tv_sec: Int(timeout.components.seconds),
            tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends everything; stops quietly if the server closes first (it may answer early).
    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return }
            sent += written
        }
    }

    /// Everything the server sends until it closes the connection or the timeout passes.
    func receiveAll() -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: received, as: UTF8.self)
    }
}

/// Sends raw bytes on a new connection and returns everything the server sent back until it
/// closed the connection or `timeout` passed. With `closeAfterSending`, it closes at once and
/// returns nothing: a client that goes away.
func rawExchange(
    port: Int, _ bytes: [UInt8], timeout: Duration = .seconds(5), closeAfterSending: Bool = false
) throws -> String {
    let connection = try RawConnection(port: port, timeout: timeout)
    try connection.send(bytes)
    return closeAfterSending ? "" : connection.receiveAll()
}

/// Waits until `condition` holds, instead of sleeping for a time a loaded machine may not
/// honour; false if it did not within `timeout`.
func eventually(within timeout: Duration = .seconds(5), _ condition: () -> Bool) async throws -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while !condition() {
        if clock.now >= deadline { return false }
        try await Task.sleep(for: .milliseconds(10))
    }
    return true
}
