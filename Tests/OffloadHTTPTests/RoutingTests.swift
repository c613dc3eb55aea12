import Foundation
import Testing
@testable import OffloadHTTP

@Suite struct Routing {
    @Test(arguments: ["/index.html", "/page/", "/encrypt/", "/jobs/", "/job", "/jobs/\(UUID())/extra"])
    func anUnknownPathGets404(path: String) async throws {
        try await withServer { server in
            let reply = try await server.get(path)
            #expect(reply.status == 404)
            #expect(reply.errorCode == "not_found")
        }
    }

    @Test(arguments: [
        ("GET", "/encrypt", "POST, OPTIONS"),
        ("PUT", "/encrypt", "POST, OPTIONS"),
        ("POST", "/jobs", "GET, HEAD, OPTIONS"),
        ("DELETE", "/jobs/\(UUID())", "GET, HEAD, OPTIONS"),
    ])
    func aWrongMethodGets405WithAllow(method: String, path: String, allow: String) async throws {
        try await withServer { server in
            let reply = try await server.request(method, path, body: method == "GET" ? nil : Data("x".utf8))
            #expect(reply.status == 405)
            #expect(reply.headers["allow"] == allow)
            #expect(reply.errorCode == "method_not_allowed")
        }
    }

    @Test func headAnswersLikeGetWithoutABody() async throws {
        try await withServer { server in
            let reply = try await server.request("HEAD", "/jobs")
            #expect(reply.status == 200)
            #expect(reply.body.isEmpty)
        }
    }
}
