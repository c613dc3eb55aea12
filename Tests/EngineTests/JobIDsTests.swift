import Foundation
import Testing
@testable import Engine

/// Job ids: random version 4 UUIDs from the DRBG, never repeated, naming their store shard.
@Suite struct JobIDs {
    @Test func idsAreDistinctVersionFourUUIDs() {
        let generator = JobIDGenerator()
        let ids = (0..<10_000).map { _ in generator.next(shard: 0, of: 1) }
        #expect(Set(ids).count == ids.count)
        #expect(ids.allSatisfy { $0.uuid.6 >> 4 == 4 && $0.uuid.8 >> 6 == 0b10 })
        #expect(Set(ids.map(\.uuid.15)).count > 200, "with one shard the last byte stays random")
    }

    @Test func theLastByteNamesTheShardAndStaysOtherwiseRandom() {
        let generator = JobIDGenerator()
        for count in [2, 3, 7, 200, 256] {
            let shard = count - 1
            let ids = (0..<2_000).map { _ in generator.next(shard: shard, of: count) }
            #expect(ids.allSatisfy { Int($0.uuid.15) % count == shard }, "\(count) shards")
            #expect(Set(ids.map(\.uuid.15)).count == (256 - shard + count - 1) / count, "\(count) shards")
        }
    }
}
