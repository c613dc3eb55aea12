import Foundation
import Synchronization

/// How many retained jobs are in each status.
public struct JobCounts: Sendable, Equatable {
    public init() {}

    public var queued = 0
    public var running = 0
    public var completed = 0
    public var failed = 0

    public subscript(status: JobStatus) -> Int {
        get {
            switch status {
            case .queued: queued
            case .running: running
            case .completed: completed
            case .failed: failed
            }
        }
        set {
            switch status {
            case .queued: queued = newValue
            case .running: running = newValue
            case .completed: completed = newValue
            case .failed: failed = newValue
            }
        }
    }

    /// Adds `other`'s counts to these.
    public mutating func add(_ other: JobCounts) {
        queued += other.queued
        running += other.running
        completed += other.completed
        failed += other.failed
    }
}
