import Foundation

/// Where a job is in its life.
public enum JobStatus: String, Sendable, CaseIterable {
    case queued, running, completed, failed

    public var isFinished: Bool { self == .completed || self == .failed }
}
