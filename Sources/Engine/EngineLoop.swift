import DequeModule
import Foundation
import HeapModule
import Synchronization

/// The engine thread's own state, touched by that thread alone.
final class EngineLoop: @unchecked Sendable {
    // @unchecked: created on the constructing thread, then used only by the engine thread it
    // is handed to; nothing else keeps a reference.
    private static let wakeUpToken = UInt64.max
    private static let deviceTimerToken = UInt64.max - 1
    private static let guestToken = UInt64.max - 2
    /// How long the loop keeps serving its guest's answers after the shutdown deadline.
    private static let answerGrace: UInt64 = 1_000_000_000
    /// Wait contexts kept for reuse after a burst; more are freed.
    private static let idleWaitContextLimit = 256

    let index: Int
    let configuration: EngineConfiguration
    let store: JobStore
    let provider: CryptoProvider
    let diagnostics: EngineDiagnostics
    let epoll: Epoll
    /// The completion queue this thread polls (offloadsim only), and the timer of its next due time.
    private let deviceQueue: DeviceQueue?
    private let deviceTimer: MonotonicTimer
    private var deviceTimerDue = UInt64.max
    /// The device had an operation due when the last turn ended (see `armDeviceTimer`).
    private var deviceDueNow = false
    private let jobTimeout: UInt64
    private let queueTimeout: UInt64
    /// The ciphers, fetched on the engine thread when it starts.
    private var ciphers: CipherSet?

    /// Submissions not yet started, oldest first.
    private var waiting = Deque<EngineSubmission>()
    /// Started jobs that have not finished, by token (detached ones included).
    private var jobs = SlotTable<AsyncJob>()
    private var detachedJobs = 0
    /// Job deadlines, earliest first. A finished job's entry goes once it is the earliest
    /// (jobs mostly finish in the order they started), not when it falls due: the heap then
    /// holds about the jobs in flight instead of every job of the last job timeout (30 s of
    /// jobs at tens of thousands a second), and the loop does not wake for deadlines of jobs
    /// long finished.
    private var deadlines = Heap<JobDeadline>()
    /// `deadlines.count` as last published in the thread's `deadlinesHeld`.
    private var reportedDeadlines = 0
    /// Set when OpenSSL's pool had no job to give; cleared when one of ours finishes.
    private var poolExhausted = false
    /// Every wait context of this thread by id (the epoll token of its fds), and the idle ones.
    private var waitContexts = SlotTable<WaitContext>()
    private var idleWaitContexts: [WaitContext] = []
    /// Wait contexts whose jobs the device completed while polled on this thread (callback
    /// mode), resumed in the same turn.
    private var readyHere: [UInt64] = []
    /// Paused jobs whose wait fd epoll refused; resumed on every turn (rare, never lost).
    private var polledJobs: Set<UInt64> = []
    private var stopping = false
    private var stopDeadline = UInt64.max
    /// The server this loop runs besides its jobs, and whether it has input waiting.
    private var guest: (any EngineLoopGuest)?
    private var guestReady = false
    /// The engine thread, once `run` starts on it: debug builds check every entry on it.
    private var confinement = ThreadConfinement()

    /// Read by the loop's own thread only (local submissions come from its guest).
    var isStopping: Bool {
        confinement.check()
        return stopping
    }
    /// Finished jobs whose completions run together at the end of a turn of the loop, so that
    /// their clients are woken in one burst rather than one wake-up each.
    private var finishedThisTurn: [FinishedJob] = []
    /// The jobs whose completions run now: swapped with `finishedThisTurn`, so that a job a
    /// completion finishes waits for the next delivery instead of being cleared with these.
    private var delivering: [FinishedJob] = []

    /// A named struct rather than a tuple: an array of tuples is destroyed element by element
    /// through the runtime's generic tuple code (3,000 instructions per request, callgrind).
    private struct FinishedJob {
        let completion: @Sendable (JobRecord) -> Void
        let record: JobRecord
    }

    init(index: Int, configuration: EngineConfiguration, store: JobStore, provider: CryptoProvider,
         device: SimulatedAccelerator?, diagnostics: EngineDiagnostics) throws {
        self.index = index
        self.configuration = configuration
        self.store = store
        self.provider = provider
        self.diagnostics = diagnostics
        jobTimeout = configuration.jobTimeout.nanoseconds
        queueTimeout = configuration.queueTimeout.nanoseconds
        epoll = try Epoll()
        deviceQueue = try device?.makeQueue()
        deviceTimer = try MonotonicTimer()
        try epoll.add(deviceTimer.fd, token: Self.deviceTimerToken)
    }

