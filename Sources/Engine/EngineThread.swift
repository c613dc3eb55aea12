import Foundation
import Synchronization

/// A job on its way to an engine thread.
///
/// A class, immutable: it passes from the engine's queue to its job and to its completion,
/// and each of those copies of a struct retained every array, string and closure it holds
/// (18 retains and releases per copy, several copies per job); a reference is one.
final class EngineSubmission: Sendable {
    /// The job's record in the store.
    let entry: JobStore.Entry
    var id: UUID { entry.id }
    let request: JobRequest
    let submittedAt: UInt64
    let completion: @Sendable (JobRecord) -> Void

    init(entry: JobStore.Entry, request: JobRequest, submittedAt: UInt64, completion: @escaping @Sendable (JobRecord) -> Void) {
        self.entry = entry
        self.request = request
        self.submittedAt = submittedAt
        self.completion = completion
    }
}

/// Lets the provider (in callback mode) ask an engine thread to resume the job using a wait
/// context. Made once per wait context and kept by it, for job after job: it names the
/// context, and the engine resumes whichever job uses the context then (none: ignored).
final class ResumeTicket: Sendable {
    let waitContext: UInt64
    private let thread: EngineThread

    init(waitContext: UInt64, thread: EngineThread) {
        self.waitContext = waitContext
        self.thread = thread
    }

    func fire() { thread.resumeSoon(waitContext: waitContext) }
}

/// One engine thread: it owns an OpenSSL ASYNC job pool and an epoll set, starts and resumes
/// every one of its jobs itself (OpenSSL requires a paused job to resume on the thread that
/// started it), and wakes on an eventfd for new submissions and callbacks, and on the jobs'
/// wait fds.
final class EngineThread: Sendable {
    private struct Inbox {
        var submissions: [EngineSubmission] = []
        /// Wait contexts whose jobs the device asked to resume (callback mode).
        var ready: [UInt64] = []
        var stopping = false
        /// Monotonic time by which shutdown must be over; jobs still running then are failed.
        var stopDeadline = UInt64.max
        /// A guest to attach, and work to run on the loop's thread.
        var guest: (any EngineLoopGuest)?
        var tasks: [@Sendable () -> Void] = []
        var isEmpty: Bool { submissions.isEmpty && ready.isEmpty && guest == nil && tasks.isEmpty }
    }

    let index: Int
    /// Jobs submitted to this thread and not yet finished, for least-loaded placement.
    let load = Atomic<Int>(0)
    /// Job deadlines the loop holds, as of its last turn (read by tests: about the jobs in flight).
    let deadlinesHeld = Atomic<Int>(0)
    private let capacity: Int
    private let inbox = Mutex(Inbox())
    private let wakeUp: EventFD
    private let thread = Mutex<NativeThread?>(nil)
    /// The loop, for submissions made on its own thread (by its guest).
    private let loop: EngineLoop
    /// The loop's thread, to check that local submissions come from it.
    private let loopThreadID = Atomic<UInt>(0)

    init(index: Int, configuration: EngineConfiguration, store: JobStore, provider: CryptoProvider,
         device: SimulatedAccelerator?, diagnostics: EngineDiagnostics) throws {
        self.index = index
        capacity = configuration.maxJobsPerThread + configuration.maxQueuedJobsPerThread
        wakeUp = try EventFD()
        let loop = try EngineLoop(
            index: index, configuration: configuration, store: store, provider: provider, device: device,
            diagnostics: diagnostics)
        try loop.watch(wakeUp)
        self.loop = loop
        let started = DispatchSemaphore(value: 0)
        let startError = Mutex<EngineError?>(nil)
        let thread = try NativeThread(name: "engine-\(index)") { [self] in
            do {
                try AsyncPool.initThread(maxJobs: configuration.maxJobsPerThread)
            } catch {
                startError.withLock { $0 = error as? EngineError }
                started.signal()
                return
            }
            self.loopThreadID.store(UInt(pthread_self()), ordering: .releasing)
            started.signal()
            loop.run(owner: self)
            AsyncPool.cleanupThread()
        }
        started.wait()
        if let error = startError.withLock({ $0 }) {
            thread.join()
            throw error
        }
        self.thread.withLock { $0 = thread }
    }

