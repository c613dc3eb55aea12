/// A store that cannot be opened, read or written, said so a person can act on it. Messages
/// never carry a password.
public struct StoreError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    /// The connection to the store is gone (a server down or restarted): reconnect and retry.
    public let isConnectionLost: Bool

    public init(_ message: String, connectionLost: Bool = false) {
        self.message = message
        isConnectionLost = connectionLost
    }

    public var description: String { message }
}