    func watch(_ wakeUp: EventFD) throws {
        try epoll.add(wakeUp.fd, token: Self.wakeUpToken)
    }

    /// A submission from the loop's own thread (its guest's request handler), started at once:
    /// its time on the device starts while the daemon reads the rest of its turn's requests
    /// (started after the daemon's run, a job's latency included that run; at 50 ms and 2,000
    /// connections, 6 to 12% more requests a second).
    func acceptLocally(_ submission: EngineSubmission, owner: EngineThread) {
        confinement.check()
        waiting.append(submission)
        startWaitingJobs(owner: owner)
    }

    /// The device completed the operation of the job using wait context `context`: its callback,
    /// on this thread.
    func resumeLocally(waitContext context: UInt64) {
        confinement.check()
        readyHere.append(context)
    }

    private func resumeReadyHere(owner: EngineThread) {
        var next = 0
        while next < readyHere.count {
            resumeJob(calledBackFor: readyHere[next], owner: owner)
            next += 1
        }
        readyHere.removeAll(keepingCapacity: true)
    }

    /// Runs the completions of the jobs finished this turn; says whether there were any.
    private func deliverFinished() -> Bool {
        guard !finishedThisTurn.isEmpty else { return false }
        swap(&finishedThisTurn, &delivering)
        for index in delivering.indices { delivering[index].completion(delivering[index].record) }
        delivering.removeAll(keepingCapacity: true)
        return true
    }

    func run(owner: EngineThread) {
        confinement.bind()
        ciphers = provider.fetchCiphers()
        deviceQueue?.bindCurrentThread()
        defer {
            deviceQueue?.unbindCurrentThread()
            jobs.removeAll()
            idleWaitContexts.removeAll()
            waitContexts.removeAll()
            ciphers = nil
        }
        var arrived: [EngineSubmission] = []
        var ready: [UInt64] = []
        var tasks: [@Sendable () -> Void] = []
        while true {
            let startedWaiting = readMonotonicClock()
            let guestTimeout = guest?.timeoutMilliseconds()
            epoll.wait(timeoutMilliseconds: waitTimeout(now: startedWaiting, guest: guestTimeout)) { token in
                switch token {
                case Self.wakeUpToken:
                    let (deadline, attached) = owner.takeInbox(into: &arrived, ready: &ready, tasks: &tasks)
                    if let deadline {
                        stopping = true
                        stopDeadline = deadline
                    }
                    if let attached { attach(attached) }
                    waiting.append(contentsOf: arrived)
                    arrived.removeAll(keepingCapacity: true)
                    for context in ready { resumeJob(calledBackFor: context, owner: owner) }
                    ready.removeAll(keepingCapacity: true)
                    for task in tasks { task() }
                    tasks.removeAll(keepingCapacity: true)
                case Self.deviceTimerToken:
                    deviceTimer.consume()
                    deviceTimerDue = .max
                case Self.guestToken:
                    guestReady = true
                default:
                    resumeJob(ofWaitContext: token, owner: owner)
                }
            }
            var now = readMonotonicClock()
            // The guest reads requests and submits their jobs here, on this thread, which starts
            // them as they come.
            if let guest, guestReady || guestTimeout.map({ now >= startedWaiting + UInt64($0) * 1_000_000 }) ?? false {
                guestReady = false
                // Jobs started at the end of the last turn that the device has completed since
                // finish first: the guest then answers them in this run, where it would have
                // found them unanswered and suspended their connections (at zero latency 6% of
                // requests, each suspend and resume an epoll_ctl in libmicrohttpd).
                if deviceDueNow, let deviceQueue, deviceQueue.poll(now: now) > 0 {
                    if !readyHere.isEmpty { resumeReadyHere(owner: owner) }
                    _ = deliverFinished()
                }
                guest.run()
                // What the guest submitted and could not start (the pool or the loop full) tries
                // again now, so that the device poll below finds what it completes at once.
                startWaitingJobs(owner: owner)
                now = readMonotonicClock()
            }
            // The engine pumps the device: completions due now notify their jobs (an eventfd
            // write, or the callback that queues them), which this loop resumes next.
            if let deviceQueue, deviceQueue.poll(now: now) > 0 { now = readMonotonicClock() }
            // The callbacks of this loop's thread (that poll, or a provider calling back at
            // another moment) resume their jobs here.
            if !readyHere.isEmpty { resumeReadyHere(owner: owner) }
            if stopping && now >= stopDeadline { abortEverything(owner: owner) }
            expireDeadlines(now: now, owner: owner)
            for token in polledJobs { resume(token, owner: owner) }
            expireWaiting(now: now, owner: owner)
            let answered = deliverFinished()
            // Jobs finished this turn resumed their connections: answer them now.
            if answered, let guest { guest.run() }
            // Everything still waiting starts now: arrivals from other threads, jobs put back
            // while OpenSSL's pool was full, requests that run read, jobs a completion submitted
            // (not after the next wake-up, which with nothing else due is their queue timeout).
            startWaitingJobs(owner: owner)
            armDeviceTimer(now: readMonotonicClock())
            if stopping && jobs.count == detachedJobs && waiting.isEmpty
                && (detachedJobs == 0 || readMonotonicClock() >= stopDeadline)
                && !((guest?.isBusy ?? false) && readMonotonicClock() < stopDeadline &+ Self.answerGrace) { return }
        }
    }

