import Foundation
import Testing
@testable import Engine

@Suite(.enabled(if: FibreStackGauge.isSupported, "AddressSanitizer moves and poisons stack memory"))
struct FibreStack {
    @Test func theJobFunctionUsesFarLessThanTheFibresThirtyTwoKiB() async throws {
        let deepest = try await withEngine(configuration(latency: .milliseconds(1), measuresFibreStack: true)) { engine in
            let records = await engine.runAll((0..<20).map { _ in JobRequest(input: Array(repeating: 9, count: 4096)) })
            #expect(records.allSatisfy { $0.status == .completed })
            _ = await engine.run(JobRequest(input: []))  // the error path too
            // The AEADs go deeper: the provider runs OpenSSL's own AES-GCM and ChaCha20-Poly1305.
            let key = try CipherKey(name: "gauge", bytes: Array(repeating: 5, count: 32))
            for algorithm in [Algorithm.aes256GCM, .chacha20Poly1305] {
                let sealed = await engine.run(JobRequest(
                    algorithm: algorithm, input: Array(repeating: 1, count: 4096), key: key, aad: [1, 2, 3]))
                let opened = await engine.run(JobRequest(
                    operation: .decrypt, algorithm: algorithm, input: try #require(sealed.output), key: key, aad: [1, 2, 3]))
                #expect(opened.status == .completed)
            }
            return try #require(engine.deepestFibreStackBytes)
        }
        // Signatures and MACs run OpenSSL's big-number and curve code on the fibre.
        let signing = try await withEngine(configuration(latency: .milliseconds(1), measuresFibreStack: true)) { engine in
            for algorithm in [Algorithm.ecdsaP256, .ed25519] {
                let pair = try CipherKey.generatedPair(algorithm, name: "gauge", version: 1)
                let signed = await engine.run(JobRequest(operation: .sign, algorithm: algorithm, input: [1, 2, 3], key: pair))
                #expect(signed.status == .completed)
                var check = JobRequest(operation: .verify, algorithm: algorithm, input: [1, 2, 3], key: pair)
                check.expected = try #require(signed.output)
                #expect(await engine.run(check).output == [1])
            }
            let mac = await engine.run(JobRequest(
                operation: .hmac, algorithm: .hmacSHA256, input: [1, 2, 3], key: try CipherKey(name: "m", bytes: Array(repeating: 2, count: 32))))
            #expect(mac.output?.count == 32)
            return try #require(engine.deepestFibreStackBytes)
        }
        print("deepest fibre stack use signing: \(signing) bytes")
        #expect(signing < 16 * 1024, "signing used \(signing) bytes of the fibre's 32 KiB")
        // The gauge cannot see less than its unpainted gap; anything measured must be real.
        #expect(deepest >= FibreStackGauge.unpaintedGap)
        print("deepest fibre stack use: \(deepest) bytes")
        #expect(deepest < 8 * 1024, "the deepest fibre stack use was \(deepest) bytes")
    }

    @Test func theGaugeSeesDeepStackUse() {
        // On this thread's ordinary stack: painted, then used about 12 KiB deep.
        let gauge = FibreStackGauge()
        let top = gauge.paint()
        #expect(useStack(depth: 12) > 0)
        gauge.measure(paintedTop: top)
        #expect(gauge.deepestBytes >= 12 * 1024)
    }
}

/// Recurses `depth` times through 1 KiB frames.
@inline(never)
func useStack(depth: Int) -> Int {
    var frame = [UInt8](repeating: 0, count: 1)
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer in
        for index in buffer.indices { buffer[index] = UInt8(truncatingIfNeeded: index &+ depth) }
        frame[0] = buffer[depth % 1024]
        return depth == 0 ? Int(frame[0]) + 1 : useStack(depth: depth - 1) + Int(buffer[7] & 1)
    }
}
