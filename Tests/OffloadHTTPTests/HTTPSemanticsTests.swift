import Foundation
import Testing
@testable import OffloadHTTP

/// What caches, proxies and generic HTTP clients rely on (RFC 9110, 9111).
@Suite struct HTTPSemantics {
    @Test func everyAnswerWithJobDataKeysHealthOrMetricsForbidsCaching() async throws {
        try await withServer { server in
            let job = try await server.post("/encrypt", "ASYNC-OK")
            let id = try #require(job.json["id"] as? String)
            let replies = [
                job, try await server.get("/jobs"), try await server.get("/jobs/\(id)"), try await server.get("/keys"),
                try await server.get("/healthz"), try await server.get("/readyz"), try await server.get("/metrics"),
                try await server.get("/nowhere"), try await server.request("DELETE", "/jobs"),
                try await server.post("/encrypt", ""),
            ]
            for reply in replies {
                #expect(reply.headers["cache-control"] == "no-store", "\(reply.status) \(reply.headers)")
            }
            for reply in replies where reply.headers["content-type"]?.hasPrefix("application/json") == true {
                // application/json defines no charset parameter (RFC 8259).
                #expect(reply.headers["content-type"] == "application/json")
            }
        }
    }

    @Test func theOpenAPIDocumentIsCacheableWithAValidator() async throws {
        try await withServer { server in
            let first = try await server.get("/openapi.yaml")
            #expect(first.status == 200)
            #expect(first.headers["content-type"] == "application/yaml")
            #expect(first.headers["cache-control"] == "no-cache")
            let etag = try #require(first.headers["etag"])
            #expect(etag.hasPrefix("\"") && etag.hasSuffix("\""))
            for condition in [etag, "W/\(etag)", "\"other\", \(etag)", "*"] {
                let revalidated = try rawExchange(
                    port: server.port,
                    Array("GET /openapi.yaml HTTP/1.1\r\nHost: x\r\nIf-None-Match: \(condition)\r\nConnection: close\r\n\r\n".utf8))
                #expect(revalidated.hasPrefix("HTTP/1.1 304"), "\(condition): \(revalidated.prefix(80))")
                #expect(revalidated.contains("ETag: \(etag)"))
                #expect(revalidated.hasSuffix("\r\n\r\n"), "no body after 304")
            }
            let changed = try await server.request("GET", "/openapi.yaml", headers: ["If-None-Match": "\"stale\""])
            #expect(changed.status == 200)
            #expect(changed.body == first.body)
        }
    }

    @Test func optionsAnswersOnEveryRouteWithAllow() async throws {
        try await withServer { server in
            for route in Router.Route.all {
                let path = route.template.replacingOccurrences(of: "{id}", with: UUID().uuidString)
                    .replacingOccurrences(of: "{file}", with: "app.js")
                let reply = try await server.request("OPTIONS", path)
                #expect(reply.status == 204, "\(path)")
                #expect(reply.headers["allow"] == route.methods.joined(separator: ", "), "\(path)")
                #expect(reply.body.isEmpty)
            }
            let wildcard = try rawExchange(
                port: server.port, Array("OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            #expect(wildcard.hasPrefix("HTTP/1.1 204"))
            #expect(wildcard.contains("Allow: GET, HEAD, POST, PATCH, DELETE, OPTIONS"))
            let refused = try await server.request("PUT", "/encrypt")
            #expect(refused.status == 405)
            #expect(refused.headers["allow"] == "POST, OPTIONS")
        }
    }

    @Test func headAnswersWhereverGetDoesWithTheSameHeadersAndNoBody() async throws {
        try await withServer { server in
            let job = try await server.post("/encrypt", "ASYNC-OK")
            let id = try #require(job.json["id"] as? String)
            for path in ["/jobs", "/jobs/\(id)", "/keys", "/healthz", "/readyz", "/openapi.yaml", "/jobs/\(UUID())"] {
                let get = try rawExchange(
                    port: server.port, Array("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
                let head = try rawExchange(
                    port: server.port, Array("HEAD \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
                func parts(_ raw: String) -> (status: Substring, headers: [String: String], body: String) {
                    let split = raw.components(separatedBy: "\r\n\r\n")
                    let lines = split[0].split(separator: "\r\n")
                    var headers: [String: String] = [:]
                    for line in lines.dropFirst() {
                        let pair = line.split(separator: ":", maxSplits: 1)
                        headers[pair[0].lowercased()] = pair.count > 1 ? pair[1].trimmingCharacters(in: .whitespaces) : ""
                    }
                    headers["date"] = nil
                    return (lines[0], headers, split.dropFirst().joined(separator: "\r\n\r\n"))
                }
                let (getStatus, getHeaders, getBody) = parts(get)
                let (headStatus, headHeaders, headBody) = parts(head)
                #expect(headStatus == getStatus, "\(path)")
                #expect(headHeaders["content-type"] == getHeaders["content-type"], "\(path)")
                #expect(headHeaders["cache-control"] == getHeaders["cache-control"], "\(path)")
                #expect(!getBody.isEmpty, "\(path)")
                #expect(headBody.isEmpty, "\(path): HEAD sent \(headBody.count) bytes of body")
            }
        }
    }

    @Test func a202PointsAtItsStatusMonitorAndSaysWhenToPoll() async throws {
        try await withServer { server in
            let accepted = try await server.request(
                "POST", "/encrypt", body: Data("ASYNC-OK".utf8), headers: ["Prefer": "respond-async"])
            #expect(accepted.status == 202)
            let id = try #require(accepted.json["id"] as? String)
            #expect(accepted.headers["content-location"] == "/jobs/\(id)")
            #expect(accepted.headers["location"] == "/jobs/\(id)")
            #expect(accepted.headers["retry-after"] == "1")
            #expect(accepted.headers["cache-control"] == "no-store")
        }
    }
}
