internal import COpenSSL
import Foundation
import Glibc

/// An `ASYNC_WAIT_CTX`, with the eventfd the device signals in fd mode. One engine thread owns
/// it and reuses it for job after job, as accelerator engines keep one stable fd per context.
final class WaitContext {
    let handle: OpaquePointer
    /// The eventfd of fd mode; nil in callback mode, where a job needs no fd.
    let notifier: EventFD?

    init(notification: NotificationMode) throws {
        guard let handle = ASYNC_WAIT_CTX_new() else {
            throw EngineError(code: "engine_error", message: "ASYNC_WAIT_CTX_new failed: \(openSSLErrors())")
        }
        do {
            notifier = notification == .fd ? try EventFD() : nil
        } catch {
            ASYNC_WAIT_CTX_free(handle)
            throw error
        }
        self.handle = handle
    }

    deinit { ASYNC_WAIT_CTX_free(handle) }

    /// The key this context's fd is registered under: the context object's address.
    var key: UnsafeRawPointer { UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque()) }

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

    /// Unregisters the fd at the end of a job, so the next job's registration is reported as new.
    func clearFD() {
        _ = ASYNC_WAIT_CTX_clear_fd(handle, key)
    }

    /// Callback mode: the device calls `ticket` through OpenSSL's wait-context callback.
    func setCallback(_ ticket: ResumeTicket) {
        _ = ASYNC_WAIT_CTX_set_callback(handle, resumeTicketCallback, Unmanaged.passUnretained(ticket).toOpaque())
    }

    /// Fd mode: no callback, so the job registers its eventfd.
    func clearCallback() {
        _ = ASYNC_WAIT_CTX_set_callback(handle, nil, nil)
    }

    /// Whether the job paused because the device ring was full (ASYNC_STATUS_EAGAIN).
    var asksForRetry: Bool { ASYNC_WAIT_CTX_get_status(handle) == ASYNC_STATUS_EAGAIN }
}

/// One job on an engine thread: the request, its ASYNC_JOB while it is paused, and the
/// state machine its fibre runs. Confined to the engine thread that owns it.
final class AsyncJob {
    enum Phase {
        /// Not yet handed to the device.
        case idle
        /// Built, waiting for room in the device ring.
        case submitting(DeviceOperation)
        /// On the device; the fibre waits for the signal.
        case submitted(DeviceOperation)
        /// The device answered, or the job gave up.
        case finished(outcome: DeviceOutcome, unit: Int?, deviceNanoseconds: UInt64?)
    }

    let submission: EngineSubmission
    let device: SimulatedAccelerator
    let waitContext: WaitContext
    let resumeTicket: ResumeTicket
    let ringRetryLimit: Int
    let diagnostics: EngineDiagnostics
    /// The paused ASYNC_JOB, nil before the first start and after it finished.
    var handle: OpaquePointer?
    var phase = Phase.idle
    var pauses = 0
    /// Set by the engine when the job must end now (its deadline passed, or shutdown ran out of
    /// time); the fibre then ends the job with this error. OpenSSL has no cancel.
    var abort: EngineError?
    private var ringRetries = 0
    private var owningThread: pthread_t?
    /// Where the fibre's stack was painted from, when the gauge is on.
    private var paintedTop: UInt = 0

    init(submission: EngineSubmission, device: SimulatedAccelerator, waitContext: WaitContext,
         resumeTicket: ResumeTicket, ringRetryLimit: Int, diagnostics: EngineDiagnostics) {
        self.submission = submission
        self.device = device
        self.waitContext = waitContext
        self.resumeTicket = resumeTicket
        self.ringRetryLimit = ringRetryLimit
        self.diagnostics = diagnostics
    }

    enum StepResult {
        case paused
        case finished
        case noJobsAvailable
        case failed(EngineError)
    }

    /// Starts or resumes the job on the calling (engine) thread.
    func step() -> StepResult {
        let current = pthread_self()
        if let owningThread, pthread_equal(owningThread, current) == 0 {
            diagnostics.resumesOffOwningThread.add(1, ordering: .relaxed)
        }
        owningThread = current
        var fibreResult: Int32 = 0
        var job = handle
        var context = Unmanaged.passUnretained(self).toOpaque()
        // ASYNC_start_job copies `size` bytes of the arguments once, at start: hand it the
        // address of our context pointer, not the context.
        let status = withUnsafeMutablePointer(to: &context) { argument in
            ASYNC_start_job(
                &job, waitContext.handle, &fibreResult, runJobOnFibre, argument,
                MemoryLayout<UnsafeMutableRawPointer>.size)
        }
        handle = job
        switch status {
        case ASYNC_PAUSE:
            pauses += 1
            return .paused
        case ASYNC_FINISH:
            if fibreResult == 1 { return .finished }
            return .failed(EngineError(code: "engine_error", message: "The job could not be handed to the accelerator."))
        case ASYNC_NO_JOBS:
            return .noJobsAvailable
        default:
            return .failed(EngineError(code: "engine_error", message: "ASYNC_start_job failed: \(openSSLErrors())"))
        }
    }

