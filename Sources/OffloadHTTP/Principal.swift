import Foundation

/// Who sent a request: the name of the token it carried. Jobs belong to the principal that
/// created them; an admin sees every principal's jobs.
public struct Principal: Sendable, Equatable {
    /// What a principal may do.
    public enum Role: String, Sendable {
        /// Runs jobs and sees its own.
        case user
        /// Sees every principal's jobs, and creates and changes keys.
        case admin
        /// Reads `/metrics` only: a scraper's token, which can neither run jobs nor see them.
        case metrics
    }

    public let name: String
    public let role: Role
    public var isAdmin: Bool { role == .admin }

    public init(name: String, role: Role) {
        self.name = name
        self.role = role
    }
}
