internal import COpenSSL
internal import OffloadSim

/// One engine thread's fetched ciphers and MAC; frees them with the thread.
final class CipherSet {
    /// By `Algorithm.position`: a job's cipher is found by index, not by a hashed lookup, once
    /// a job as it starts.
    private let ciphers: [OpaquePointer?]
    /// HMAC (EVP_MAC), for the MAC algorithms.
    let mac: OpaquePointer?

    init(ciphers: [Algorithm: OpaquePointer], mac: OpaquePointer?) {
        var byPosition = [OpaquePointer?](repeating: nil, count: Algorithm.allCases.count)
        for (algorithm, cipher) in ciphers { byPosition[Int(algorithm.position)] = cipher }
        self.ciphers = byPosition
        self.mac = mac
    }

    deinit {
        ciphers.forEach { EVP_CIPHER_free($0) }
        if let mac { EVP_MAC_free(mac) }
    }

    /// The cipher (EVP_CIPHER) or, for a MAC algorithm, the MAC (EVP_MAC) a job uses.
    subscript(algorithm: Algorithm) -> OpaquePointer? { algorithm.isMAC ? mac : ciphers[Int(algorithm.position)] }
}
