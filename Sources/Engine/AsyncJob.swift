internal import CCipherJob
internal import COpenSSL
internal import OffloadSim
import Foundation
import Glibc

/// One job on an engine thread: its cipher operation, laid out in memory that stays put while
/// the job is paused, and its ASYNC_JOB. Confined to the engine thread that owns it.
final class AsyncJob {
    static let keyByteCount = 32
    static let nonceByteCount = 12
    static let tagByteCount = 16

    let submission: EngineSubmission
    let waitContext: WaitContext
    let diagnostics: EngineDiagnostics
    /// The paused ASYNC_JOB, nil before the first start and after it finished.
    var handle: OpaquePointer?
    var pauses = 0
    /// Set by the engine when the job must end now (its deadline passed, or shutdown ran out of
    /// time); the job then ends with this error. OpenSSL has no cancel.
    var abort: EngineError?
    /// The client was answered (the job timed out in a provider that cannot be told to fail
    /// it); the job is kept only until the provider lets it finish.
    var detached = false
    private let cipherContext: OpaquePointer
    /// A MAC job's context (EVP_MAC_CTX), nil for a cipher.
    private let macContext: OpaquePointer?
    /// A signature job's digest context and private key (EVP_MD_CTX, EVP_PKEY).
    private let signing: (context: OpaquePointer, key: OpaquePointer)?
    private let work: UnsafeMutablePointer<cipher_job>
    /// A rewrap's sealing half (run on the first half's output), and its cipher context.
    private let sealing: (work: UnsafeMutablePointer<cipher_job>, context: OpaquePointer)?
    /// key | nonce | tag | aad | input | output, all the job's bytes in one allocation; a
    /// rewrap adds key | nonce | tag | output of its sealing half.
    private let memory: UnsafeMutableRawBufferPointer
    private var owningThread: pthread_t?

