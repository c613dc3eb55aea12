internal import COpenSSL
internal import OffloadSim

/// One engine thread's fetched ciphers and MAC; frees them with the thread.
final class CipherSet {
    private let ciphers: [Algorithm: OpaquePointer]
    /// HMAC (EVP_MAC), for the MAC algorithms.
    let mac: OpaquePointer?

    init(ciphers: [Algorithm: OpaquePointer], mac: OpaquePointer?) {
        self.ciphers = ciphers
        self.mac = mac
    }

    deinit {
        ciphers.values.forEach { EVP_CIPHER_free($0) }
        if let mac { EVP_MAC_free(mac) }
    }

    /// The cipher (EVP_CIPHER) or, for a MAC algorithm, the MAC (EVP_MAC) a job uses.
    subscript(algorithm: Algorithm) -> OpaquePointer? { algorithm.isMAC ? mac : ciphers[algorithm] }
}
