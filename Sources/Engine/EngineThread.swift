import Foundation
import Synchronization

/// A job on its way to an engine thread.
struct EngineSubmission: Sendable {
    let id: UUID
    let request: JobRequest
    let completion: @Sendable (JobRecord) -> Void
}

/// One engine thread: it owns an OpenSSL ASYNC job pool and an epoll set, starts and resumes
/// every one of its jobs itself (OpenSSL requires a paused job to resume on the thread that
/// started it), and wakes on an eventfd for new submissions and on the jobs' wait fds.
final class EngineThread: Sendable {
    let index: Int
    /// Jobs submitted to this thread and not yet finished, for least-loaded placement.
    let load = Atomic<Int>(0)
    private let inbox = Mutex<(submissions: [EngineSubmission], stopping: Bool)>(([], false))
    private let wakeUp: EventFD
    private let thread = Mutex<NativeThread?>(nil)

    init(index: Int, maxJobs: Int, store: JobStore, device: SimulatedAccelerator,
         stackGauge: FibreStackGauge?) throws {
        self.index = index
        wakeUp = try EventFD()
        let loop = try EngineLoop(
            index: index, maxJobs: maxJobs, store: store, device: device, stackGauge: stackGauge)
        try loop.watch(wakeUp)
        let started = DispatchSemaphore(value: 0)
        let startError = Mutex<EngineError?>(nil)
        let thread = try NativeThread(name: "engine-\(index)") { [self] in
            do {
                try AsyncPool.initThread(maxJobs: maxJobs)
            } catch {
                startError.withLock { $0 = error as? EngineError }
                started.signal()
                return
            }
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

    /// Queues a job; false once shutdown has begun, when the thread takes no more.
    func submit(_ submission: EngineSubmission) -> Bool {
        let (accepted, wasEmpty) = inbox.withLock { inbox in
            guard !inbox.stopping else { return (false, false) }
            inbox.submissions.append(submission)
            return (true, inbox.submissions.count == 1)
        }
        guard accepted else { return false }
        load.add(1, ordering: .relaxed)
        if wasEmpty { wakeUp.signal() }
        return true
    }

    /// Lets every submitted job finish, then ends the thread. Idempotent.
    func shutdown() {
        inbox.withLock { $0.stopping = true }
        wakeUp.signal()
        let running = thread.withLock { thread in
            defer { thread = nil }
            return thread
        }
        running?.join()
    }

    /// What arrived since the last call, and whether shutdown was asked for.
    fileprivate func takeSubmissions() -> (submissions: [EngineSubmission], stopping: Bool) {
        _ = wakeUp.consume()
        return inbox.withLock { inbox in
            defer { inbox.submissions.removeAll(keepingCapacity: true) }
            return inbox
        }
    }

    fileprivate func finished() {
        load.subtract(1, ordering: .relaxed)
    }
}

/// The engine thread's own state, touched by that thread alone.
private final class EngineLoop: @unchecked Sendable {
    // @unchecked: created on the constructing thread, then used only by the engine thread it
    // is handed to; nothing else keeps a reference.
    private static let wakeUpToken = UInt64.max

    let index: Int
    let maxJobs: Int
    let store: JobStore
    let device: SimulatedAccelerator
    let stackGauge: FibreStackGauge?
    let epoll: Epoll
    /// Submissions not yet started, oldest first from `waitingHead`.
    private var waiting: [EngineSubmission] = []
    private var waitingHead = 0
    /// Started jobs by the wait fd they registered.
    private var jobsByFD: [Int32: AsyncJob] = [:]
    private var jobsInFlight = 0
    /// Set when OpenSSL's pool had no job to give; cleared when one of ours finishes.
    private var poolExhausted = false
    private var idleWaitContexts: [WaitContext] = []
    /// Paused jobs whose wait fd epoll refused; resumed on every turn (rare, never lost).
    private var polledJobs: [ObjectIdentifier: AsyncJob] = [:]

    init(index: Int, maxJobs: Int, store: JobStore, device: SimulatedAccelerator,
         stackGauge: FibreStackGauge?) throws {
        self.index = index
        self.maxJobs = maxJobs
        self.store = store
        self.device = device
        self.stackGauge = stackGauge
        epoll = try Epoll()
    }

    func watch(_ wakeUp: EventFD) throws {
        try epoll.add(wakeUp.fd, token: Self.wakeUpToken)
    }

    func run(owner: EngineThread) {
        var stopping = false
        while true {
            epoll.wait(timeoutMilliseconds: polledJobs.isEmpty ? -1 : 1) { token in
                if token == Self.wakeUpToken {
                    let arrived = owner.takeSubmissions()
                    waiting.append(contentsOf: arrived.submissions)
                    stopping = stopping || arrived.stopping
                } else if let job = jobsByFD[Int32(truncatingIfNeeded: token)] {
                    resume(job, owner: owner)
                }
            }
            for job in polledJobs.values { resume(job, owner: owner) }
            startWaitingJobs(owner: owner)
            if stopping && jobsInFlight == 0 && waitingHead == waiting.count { return }
        }
    }

    private func startWaitingJobs(owner: EngineThread) {
        while waitingHead < waiting.count && jobsInFlight < maxJobs && !poolExhausted {
            let submission = waiting[waitingHead]
            waitingHead += 1
            let waitContext: WaitContext
            do {
                waitContext = try idleWaitContexts.popLast() ?? WaitContext()
            } catch {
                finish(submission, waitContext: nil, failure: error as? EngineError, job: nil, owner: owner)
                continue
            }
            let job = AsyncJob(
                submission: submission, device: device, waitContext: waitContext, stackGauge: stackGauge)
            jobsInFlight += 1
            store.update(submission.id) { record in
                record.status = .running
                record.engine = index
                record.startedAt = .now()
            }
            resume(job, owner: owner)
        }
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        }
    }

    /// Runs the job until it pauses or finishes, and keeps epoll in step with its fds.
    private func resume(_ job: AsyncJob, owner: EngineThread) {
        let result = job.step()
        let changed = job.waitContext.changedFDs()
        for fd in changed.removed {
            epoll.remove(fd)
            jobsByFD[fd] = nil
        }
        switch result {
        case .paused:
            for fd in changed.added {
                do {
                    try epoll.add(fd, token: UInt64(fd))
                    jobsByFD[fd] = job
                } catch {
                    // A paused job must be resumed until it ends; one whose fd cannot be
                    // watched is resumed on every turn of the loop instead.
                    polledJobs[ObjectIdentifier(job)] = job
                }
            }
        case .finished:
            complete(job, failure: nil, owner: owner)
        case .failed(let error):
            complete(job, failure: error, owner: owner)
        case .noJobsAvailable:
            // Backpressure from OpenSSL's pool: put it back and retry when a job finishes.
            jobsInFlight -= 1
            poolExhausted = true
            idleWaitContexts.append(job.waitContext)
            waitingHead -= 1
            waiting[waitingHead] = job.submission
        }
    }

    private func complete(_ job: AsyncJob, failure: EngineError?, owner: EngineThread) {
        polledJobs[ObjectIdentifier(job)] = nil
        job.waitContext.clearFD()
        for fd in job.waitContext.changedFDs().removed {
            epoll.remove(fd)
            jobsByFD[fd] = nil
        }
        jobsInFlight -= 1
        poolExhausted = false
        finish(job.submission, waitContext: job.waitContext, failure: failure, job: job, owner: owner)
    }

    private func finish(_ submission: EngineSubmission, waitContext: WaitContext?, failure: EngineError?,
                        job: AsyncJob?, owner: EngineThread) {
        if let waitContext {
            _ = waitContext.notifier.consume()  // a stale count must not wake the next job
            if idleWaitContexts.count < maxJobs { idleWaitContexts.append(waitContext) }
        }
        let finishedAt = Timestamp.now()
        let record = store.update(submission.id) { record in
            record.completedAt = finishedAt
            record.engine = index
            if let job {
                record.pauses = job.pauses
                if case .finished(let outcome, let unit, let deviceNanoseconds) = job.phase {
                    record.deviceUnit = unit
                    record.deviceNanoseconds = deviceNanoseconds
                    switch outcome {
                    case .completed(let output):
                        record.output = output
                        record.status = .completed
                    case .failed(let error):
                        record.error = error
                        record.status = .failed
                    }
                }
            }
            if let failure {
                record.error = failure
                record.status = .failed
            } else if !record.status.isFinished {
                record.error = EngineError(code: "engine_error", message: "The job ended without a result.")
                record.status = .failed
            }
        }
        owner.finished()
        // Records of unfinished jobs are never evicted, so the store always has this one;
        // the client is answered even if that invariant were ever broken.
        submission.completion(record ?? JobRecord(lost: submission, error: failure))
    }
}