    /// Lays the operation out for the job. Fails when the request cannot run (a ciphertext too
    /// short to hold a nonce and a tag), before any job is started.
    /// `cipher` is the EVP_CIPHER, or the EVP_MAC of a MAC algorithm; nil for a signature.
    init(submission: EngineSubmission, cipher: OpaquePointer?, waitContext: WaitContext,
         diagnostics: EngineDiagnostics) throws {
        // `submission.request` spelled out, here and below: a `let` of an immutable class is
        // read field by field, where a local copy of the request retained all its arrays.
        let isAEAD = submission.request.algorithm.isAEAD
        let opensSealed = isAEAD && submission.request.operation.opensSealed
        if opensSealed && submission.request.input.count < Algorithm.aeadOverhead {
            throw EngineError(
                code: .invalidCiphertext,
                message: "The input is shorter than a nonce and a tag (\(Algorithm.aeadOverhead) bytes); it was not made by /encrypt.")
        }
        if (isAEAD || !submission.request.algorithm.isCipher) && submission.request.key == nil {
            throw EngineError(code: .missingKey, message: "\(submission.request.algorithm.rawValue) needs a key.")
        }
        guard let cipherContext = EVP_CIPHER_CTX_new() else {
            throw EngineError(code: .engineError, message: "EVP_CIPHER_CTX_new failed: \(openSSLErrors())")
        }
        let dataCount = opensSealed ? submission.request.input.count - Algorithm.aeadOverhead : submission.request.input.count
        let fixed = Self.keyByteCount + Self.nonceByteCount + Self.tagByteCount
        let rewraps = submission.request.operation == .rewrap && submission.request.rewrapKey != nil
        // A MAC's output is its 32 bytes, whatever the input's length.
        let outputCount = submission.request.algorithm.isMAC ? Algorithm.macBytes : submission.request.algorithm.isSignature ? 128 : dataCount
        let signatureCount = submission.request.algorithm.isSignature ? submission.request.expected.count : 0
        let byteCount = fixed + submission.request.aad.count + dataCount + outputCount + 1 + (rewraps ? fixed + dataCount : 0)
            + signatureCount
        // malloc, freed with free: `allocate` asks the runtime for 16-byte alignment whatever
        // it is given, which it serves with posix_memalign, slower than malloc.
        memory = UnsafeMutableRawBufferPointer(start: malloc(byteCount)!, count: byteCount)
        memory.initializeMemory(as: UInt8.self, repeating: 0)
        let base = memory.baseAddress!
        let key = base
        let nonce = key + Self.keyByteCount
        let tag = nonce + Self.nonceByteCount
        let aad = tag + Self.tagByteCount
        let input = aad + submission.request.aad.count
        let output = input + dataCount
        if submission.request.algorithm.isSignature {
            guard let privateKey = submission.request.key?.privateKey() else {
                EVP_CIPHER_CTX_free(cipherContext)
                free(memory.baseAddress)
                throw EngineError(code: .invalidKey, message: "Key \(submission.request.key?.name ?? "") holds no private key.")
            }
            guard let context = EVP_MD_CTX_new() else {
                EVP_PKEY_free(privateKey)
                EVP_CIPHER_CTX_free(cipherContext)
                free(memory.baseAddress)
                throw EngineError(code: .engineError, message: "EVP_MD_CTX_new failed: \(openSSLErrors())")
            }
            signing = (context, privateKey)
        } else {
            signing = nil
        }
        if submission.request.algorithm.isMAC {
            guard let context = EVP_MAC_CTX_new(cipher) else {
                EVP_CIPHER_CTX_free(cipherContext)
                free(memory.baseAddress)
                throw EngineError(code: .engineError, message: "EVP_MAC_CTX_new failed: \(openSSLErrors())")
            }
            macContext = context
        } else {
            macContext = nil
        }
        if let cipherKey = submission.request.key { cipherKey.bytes.withUnsafeBytes { key.copyMemory(from: $0.baseAddress!, byteCount: Self.keyByteCount) } }
        submission.request.aad.withUnsafeBytes { if let source = $0.baseAddress { aad.copyMemory(from: source, byteCount: $0.count) } }
        submission.request.input.withUnsafeBytes { sealed in
            guard let source = sealed.baseAddress else { return }
            if opensSealed {
                nonce.copyMemory(from: source, byteCount: Self.nonceByteCount)
                input.copyMemory(from: source + Self.nonceByteCount, byteCount: dataCount)
                tag.copyMemory(from: source + Self.nonceByteCount + dataCount, byteCount: Self.tagByteCount)
            } else {
                input.copyMemory(from: source, byteCount: dataCount)
            }
        }
        if isAEAD && !opensSealed {
            guard RAND_bytes(nonce.assumingMemoryBound(to: UInt8.self), Int32(Self.nonceByteCount)) == 1 else {
                EVP_CIPHER_CTX_free(cipherContext)
                free(memory.baseAddress)
                throw EngineError(code: .engineError, message: "RAND_bytes failed: \(openSSLErrors())")
            }
        }
        work = malloc(MemoryLayout<cipher_job>.stride)!.bindMemory(to: cipher_job.self, capacity: 1)
        work.initialize(to: cipher_job())
        work.pointee.context = cipherContext
        work.pointee.mac_context = macContext
        work.pointee.cipher = submission.request.algorithm.isMAC ? nil : cipher
        work.pointee.encrypt = submission.request.operation.opensSealed ? 0 : 1
        work.pointee.is_aead = isAEAD ? 1 : 0
        work.pointee.key = isAEAD || submission.request.algorithm.isMAC ? UnsafePointer(key.assumingMemoryBound(to: UInt8.self)) : nil
        work.pointee.nonce = isAEAD ? UnsafePointer(nonce.assumingMemoryBound(to: UInt8.self)) : nil
        work.pointee.aad = UnsafePointer(aad.assumingMemoryBound(to: UInt8.self))
        work.pointee.aad_length = submission.request.aad.count
        work.pointee.input = UnsafePointer(input.assumingMemoryBound(to: UInt8.self))
        work.pointee.input_length = dataCount
        work.pointee.output = output.assumingMemoryBound(to: UInt8.self)
        work.pointee.tag = tag.assumingMemoryBound(to: UInt8.self)
        work.pointee.measures_stack = diagnostics.stackGauge != nil ? 1 : 0
        if let signing {
            work.pointee.md_context = signing.context
            work.pointee.pkey = signing.key
            work.pointee.digests_sha256 = submission.request.algorithm == .ecdsaP256 ? 1 : 0
            work.pointee.verify = submission.request.operation == .verify ? 1 : 0
            // The signature to check, after everything else in the job's memory.
            let signature = memory.baseAddress! + (memory.count - signatureCount)
            submission.request.expected.withUnsafeBytes { if let source = $0.baseAddress { signature.copyMemory(from: source, byteCount: $0.count) } }
            work.pointee.signature = UnsafePointer(signature.assumingMemoryBound(to: UInt8.self))
            work.pointee.signature_length = signatureCount
        }
        if rewraps, let sealingKey = submission.request.rewrapKey {
            // The sealing half: a fresh nonce, the new key version, the same AAD; its input is
            // the opening half's output, set by the job when that half is done.
            let key2 = output + dataCount + 1
            let nonce2 = key2 + Self.keyByteCount
            let tag2 = nonce2 + Self.nonceByteCount
            let output2 = tag2 + Self.tagByteCount
            sealingKey.bytes.withUnsafeBytes { key2.copyMemory(from: $0.baseAddress!, byteCount: Self.keyByteCount) }
            guard let context2 = EVP_CIPHER_CTX_new(),
                RAND_bytes(nonce2.assumingMemoryBound(to: UInt8.self), Int32(Self.nonceByteCount)) == 1
            else {
                EVP_CIPHER_CTX_free(cipherContext)
                free(memory.baseAddress)
                free(work)
                throw EngineError(code: .engineError, message: "Preparing the rewrap failed: \(openSSLErrors())")
            }
            let second = malloc(MemoryLayout<cipher_job>.stride)!.bindMemory(to: cipher_job.self, capacity: 1)
            second.initialize(to: cipher_job())
            second.pointee.context = context2
            second.pointee.cipher = cipher
            second.pointee.encrypt = 1
            second.pointee.is_aead = 1
            second.pointee.key = UnsafePointer(key2.assumingMemoryBound(to: UInt8.self))
            second.pointee.nonce = UnsafePointer(nonce2.assumingMemoryBound(to: UInt8.self))
            second.pointee.aad = UnsafePointer(aad.assumingMemoryBound(to: UInt8.self))
            second.pointee.aad_length = submission.request.aad.count
            second.pointee.output = output2.assumingMemoryBound(to: UInt8.self)
            second.pointee.tag = tag2.assumingMemoryBound(to: UInt8.self)
            work.pointee.then = second
            sealing = (second, context2)
        } else {
            sealing = nil
        }
        self.cipherContext = cipherContext
        self.submission = submission
        self.waitContext = waitContext
        self.diagnostics = diagnostics
    }

