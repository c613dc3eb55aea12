import Engine
import Foundation
import Glibc
import Logging
import Store

/// A configuration or start-up problem, said so a person can fix it.
public struct ServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
