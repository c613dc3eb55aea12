internal import COpenSSL

/// OpenSSL's state of a thread that used it (its random generators, its error queue).
public enum CryptoThread {
    /// Frees the calling thread's OpenSSL state now, before the thread ends. OpenSSL would free
    /// it from the thread's exit handler, but a process that exits while that handler runs
    /// loses it half-freed (LeakSanitizer saw it): a thread that ends while the process is
    /// stopping calls this first.
    public static func release() {
        OPENSSL_thread_stop()
    }
}