    deinit {
        EVP_CIPHER_CTX_free(cipherContext)
        if let macContext { EVP_MAC_CTX_free(macContext) }
        if let signing {
            EVP_MD_CTX_free(signing.context)
            EVP_PKEY_free(signing.key)
        }
        if let sealing {
            EVP_CIPHER_CTX_free(sealing.context)
            free(sealing.work)
        }
        // The key and the data leave no copy behind in freed memory.
        memset(memory.baseAddress!, 0, memory.count)
        free(memory.baseAddress)
        free(work)
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
        var argument = UnsafeMutableRawPointer(work)
        // ASYNC_start_job copies `size` bytes of the arguments once, at start: hand it the
        // address of the pointer to the job's work, not the work.
        let status = withUnsafeMutablePointer(to: &argument) { pointer in
            ASYNC_start_job(
                &job, waitContext.handle, &fibreResult, cipher_job_run, pointer,
                MemoryLayout<UnsafeMutableRawPointer>.size)
        }
        handle = job
        switch status {
        case ASYNC_PAUSE:
            pauses += 1
            return .paused
        case ASYNC_FINISH:
            if let stackGauge = diagnostics.stackGauge { stackGauge.record(work.pointee.deepest_stack_bytes) }
            if fibreResult == 1 { return .finished }
            return .failed(EngineError(code: .engineError, message: "The job function did not run."))
        case ASYNC_NO_JOBS:
            return .noJobsAvailable
        default:
            return .failed(EngineError(code: .engineError, message: "ASYNC_start_job failed: \(openSSLErrors())"))
        }
    }

