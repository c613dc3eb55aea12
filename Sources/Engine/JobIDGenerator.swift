internal import COpenSSL
import Foundation
import Synchronization

/// Random (version 4) UUIDs for job ids, from OpenSSL's DRBG in batches: Foundation's UUID()
/// makes a getrandom system call per id, and a DRBG call per id costs as much again.
final class JobIDGenerator: Sendable {
    private static let batchSize = 4096
    private let pool = Mutex<(bytes: [UInt8], next: Int)>(([], 0))

    func next() -> UUID {
        pool.withLock { pool in
            if pool.next + 16 > pool.bytes.count {
                var fresh = [UInt8](repeating: 0, count: Self.batchSize)
                guard RAND_bytes(&fresh, Int32(Self.batchSize)) == 1 else {
                    // The DRBG failed: fall back to the system's generator, never to reused bytes.
                    pool = ([], 0)
                    return UUID()
                }
                pool = (fresh, 0)
            }
            var bytes = pool.bytes[pool.next..<pool.next + 16].map { $0 }
            // Used bytes are wiped so that a later reader of this memory learns nothing of past ids.
            for index in pool.next..<pool.next + 16 { pool.bytes[index] = 0 }
            pool.next += 16
            bytes[6] = bytes[6] & 0x0f | 0x40
            bytes[8] = bytes[8] & 0x3f | 0x80
            return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                               bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        }
    }
}
