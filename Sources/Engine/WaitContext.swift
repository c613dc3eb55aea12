internal import CCipherJob
internal import COpenSSL
internal import OffloadSim
import Foundation
import Glibc

/// An `ASYNC_WAIT_CTX`. One engine thread owns it and reuses it for job after job: a provider
/// keeps its notification fd registered for the context's whole life (as QAT and offloadsim
/// do), so the engine watches the context's fds under the context's `id`, not the job's.
final class WaitContext {
    let handle: OpaquePointer
    /// The epoll token of this context's fds.
    let id: UInt64
    /// The job using the context now.
    var jobToken: UInt64?
    /// Whether the context's fds are in the engine's epoll set.
    var fdsWatched = true
    /// The callback's argument (callback mode), kept alive as long as the context.
    private var ticket: ResumeTicket?

    init(id: UInt64) throws {
        guard let handle = ASYNC_WAIT_CTX_new() else {
            throw EngineError(code: .engineError, message: "ASYNC_WAIT_CTX_new failed: \(openSSLErrors())")
        }
        self.handle = handle
        self.id = id
    }

    /// Frees the context; the provider's cleanup closes its fds.
    deinit { ASYNC_WAIT_CTX_free(handle) }

    /// The fds added to and removed from the context since the job last started or resumed.
    func changedFDs() -> (added: [Int32], removed: [Int32]) {
        var addedCount = 0
        var removedCount = 0
        guard ASYNC_WAIT_CTX_get_changed_fds(handle, nil, &addedCount, nil, &removedCount) == 1,
              addedCount + removedCount > 0 else {
            return ([], [])
        }
        var added = [Int32](repeating: -1, count: addedCount)
        var removed = [Int32](repeating: -1, count: removedCount)
        guard ASYNC_WAIT_CTX_get_changed_fds(handle, &added, &addedCount, &removed, &removedCount) == 1 else {
            return ([], [])
        }
        return (added, removed)
    }

    /// Every fd the context holds.
    func allFDs() -> [Int32] {
        var count = 0
        guard ASYNC_WAIT_CTX_get_all_fds(handle, nil, &count) == 1, count > 0 else { return [] }
        var fds = [Int32](repeating: -1, count: count)
        guard ASYNC_WAIT_CTX_get_all_fds(handle, &fds, &count) == 1 else { return [] }
        return fds
    }

    /// Callback mode, set once for the context's life: the provider calls `ticket` through
    /// OpenSSL's wait-context callback. A context without one is in fd mode (the provider
    /// registers an fd).
    func setCallback(_ ticket: ResumeTicket) {
        self.ticket = ticket
        _ = ASYNC_WAIT_CTX_set_callback(handle, resumeTicketCallback, Unmanaged.passUnretained(ticket).toOpaque())
    }

    /// Asks the built-in provider to fail the operation this context's job waits for when the
    /// job is next resumed on this thread (or, with nil, withdraws the request).
    static func failPendingOperation(of context: WaitContext?) {
        offloadsim_fail_pending(context?.handle)
    }
}
