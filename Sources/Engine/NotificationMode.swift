import Foundation

/// How the provider tells the engine an operation is done.
public enum NotificationMode: String, Sendable, CaseIterable {
    /// The provider registers an fd per wait context, watched with epoll (as QAT and
    /// OpenSSL's dasync engine do).
    case fd
    /// OpenSSL 3.0's wait-context callback: the provider queues the job for resumption and
    /// wakes its engine once, with no fd per job.
    case callback
}