    private func attach(_ attached: any EngineLoopGuest) {
        guard guest == nil, (try? epoll.add(attached.watchedFD, token: Self.guestToken)) != nil else { return }
        guest = attached
        guestReady = true
    }

    /// Wakes the loop when the device's next completion or retry is due, to the nanosecond
    /// (epoll's own timeout counts milliseconds). One already due sets no timer: the loop then
    /// looks at its fds without waiting and polls the device at once (at zero latency every turn
    /// armed a timer that fired at once: a timerfd_settime, a wake-up and a read, and in a
    /// virtual machine an exit to program the timer, 1.5% of the CPU).
    private func armDeviceTimer(now: UInt64) {
        guard let deviceQueue else { return }
        let due = deviceQueue.nextDue ?? .max
        deviceDueNow = due <= now
        // A timer armed earlier for a later moment may stay: it wakes the loop once, for nothing.
        guard !deviceDueNow, due != deviceTimerDue else { return }
        deviceTimerDue = due
        if due == .max { deviceTimer.disarm() } else { deviceTimer.arm(at: due) }
    }

    /// Milliseconds until the next timer of the engine or its guest is due, or -1 for none.
    private func waitTimeout(now: UInt64, guest guestTimeout: Int?) -> Int32 {
        var next = UInt64.max
        if let deadline = deadlines.min { next = min(next, deadline.due) }
        if let oldest = waiting.first { next = min(next, oldest.submittedAt + queueTimeout) }
        if !polledJobs.isEmpty { next = min(next, now + 1_000_000) }
        // Work of this thread that no fd will announce: jobs the device called back for, and
        // jobs that finished when they started at the end of the turn.
        if !readyHere.isEmpty || !finishedThisTurn.isEmpty || deviceDueNow { return 0 }
        if let guestTimeout { next = min(next, now &+ UInt64(max(0, guestTimeout)) * 1_000_000) }
        if stopping {
            // After the deadline, the loop only waits out its guest's answers, for a second more.
            next = min(next, now < stopDeadline ? stopDeadline : max(now &+ 10_000_000, stopDeadline &+ Self.answerGrace))
        }
        guard next != .max else { return -1 }
        guard next > now else { return 0 }
        return Int32(min((next - now + 999_999) / 1_000_000, 60_000))
    }

    private func expireDeadlines(now: UInt64, owner: EngineThread) {
        while let next = deadlines.min {
            guard let job = jobs[next.token], !job.detached else {
                _ = deadlines.removeMin()
                continue
            }
            guard next.due <= now else { break }
            _ = deadlines.removeMin()
            // No cancel in OpenSSL: resume the job so that it ends itself as timed out.
            job.abort = EngineError(code: .jobTimeout, message: "The accelerator did not complete the job in time.")
            resume(next.token, owner: owner)
        }
        if deadlines.count != reportedDeadlines {
            reportedDeadlines = deadlines.count
            owner.deadlinesHeld.store(reportedDeadlines, ordering: .relaxed)
        }
    }

