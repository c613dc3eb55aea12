import Foundation
@testable import OffloadHTTP
import Testing

/// What a request's head must pass before its body is read, in process: no socket.
@Suite struct HeadAdmissions {
    static let tokens = try! AccessTokens.parse("""
        alice:alice-token-0123456789
        prometheus:scrape-token-0123456789:metrics
        """, source: "test")
    static let open = HeadAdmission(maxHeaderBytes: 8192, maxBodyBytes: 1024, maxQueryArguments: 64, accessTokens: nil)
    static let guarded = HeadAdmission(maxHeaderBytes: 8192, maxBodyBytes: 1024, maxQueryArguments: 64, accessTokens: tokens)

    static func refusal(_ admission: HeadAdmission, _ head: RequestHead, to route: Router.Route? = .encrypt) -> APIError? {
        do {
            _ = try admission.admit(head, to: route)
            return nil
        } catch {
            return error
        }
    }

    @Test func framingThatProxiesCouldReadDifferentlyIsRefused() {
        var twoLengths = RequestHead()
        twoLengths.contentLengthHeaders = 2
        #expect(Self.refusal(Self.open, twoLengths)?.code == .ambiguousFraming)
        var lengthAndChunked = RequestHead()
        lengthAndChunked.contentLengthHeaders = 1
        lengthAndChunked.transferEncodingHeaders = 1
        lengthAndChunked.transferEncoding = "chunked"
        #expect(Self.refusal(Self.open, lengthAndChunked)?.code == .ambiguousFraming)
        var gzip = RequestHead()
        gzip.transferEncodingHeaders = 1
        gzip.transferEncoding = "gzip, chunked"
        #expect(Self.refusal(Self.open, gzip)?.code == .unsupportedTransferEncoding)
        #expect(Self.refusal(Self.open, gzip)?.response.status == 501)
        var chunked = RequestHead()
        chunked.transferEncodingHeaders = 1
        chunked.transferEncoding = " Chunked"
        #expect(Self.refusal(Self.open, chunked) == nil)
    }

    @Test func sizesAreCheckedBeforeTheBodyIsRead() {
        var bigHead = RequestHead()
        bigHead.headerBytes = 8193
        #expect(Self.refusal(Self.open, bigHead)?.response.status == 431)
        var bigBody = RequestHead()
        bigBody.contentLengthHeaders = 1
        bigBody.declaredLength = 1025
        #expect(Self.refusal(Self.open, bigBody)?.response.status == 413)
        bigBody.declaredLength = 1024
        #expect(Self.refusal(Self.open, bigBody) == nil)
    }

    @Test func tokensNameThePrincipalOrAreAnsweredWithAChallenge() throws {
        var head = RequestHead()
        let missing = try #require(Self.refusal(Self.guarded, head))
        #expect(missing.response.status == 401)
        #expect(missing.response.headers.contains { $0 == ("WWW-Authenticate", #"Bearer realm="offload-http""#) })
        head.authorization = "Bearer wrong-token-0123456789"
        head.authorizationHeaders = 1
        let wrong = try #require(Self.refusal(Self.guarded, head))
        #expect(wrong.response.headers.contains { $0.name == "WWW-Authenticate" && $0.value.contains("invalid_token") })
        head.authorization = "Bearer alice-token-0123456789"
        #expect(try Self.guarded.admit(head, to: .encrypt)?.name == "alice")
        head.authorizationHeaders = 2
        #expect(Self.refusal(Self.guarded, head)?.code == .ambiguousAuthorization)
        // Probes carry no token.
        #expect(try Self.guarded.admit(RequestHead(), to: .healthz) == nil)
    }

    @Test func aMetricsTokenReachesMetricsOnly() throws {
        var head = RequestHead()
        head.authorization = "Bearer scrape-token-0123456789"
        head.authorizationHeaders = 1
        #expect(try Self.guarded.admit(head, to: .metrics)?.role == .metrics)
        #expect(Self.refusal(Self.guarded, head, to: .jobs)?.response.status == 403)
    }
}
