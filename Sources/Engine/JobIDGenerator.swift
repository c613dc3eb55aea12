internal import COpenSSL
import Foundation
import Synchronization

/// Random (version 4) UUIDs for job ids, from OpenSSL's DRBG in batches: Foundation's UUID()
/// makes a getrandom system call per id, and a DRBG call per id costs as much again. An id
/// names the job store's shard that holds it in its last byte (modulo the number of shards).
final class JobIDGenerator: Sendable {
    private static let batchSize = 4096
    private let pool = Mutex<(bytes: [UInt8], next: Int)>(([], 0))

    /// A new id whose last byte is `shard` modulo `count` (`count` at most 256).
    func next(shard: Int, of count: Int) -> UUID {
        var uuid = randomUUID()
        // The random byte's block of `count` values, at the shard's place in it (the block
        // below when that passes 255).
        var last = Int(uuid.15) / count * count + shard
        if last > 255 { last -= count }
        uuid.15 = UInt8(last)
        return UUID(uuid: uuid)
    }

    private func randomUUID() -> uuid_t {
        pool.withLock { pool in
            if pool.next + 16 > pool.bytes.count {
                // Refilled in place (its used bytes are zero): a new 4 KiB array per batch made
                // malloc consolidate its free lists each time (a request of that size does).
                if pool.bytes.count != Self.batchSize { pool.bytes = [UInt8](repeating: 0, count: Self.batchSize) }
                let refilled = pool.bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) == 1 }
                guard refilled else {
                    // The DRBG failed: fall back to the system's generator, never to reused bytes.
                    pool.bytes.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
                    pool.next = pool.bytes.count
                    return UUID().uuid
                }
                pool.next = 0
            }
            var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            let next = pool.next
            withUnsafeMutableBytes(of: &uuid) { target in
                pool.bytes.withUnsafeMutableBufferPointer { source in
                    let start = source.baseAddress! + next
                    target.copyMemory(from: UnsafeRawBufferPointer(start: start, count: 16))
                    // Used bytes are wiped so that a later reader of this memory learns nothing of past ids.
                    start.update(repeating: 0, count: 16)
                }
            }
            pool.next += 16
            uuid.6 = uuid.6 & 0x0f | 0x40
            uuid.8 = uuid.8 & 0x3f | 0x80
            return uuid
        }
    }
}
