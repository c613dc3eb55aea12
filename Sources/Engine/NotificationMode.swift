import Foundation

/// How the provider tells the engine an operation is done.
public enum NotificationMode: String, Sendable, CaseIterable {
    /// The provider registers an fd per wait context, watched with epoll (as QAT and
    /// OpenSSL's dasync engine do).
    case fd
    /// OpenSSL 3.0's wait-context callback (the default): the provider queues the job for
    /// resumption, on the loop's own thread without a lock or a wake-up, with no fd per job. A
    /// provider that does not use the callback registers its fd as in `fd` mode, and the
    /// engine watches it all the same.
    case callback
}