    /// Shutdown ran out of time: every job still here ends now, failed as shutting down.
    private func abortEverything(owner: EngineThread) {
        let error = EngineError(code: .shuttingDown, message: "The service shut down before the job completed.")
        var running: [(token: UInt64, job: AsyncJob)] = []
        jobs.forEach { token, job in if !job.detached { running.append((token, job)) } }
        diagnostics.abortedAtShutdown.add(running.count + waiting.count, ordering: .relaxed)
        for (token, job) in running {
            job.abort = error
            resume(token, owner: owner)
        }
        while let submission = waiting.popFirst() {
            finish(submission, job: nil, failure: error, owner: owner)
        }
    }

    /// Jobs that waited for a pool slot longer than the queue timeout are refused (503).
    private func expireWaiting(now: UInt64, owner: EngineThread) {
        while let oldest = waiting.first, oldest.submittedAt + queueTimeout <= now {
            let submission = waiting.removeFirst()
            finish(submission, job: nil, failure: EngineError(
                code: .overloaded, message: "The engine had no free job slot in time; retry shortly."), owner: owner)
        }
    }

    private func startWaitingJobs(owner: EngineThread) {
        while !waiting.isEmpty && jobs.count < configuration.maxJobsPerThread && !poolExhausted {
            let submission = waiting.removeFirst()
            let cipher = ciphers?[submission.request.algorithm]
            guard cipher != nil || submission.request.algorithm.isSignature else {
                finish(submission, job: nil, failure: EngineError(
                    code: .unsupportedAlgorithm,
                    message: "The provider '\(provider.name)' has no \(submission.request.algorithm.rawValue)."),
                    owner: owner)
                continue
            }
            let job: AsyncJob
            do {
                let waitContext = try takeWaitContext(owner: owner)
                do {
                    job = try AsyncJob(
                        submission: submission, cipher: cipher, waitContext: waitContext, diagnostics: diagnostics)
                } catch {
                    recycle(waitContext)
                    throw error
                }
            } catch {
                finish(submission, job: nil, failure: error as? EngineError, owner: owner)
                continue
            }
            let token = jobs.insert { _ in job }.token
            job.waitContext.jobToken = token
            deadlines.insert(JobDeadline(due: submission.submittedAt + jobTimeout, token: token))
            store.update(submission.entry) { record in
                record.status = .running
                record.engine = index
                record.startedAt = .now()
            }
            step(job, token: token, owner: owner)
        }
    }

    private func takeWaitContext(owner: EngineThread) throws -> WaitContext {
        if let idle = idleWaitContexts.popLast() {
            if !idle.fdsWatched {
                for fd in idle.allFDs() { try? epoll.add(fd, token: idle.id) }
                idle.fdsWatched = true
            }
            return idle
        }
        let context = try waitContexts.insert { id in try WaitContext(id: id) }.value
        if configuration.notification == .callback {
            // Set once for the context's life: the ticket names the context, whose job changes.
            context.setCallback(ResumeTicket(waitContext: context.id, thread: owner))
        }
        return context
    }

    /// Keeps a finished job's wait context (and its provider's fd, still watched) for the next
    /// job, or frees it after a burst.
    private func recycle(_ context: WaitContext) {
        context.jobToken = nil
        if idleWaitContexts.count < Self.idleWaitContextLimit {
            idleWaitContexts.append(context)
        } else {
            if context.fdsWatched { for fd in context.allFDs() { epoll.remove(fd) } }
            waitContexts.remove(context.id)
        }
    }

    /// The device called back for a wait context: resume its job (a callback for a context
    /// with no job, which no operation in flight should make, is ignored).
    private func resumeJob(calledBackFor id: UInt64, owner: EngineThread) {
        guard let token = waitContexts[id]?.jobToken else { return }
        resume(token, owner: owner)
    }

    /// A wait context's fd became readable: resume the job using the context. A context with
    /// no job (a signal after the job ended) stops being watched until it is used again.
    private func resumeJob(ofWaitContext id: UInt64, owner: EngineThread) {
        guard let context = waitContexts[id] else { return }
        guard let token = context.jobToken else {
            for fd in context.allFDs() { epoll.remove(fd) }
            context.fdsWatched = false
            return
        }
        resume(token, owner: owner)
    }