    enum SubmitResult { case accepted, full, stopping }

    /// Queues a job, unless the thread already holds all it may (jobs in flight plus jobs
    /// waiting for a pool slot) or shutdown has begun.
    func submit(_ submission: EngineSubmission) -> SubmitResult {
        let (result, wasEmpty): (SubmitResult, Bool) = inbox.withLock { inbox in
            if inbox.stopping { return (.stopping, false) }
            // `load` only grows under this lock, so the check and the increment are one step.
            if load.load(ordering: .relaxed) >= capacity { return (.full, false) }
            load.add(1, ordering: .relaxed)
            defer { inbox.submissions.append(submission) }
            return (.accepted, inbox.isEmpty)
        }
        // One wake-up serves every submission queued before the engine drains them.
        if wasEmpty { wakeUp.signal() }
        return result
    }

    /// Queues a job submitted on this loop's own thread (by its guest): no lock, no wake-up;
    /// the loop starts it in the same turn.
    func submitLocally(_ submission: EngineSubmission) -> SubmitResult {
        precondition(UInt(pthread_self()) == loopThreadID.load(ordering: .acquiring),
                     "a local submission must come from the loop's own thread")
        if loop.isStopping { return .stopping }
        if load.load(ordering: .relaxed) >= capacity { return .full }
        load.add(1, ordering: .relaxed)
        loop.acceptLocally(submission, owner: self)
        return .accepted
    }

    /// Hands the loop its guest, which it watches and runs from then on.
    func attach(_ guest: any EngineLoopGuest) {
        inbox.withLock { $0.guest = guest }
        wakeUp.signal()
    }

    /// Runs `task` on the loop's thread, soon.
    func perform(_ task: @escaping @Sendable () -> Void) {
        inbox.withLock { $0.tasks.append(task) }
        wakeUp.signal()
    }

    /// Asks the thread to resume a job. Any thread (whichever polls the device, in callback
    /// mode). One wake-up
    /// serves every request queued before the engine drains them.
    func resumeLater(waitContext: UInt64) {
        let wasEmpty = inbox.withLock { inbox in
            defer { inbox.ready.append(waitContext) }
            return inbox.isEmpty
        }
        if wasEmpty { wakeUp.signal() }
    }

    /// Asks for a job to be resumed: on the loop's own thread (the device polled there) the loop
    /// takes it directly, with no lock and no wake-up; from elsewhere through the inbox.
    func resumeSoon(waitContext: UInt64) {
        if UInt(pthread_self()) == loopThreadID.load(ordering: .relaxed) {
            loop.resumeLocally(waitContext: waitContext)
        } else {
            resumeLater(waitContext: waitContext)
        }
    }

    /// Refuses new jobs from now on; the thread ends once every submitted job has finished.
    /// Jobs not finished by `deadline` (monotonic nanoseconds) are failed as "shutting_down".
    func beginShutdown(deadline: UInt64 = .max) {
        inbox.withLock { inbox in
            inbox.stopping = true
            inbox.stopDeadline = min(inbox.stopDeadline, deadline)
        }
        wakeUp.signal()
    }

    /// Begins shutdown and waits for the thread to end. Idempotent.
    func shutdown(deadline: UInt64 = .max) {
        beginShutdown(deadline: deadline)
        let running = thread.withLock { thread in
            defer { thread = nil }
            return thread
        }
        running?.join()
    }

    /// What arrived since the last call, and whether shutdown was asked for.
    /// Moves what arrived into the caller's arrays; returns the shutdown deadline once shutdown began.
    func takeInbox(
        into submissions: inout [EngineSubmission], ready: inout [UInt64], tasks: inout [@Sendable () -> Void]
    ) -> (stopDeadline: UInt64?, guest: (any EngineLoopGuest)?) {
        _ = wakeUp.consume()
        return inbox.withLock { inbox in
            swap(&submissions, &inbox.submissions)
            swap(&ready, &inbox.ready)
            swap(&tasks, &inbox.tasks)
            defer { inbox.guest = nil }
            return (inbox.stopping ? inbox.stopDeadline : nil, inbox.guest)
        }
    }

    func finished() {
        load.subtract(1, ordering: .relaxed)
    }
}
