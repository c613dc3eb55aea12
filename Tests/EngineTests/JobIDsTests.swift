import Foundation
import Testing
@testable import Engine

/// Job ids: random version 4 UUIDs from the DRBG, never repeated.
@Suite struct JobIDs {
    @Test func idsAreDistinctVersionFourUUIDs() {
        let generator = JobIDGenerator()
        let ids = (0..<10_000).map { _ in generator.next() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.uuid.6 >> 4 == 4 && $0.uuid.8 >> 6 == 0b10 })
    }
}