    /// What the finished job produced, and what the provider said of the device.
    func outcome(provider: CryptoProvider) -> (outcome: Result<[UInt8], EngineError>, unit: Int?, deviceNanoseconds: UInt64?) {
        let result = work.pointee
        let unit = result.has_device_result == 1 ? Int(result.device_unit) : nil
        let device = result.has_device_result == 1 ? result.device_nanoseconds : nil
        if let abort { return (.failure(abort), unit, device) }
        guard result.failed_step == Int32(CIPHER_JOB_OK.rawValue) else {
            return (.failure(failure(result, provider: provider)), unit, device)
        }
        if submission.request.operation == .verify && submission.request.algorithm.isMAC {
            // Equal MACs, compared in constant time: one byte, 1 or 0.
            let computed = UnsafeRawBufferPointer(start: result.output, count: result.output_length)
            let equal = submission.request.expected.count == computed.count
                && submission.request.expected.withUnsafeBytes { CRYPTO_memcmp($0.baseAddress, computed.baseAddress, computed.count) } == 0
            return (.success([equal ? 1 : 0]), unit, device)
        }
        // A rewrap's output is its sealing half's.
        let last = sealing?.work.pointee ?? result
        let produced = UnsafeRawBufferPointer(start: last.output, count: last.output_length)
        if submission.request.algorithm.isAEAD && submission.request.operation.sealsOutput {
            var sealed = [UInt8]()
            sealed.reserveCapacity(Self.nonceByteCount + produced.count + Self.tagByteCount)
            sealed += UnsafeRawBufferPointer(start: last.nonce, count: Self.nonceByteCount)
            sealed += produced
            sealed += UnsafeRawBufferPointer(start: last.tag, count: Self.tagByteCount)
            return (.success(sealed), unit, device)
        }
        return (.success(Array(produced)), unit, device)
    }

    private func failure(_ result: cipher_job, provider: CryptoProvider) -> EngineError {
        switch provider.simulationReason(of: result.error) {
        case OFFLOADSIM_R_DEVICE_ERROR:
            return EngineError(code: .deviceError, message: "The accelerator reported a failure for this operation.")
        case OFFLOADSIM_R_STALLED:
            return EngineError(code: .deviceError, message: "The accelerator never completed the operation.")
        case OFFLOADSIM_R_RING_FULL:
            return EngineError(code: .deviceBusy, message: "The accelerator's queue stayed full; retry shortly.")
        case OFFLOADSIM_R_ABORTED:
            return EngineError(code: .jobTimeout, message: "The accelerator did not complete the job in time.")
        default:
            break
        }
        if result.failed_step == Int32(CIPHER_JOB_FINAL.rawValue) && submission.request.algorithm.isAEAD
            && submission.request.operation.opensSealed {
            // Which of key, data or AAD was wrong cannot be told apart, by design of AEAD.
            return EngineError(
                code: .authenticationFailed,
                message: "The data failed authentication: wrong key, wrong aad_base64, or tampered input.")
        }
        let step = switch result.failed_step {
        case Int32(CIPHER_JOB_INIT.rawValue): "init"
        case Int32(CIPHER_JOB_AAD.rawValue): "aad"
        case Int32(CIPHER_JOB_UPDATE.rawValue): "update"
        case Int32(CIPHER_JOB_FINAL.rawValue): "final"
        default: "tag"
        }
        return EngineError(
            code: .providerError,
            message: "The provider '\(provider.name)' failed the operation (\(step)): \(openSSLErrorString(result.error)).")
    }
}

/// The wait-context callback the provider calls in callback mode, on the thread that polls the
/// device: it only queues the job for resumption on its engine thread.
func resumeTicketCallback(_ argument: UnsafeMutableRawPointer?) -> Int32 {
    guard let argument else { return 0 }
    Unmanaged<ResumeTicket>.fromOpaque(argument).takeUnretainedValue().fire()
    return 1
}

/// The calling thread's ASYNC job pool.
enum AsyncPool {
    static var isCapable: Bool { ASYNC_is_capable() == 1 }

    static func initThread(maxJobs: Int) throws {
        guard ASYNC_init_thread(maxJobs, 0) == 1 else {
            throw EngineError(code: .engineError, message: "ASYNC_init_thread failed: \(openSSLErrors())")
        }
    }

    static func cleanupThread() { ASYNC_cleanup_thread() }
}

/// One OpenSSL error code as text.
func openSSLErrorString(_ code: UInt) -> String {
    guard code != 0 else { return "no OpenSSL error recorded" }
    var buffer = [CChar](repeating: 0, count: 256)
    ERR_error_string_n(code, &buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Drains OpenSSL's thread-local error queue into one line.
func openSSLErrors() -> String {
    var messages: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        messages.append(openSSLErrorString(code))
    }
    return messages.isEmpty ? "no OpenSSL error recorded" : messages.joined(separator: "; ")
}