    /// Runs the job until it pauses or finishes, and keeps epoll in step with its fds.
    /// A token the engine no longer has (a late completion) is ignored.
    private func resume(_ token: UInt64, owner: EngineThread) {
        guard let job = jobs[token] else { return }
        step(job, token: token, owner: owner)
    }

    /// `resume` for a job in hand (a job just started needs no lookup).
    private func step(_ job: AsyncJob, token: UInt64, owner: EngineThread) {
        let aborting = job.abort != nil && !job.detached && provider.canFailPendingOperations
        if aborting { WaitContext.failPendingOperation(of: job.waitContext) }
        let result = job.step()
        if aborting { WaitContext.failPendingOperation(of: nil) }
        let changed = job.waitContext.changedFDs()
        for fd in changed.removed { epoll.remove(fd) }
        switch result {
        case .paused:
            for fd in changed.added {
                do {
                    try epoll.add(fd, token: job.waitContext.id)
                } catch {
                    // A paused job must be resumed until it ends; one whose fd cannot be
                    // watched is resumed on every turn of the loop instead.
                    polledJobs.insert(token)
                }
            }
            if let abort = job.abort, !job.detached {
                // The provider cannot be told to fail the operation: answer the client now and
                // keep the job until the provider lets it finish.
                job.detached = true
                detachedJobs += 1
                finish(job.submission, job: nil, failure: abort, owner: owner)
            }
        case .finished:
            complete(token, job, failure: nil, owner: owner)
        case .failed(let error):
            complete(token, job, failure: error, owner: owner)
        case .noJobsAvailable:
            // Backpressure from OpenSSL's pool: put it back and retry when a job finishes.
            jobs.remove(token)
            poolExhausted = true
            recycle(job.waitContext)
            waiting.prepend(job.submission)
        }
    }

    private func complete(_ token: UInt64, _ job: AsyncJob, failure: EngineError?, owner: EngineThread) {
        jobs.remove(token)
        // Almost always empty: a removal from an empty set still hashes the token.
        if !polledJobs.isEmpty { polledJobs.remove(token) }
        recycle(job.waitContext)
        poolExhausted = false
        if job.detached {
            detachedJobs -= 1  // its client was answered when it was detached
            return
        }
        finish(job.submission, job: job, failure: failure, owner: owner)
    }

    private func finish(_ submission: EngineSubmission, job: AsyncJob?, failure: EngineError?, owner: EngineThread) {
        let finishedAt = Timestamp.now()
        let result = job?.outcome(provider: provider)
        /// The output the store does not keep, for the completion alone.
        var unretainedOutput: [UInt8]?
        var record = store.update(submission.entry) { (record: inout JobRecord) -> JobRecord in
            record.completedAt = finishedAt
            record.engine = index
            if let job, let result {
                record.pauses = job.pauses
                record.deviceUnit = result.unit
                record.deviceNanoseconds = result.deviceNanoseconds
                switch result.outcome {
                case .success(let output):
                    record.outputBytes = output.count
                    if submission.request.retainsOutput { record.output = output } else { unretainedOutput = output }
                    record.status = .completed
                case .failure(let error):
                    record.error = error
                    record.status = .failed
                }
            }
            if let failure {
                record.output = nil
                record.outputBytes = nil
                unretainedOutput = nil
                record.error = failure
                record.status = .failed
            } else if !record.status.isFinished {
                record.error = EngineError(code: .engineError, message: "The job ended without a result.")
                record.status = .failed
            }
            return record
        }
        if let unretainedOutput { record?.output = unretainedOutput }
        owner.finished()
        // Records of unfinished jobs are never evicted, so the store always has this one;
        // the client is answered even if that invariant were ever broken.
        finishedThisTurn.append(
            FinishedJob(completion: submission.completion, record: record ?? JobRecord(lost: submission, error: failure)))
    }
}

/// When a started job times out, earliest first in the loop's heap.
struct JobDeadline: Comparable {
    let due: UInt64
    let token: UInt64

    static func < (lhs: JobDeadline, rhs: JobDeadline) -> Bool { (lhs.due, lhs.token) < (rhs.due, rhs.token) }
}
