import Foundation
import TestSupport
import Testing
@testable import Engine

@Suite struct Retention {
    @Test func theStoreKeepsOutputsWithinItsByteBoundOldestFirst() async throws {
        var settings = configuration(latency: .zero)
        settings.retainedOutputBytes = 10
        try await withEngine(settings) { engine in
            var ids: [UUID] = []
            for index in 0..<5 { ids.append(await engine.run(JobRequest(input: [UInt8](repeating: UInt8(index), count: 4))).id) }
            #expect(engine.store.retainedBytes == 8, "two outputs of four bytes fit in ten")
            #expect(engine.store.job(ids[2]) == nil && engine.store.job(ids[4])?.output?.count == 4)
            #expect(engine.store.counts.completed == 2)
            #expect(engine.store.finishedTotals.completed == 5)
        }
    }
}
