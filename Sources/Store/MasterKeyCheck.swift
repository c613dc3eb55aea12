import Dispatch
import Engine
import Foundation
import Logging
import Synchronization

/// A value sealed under the master key when the store was made, and a test that opens it: a
/// wrong master key is caught at start, not by garbage keys later.
public struct MasterKeyCheck: Sendable {
    public let sealed: [UInt8]
    public let opens: @Sendable ([UInt8]) -> Bool

    public init(sealed: [UInt8], opens: @escaping @Sendable ([UInt8]) -> Bool) {
        self.sealed = sealed
        self.opens = opens
    }
}
