internal import COpenSSL
import Foundation

/// An `ASYNC_WAIT_CTX` with the eventfd the device signals. One engine thread owns it and
/// reuses it for job after job, as accelerator engines keep one stable fd per context.
final class WaitContext {
    let handle: OpaquePointer
    let notifier: EventFD

    init() throws {
        guard let handle = ASYNC_WAIT_CTX_new() else {
            throw EngineError(code: "engine_error", message: "ASYNC_WAIT_CTX_new failed: \(openSSLErrors())")
        }
        do {
            notifier = try EventFD()
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
        guard ASYNC_WAIT_CTX_get_changed_fds(handle, nil, &addedCount, nil, &removedCount) == 1 else {
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
}

/// One job on an engine thread: the request, its ASYNC_JOB while it is paused, and the
/// state machine its fibre runs. Confined to the engine thread that owns it.
final class AsyncJob {
    enum Phase {
        /// Not yet handed to the device.
        case idle
        /// On the device; the fibre waits for the signal.
        case submitted(DeviceOperation)
        /// The device answered (or the job could not be submitted).
        case finished(outcome: DeviceOutcome, unit: Int?, deviceNanoseconds: UInt64?)
    }

    let submission: EngineSubmission
    let device: SimulatedAccelerator
    let waitContext: WaitContext
    let stackGauge: FibreStackGauge?
    /// The paused ASYNC_JOB, nil before the first start and after it finished.
    var handle: OpaquePointer?
    var phase = Phase.idle
    var pauses = 0
    /// Where the fibre's stack was painted from, when the gauge is on.
    private var paintedTop: UInt = 0

    init(submission: EngineSubmission, device: SimulatedAccelerator, waitContext: WaitContext,
         stackGauge: FibreStackGauge?) {
        self.submission = submission
        self.device = device
        self.waitContext = waitContext
        self.stackGauge = stackGauge
    }

    enum StepResult {
        case paused
        case finished
        case noJobsAvailable
        case failed(EngineError)
    }

    /// Starts or resumes the job on the calling (engine) thread.
    func step() -> StepResult {
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
    /// of its 32 KiB. This runs the fibre's Swift paths once on a normal stack instead. The
    /// operation it submits has no input, so the device answers it with an error no one awaits.
    static func instantiateFibreTypes(device: SimulatedAccelerator, notifier: EventFD) {
        let operation = DeviceOperation(algorithm: .xor0xAA, input: [], notifier: notifier)
        device.submit(operation)
        var phase = Phase.idle
        phase = .submitted(operation)
        if case .submitted(let submitted) = phase, let result = submitted.result {
            phase = .finished(outcome: result.outcome, unit: result.unit, deviceNanoseconds: result.nanoseconds)
        }
        phase = .finished(outcome: .completed(output: []), unit: nil, deviceNanoseconds: nil)
        _ = phase
    }

    /// The job's state machine, on its 32 KiB fibre stack with no guard page: no logging, no
    /// formatting, no deep calls. Never pauses while a Swift access is open.
    fileprivate func runOnFibre() -> Int32 {
        if let stackGauge { paintedTop = stackGauge.paint() }
        while true {
            switch phase {
            case .idle:
                let operation = DeviceOperation(
                    algorithm: submission.request.algorithm, input: submission.request.input,
                    notifier: waitContext.notifier)
                guard ASYNC_WAIT_CTX_set_wait_fd(waitContext.handle, waitContext.key,
                                                 waitContext.notifier.fd, nil, nil) == 1 else {
                    return 0
                }
                phase = .submitted(operation)
                device.submit(operation)
            case .submitted(let operation):
                // A wake-up with nothing to read, or a stale signal on a reused fd, pauses again.
                if waitContext.notifier.consume(), let result = operation.result {
                    phase = .finished(outcome: result.outcome, unit: result.unit, deviceNanoseconds: result.nanoseconds)
                    if let stackGauge { stackGauge.measure(paintedTop: paintedTop) }
                    return 1
                }
            case .finished:
                return 1
            }
            guard ASYNC_pause_job() == 1 else { return 0 }
        }
    }
}

/// The C entry point of every job's fibre; `arguments` holds the AsyncJob's address.
private func runJobOnFibre(_ arguments: UnsafeMutableRawPointer?) -> Int32 {
    guard let arguments else { return 0 }
    let job = Unmanaged<AsyncJob>.fromOpaque(arguments.load(as: UnsafeMutableRawPointer.self)).takeUnretainedValue()
    return job.runOnFibre()
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
