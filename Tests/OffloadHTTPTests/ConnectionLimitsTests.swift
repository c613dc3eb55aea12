import Foundation
import TestSupport
import Testing
@testable import OffloadHTTP

@Suite struct ConnectionLimits {
    @Test func connectionsBeyondThePerIPLimitAreClosedAtOnce() async throws {
        try await withServer({ $0.perIPConnectionLimit = 2 }) { server in
            let held = try (0..<2).map { _ in try RawConnection(port: server.port) }
            // Let the daemon accept the two before the third arrives.
            try await Task.sleep(for: .milliseconds(100))
            let clock = ContinuousClock()
            let start = clock.now
            let refused = try rawExchange(
                port: server.port, Array("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            #expect(refused.isEmpty, "the third connection got: \(refused.prefix(40))")
            #expect(clock.now - start < .seconds(2), "it was closed, not left waiting")
            _ = held.count
        }
    }

    /// The limits count every loop's connections together, as one daemon's would not.
    @Test func theLimitsCountConnectionsOverAllLoopsAndFreeTheirPlaceOnClose() {
        let admission = ConnectionAdmission(limit: 3, perAddressLimit: 2)
        let alice: [UInt8] = [127, 0, 0, 1], bob: [UInt8] = [127, 0, 0, 2]
        #expect(admission.admit(1, from: alice) && admission.admit(2, from: alice))
        #expect(!admission.admit(3, from: alice), "a third from one address")
        #expect(admission.admit(4, from: bob))
        #expect(!admission.admit(5, from: bob), "a fourth in all")
        admission.closed(3)  // refused ones were never counted
        #expect(!admission.admit(6, from: bob))
        admission.closed(1)
        #expect(admission.admit(7, from: alice), "a closed connection frees its place")
        let unlimited = ConnectionAdmission(limit: 2, perAddressLimit: 0)
        #expect(unlimited.admit(1, from: alice) && unlimited.admit(2, from: alice) && !unlimited.admit(3, from: bob))
    }
}