    /// Swift instantiates generic type metadata on first use, and the first instantiation
    /// demangles type names with about 9 KiB of stack: done on a fibre, that would eat a third
    /// of its 32 KiB. This runs the fibre's Swift paths once on a normal stack instead, with a
    /// probe operation the device completes at once, outside its ring and its fault injection.
    static func instantiateFibreTypes(device: SimulatedAccelerator, notifier: EventFD) {
        let operation = DeviceOperation(JobRequest(input: [1]), notification: .fd(notifier), isProbe: true)
        var phase = Phase.submitting(operation)
        if device.submit(operation) { phase = .submitted(operation) }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(1)
        while operation.result == nil && clock.now < deadline { usleep(100) }
        if case .submitted(let submitted) = phase, let result = submitted.result {
            phase = .finished(outcome: result.outcome, unit: result.unit, deviceNanoseconds: result.nanoseconds)
        }
        _ = phase
    }

    /// The job's state machine, on its 32 KiB fibre stack with no guard page: no logging, no
    /// formatting, no deep calls. Never pauses while a Swift access is open.
    fileprivate func runOnFibre() -> Int32 {
        if let stackGauge = diagnostics.stackGauge { paintedTop = stackGauge.paint() }
        while true {
            if let abort, !isFinished {
                phase = .finished(outcome: .failed(abort), unit: nil, deviceNanoseconds: nil)
            }
            switch phase {
            case .idle:
                phase = .submitting(DeviceOperation(submission.request, notification: notification()))
                continue
            case .submitting(let operation):
                if device.submit(operation) {
                    _ = ASYNC_WAIT_CTX_set_status(waitContext.handle, ASYNC_STATUS_OK)
                    phase = .submitted(operation)
                } else if ringRetries < ringRetryLimit {
                    // The ring is full: pause and let the engine resume us shortly (QAT's "retry").
                    ringRetries += 1
                    _ = ASYNC_WAIT_CTX_set_status(waitContext.handle, ASYNC_STATUS_EAGAIN)
                } else {
                    _ = ASYNC_WAIT_CTX_set_status(waitContext.handle, ASYNC_STATUS_OK)
                    phase = .finished(outcome: .failed(EngineError(
                        code: "device_busy", message: "The accelerator's queue stayed full; retry shortly.")),
                        unit: nil, deviceNanoseconds: nil)
                    continue
                }
            case .submitted(let operation):
                // A wake-up with nothing to read, or a stale signal on a reused fd, pauses again.
                if case .fd(let notifier) = operation.notification, !notifier.consume() { break }
                if let result = operation.result {
                    phase = .finished(outcome: result.outcome, unit: result.unit, deviceNanoseconds: result.nanoseconds)
                    continue
                }
            case .finished:
                if let stackGauge = diagnostics.stackGauge { stackGauge.measure(paintedTop: paintedTop) }
                return 1
            }
            guard ASYNC_pause_job() == 1 else { return 0 }
        }
    }

    private var isFinished: Bool {
        if case .finished = phase { true } else { false }
    }

    /// How the device will tell this job it is done: the wait context's callback when the
    /// engine set one, as an accelerator engine checks, else the context's eventfd.
    private func notification() -> DeviceNotification {
        var callback: ASYNC_callback_fn?
        var argument: UnsafeMutableRawPointer?
        if ASYNC_WAIT_CTX_get_callback(waitContext.handle, &callback, &argument) == 1,
           let callback, let argument {
            return .callback(ResumeCallback(function: callback, argument: argument, owner: resumeTicket))
        }
        let notifier = waitContext.notifier!  // fd mode always has one
        _ = ASYNC_WAIT_CTX_set_wait_fd(waitContext.handle, waitContext.key, notifier.fd, nil, nil)
        return .fd(notifier)
    }
}

/// The C entry point of every job's fibre; `arguments` holds the AsyncJob's address.
private func runJobOnFibre(_ arguments: UnsafeMutableRawPointer?) -> Int32 {
    guard let arguments else { return 0 }
    let job = Unmanaged<AsyncJob>.fromOpaque(arguments.load(as: UnsafeMutableRawPointer.self)).takeUnretainedValue()
    return job.runOnFibre()
}

/// The wait-context callback the device calls in callback mode, on the device's thread: it
/// only queues the job for resumption on its engine thread.
private func resumeTicketCallback(_ argument: UnsafeMutableRawPointer?) -> Int32 {
    guard let argument else { return 0 }
    Unmanaged<ResumeTicket>.fromOpaque(argument).takeUnretainedValue().fire()
    return 1
}

/// The calling thread's ASYNC job pool.
enum AsyncPool {
    static var isCapable: Bool { ASYNC_is_capable() == 1 }

    static func initThread(maxJobs: Int) throws {
        guard ASYNC_init_thread(maxJobs, 0) == 1 else {
            throw EngineError(code: "engine_error", message: "ASYNC_init_thread failed: \(openSSLErrors())")
        }
    }

    static func cleanupThread() { ASYNC_cleanup_thread() }
}

/// Drains OpenSSL's thread-local error queue into one line.
func openSSLErrors() -> String {
    var messages: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return messages.isEmpty ? "no OpenSSL error recorded" : messages.joined(separator: "; ")
}
