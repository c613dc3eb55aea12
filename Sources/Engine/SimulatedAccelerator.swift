import Synchronization

/// How the simulated accelerator behaves. It is modelled on Intel QAT: a few pipelined
/// execution units fed from a submission ring of fixed depth.
public struct DeviceConfiguration: Sendable {
    /// Pipeline latency of every operation, added after its unit has processed its bytes.
    public var latency: Duration
    /// Parallel execution units; each processes one operation's bytes at a time.
    public var units: Int
    /// Bytes per second one unit processes; nil is unlimited (latency alone).
    public var throughputBytesPerSecond: Double?
    /// Submission ring entries: operations on the device at once. A full ring asks the job to retry.
    public var queueDepth: Int
    /// Fraction of operations the device reports as failed.
    public var errorRate: Double
    /// Fraction of operations the device loses: they never complete (the job timeout ends them).
    public var stallRate: Double
    /// Seed of the fault injection, so a run can be repeated exactly.
    public var seed: UInt64

    public init(latency: Duration = .milliseconds(2), units: Int = 4, throughputBytesPerSecond: Double? = nil,
                queueDepth: Int = 4096, errorRate: Double = 0, stallRate: Double = 0,
                seed: UInt64 = UInt64.random(in: 0...UInt64.max)) {
        self.latency = latency
        self.units = units
        self.throughputBytesPerSecond = throughputBytesPerSecond
        self.queueDepth = queueDepth
        self.errorRate = errorRate
        self.stallRate = stallRate
        self.seed = seed
    }

    func validate() throws {
        let invalid = EngineError.invalidConfiguration
        guard latency >= .zero else { throw invalid("The device latency cannot be negative.") }
        guard units >= 1 else { throw invalid("The device needs at least one unit.") }
        guard queueDepth >= 1 else { throw invalid("The device queue needs at least one entry.") }
        if let throughput = throughputBytesPerSecond, !(throughput > 0 && throughput.isFinite) {
            throw invalid("The device throughput must be a positive number of bytes per second.")
        }
        guard (0...1).contains(errorRate), (0...1).contains(stallRate), errorRate + stallRate <= 1 else {
            throw invalid("The error and stall rates are fractions from 0 to 1, together at most 1.")
        }
    }
}

/// What the device reports for an operation.
enum DeviceOutcome: Sendable {
    case completed(output: [UInt8])
    case failed(EngineError)
}

/// How the device tells a job its operation is done.
enum DeviceNotification: Sendable {
    /// Writes to the wait context's eventfd, which the engine watches with epoll.
    case fd(EventFD)
    /// Calls the wait context's callback (OpenSSL's ASYNC_WAIT_CTX_set_callback).
    case callback(ResumeCallback)
}

/// A C callback and its argument, as OpenSSL's wait context holds them.
/// `@unchecked Sendable`: the argument points at an object that `owner` keeps alive and that
/// is safe to use from any thread.
struct ResumeCallback: @unchecked Sendable {
    let function: @convention(c) (UnsafeMutableRawPointer?) -> Int32
    let argument: UnsafeMutableRawPointer
    let owner: AnyObject
}

/// One operation handed to the device. The job (on its fibre) creates and submits it;
/// the device thread fills in the outcome, then notifies.
final class DeviceOperation: Sendable {
    let request: JobRequest
    let notification: DeviceNotification
    /// A probe completes as soon as the device sees it, with no latency and no fault injection.
    let isProbe: Bool
    private let state = Mutex<(outcome: DeviceOutcome?, unit: Int, nanoseconds: UInt64)>((nil, 0, 0))

    init(_ request: JobRequest, notification: DeviceNotification, isProbe: Bool = false) {
        self.request = request
        self.notification = notification
        self.isProbe = isProbe
    }

    /// The outcome once the device has finished, with the unit and the time it took.
    var result: (outcome: DeviceOutcome, unit: Int, nanoseconds: UInt64)? {
        state.withLock { state in
            state.outcome.map { ($0, state.unit, state.nanoseconds) }
        }
    }

    fileprivate func complete(_ outcome: DeviceOutcome, unit: Int, nanoseconds: UInt64) {
        state.withLock { $0 = (outcome, unit, nanoseconds) }
        switch notification {
        case .fd(let eventFD): eventFD.signal()
        case .callback(let callback): _ = callback.function(callback.argument)
        }
    }
}

/// A simulated crypto accelerator. Operations complete on the device's own thread, driven by
/// one timer and a queue ordered by due time (never a thread or a sleep per operation).
public final class SimulatedAccelerator: Sendable {
    private struct Scheduled {
        let due: UInt64
        let sequence: UInt64
        let submittedAt: UInt64
        let unit: Int
        let outcome: DeviceOutcome?  // nil: compute at completion
        let operation: DeviceOperation
    }

    private struct Arrival {
        let submittedAt: UInt64
        let operation: DeviceOperation
    }

    private struct Inbox {
        var arrivals: [Arrival] = []
        /// Operations accepted and not yet completed (or lost): the ring's occupancy.
        var onDevice = 0
        var stopping = false
    }

    public let configuration: DeviceConfiguration
    private let latencyNanoseconds: UInt64
    private let inbox = Mutex(Inbox())
    private let wakeUp: EventFD
    private let timer: MonotonicTimer
    private let thread = Mutex<NativeThread?>(nil)
    private let busyNanoseconds: Mutex<[UInt64]>

    public init(configuration: DeviceConfiguration) throws {
        try configuration.validate()
        self.configuration = configuration
        latencyNanoseconds = configuration.latency.nanoseconds
        busyNanoseconds = Mutex([UInt64](repeating: 0, count: configuration.units))
        wakeUp = try EventFD()
        timer = try MonotonicTimer()
        let epoll = try Epoll(capacity: 2)
        try epoll.add(wakeUp.fd, token: 0)
        try epoll.add(timer.fd, token: 1)
        let started = try NativeThread(name: "device") { [self] in
            run(epoll)
        }
        thread.withLock { $0 = started }
    }

    /// Places an operation in the submission ring; false when the ring is full (retry later).
    /// Called on a job's fibre: small, no blocking beyond a short lock.
    func submit(_ operation: DeviceOperation) -> Bool {
        let now = readMonotonicClock()
        let (accepted, wasIdle) = inbox.withLock { inbox in
            guard inbox.onDevice < configuration.queueDepth else { return (false, false) }
            inbox.onDevice += 1
            inbox.arrivals.append(Arrival(submittedAt: now, operation: operation))
            return (true, inbox.arrivals.count == 1)
        }
        if wasIdle { wakeUp.signal() }
        return accepted
    }

    /// Operations in the ring now.
    public var operationsOnDevice: Int { inbox.withLock { $0.onDevice } }

    /// Time each unit has spent processing bytes since start (zero with unlimited throughput).
    public var unitBusyNanoseconds: [UInt64] { busyNanoseconds.withLock { $0 } }

    /// Stops the device thread; operations still queued are dropped (their engines have stopped).
    /// Idempotent.
    public func shutdown() {
        inbox.withLock { $0.stopping = true }
        wakeUp.signal()
        let running = thread.withLock { thread in
            defer { thread = nil }
            return thread
        }
        running?.join()
    }

    private func run(_ epoll: Epoll) {
        var queue = DueQueue<Scheduled>(before: { ($0.due, $0.sequence) < ($1.due, $1.sequence) })
        var unitFreeAt = [UInt64](repeating: 0, count: configuration.units)
        var nextUnit = 0
        var sequence: UInt64 = 0
        var faults = SplitMix64(seed: configuration.seed)
        var arrivals: [Arrival] = []
        while true {
            let stopping = inbox.withLock { inbox in
                swap(&arrivals, &inbox.arrivals)
                return inbox.stopping
            }
            var lost = 0  // left the ring without a scheduled completion
            for arrival in arrivals {
                if arrival.operation.isProbe {
                    arrival.operation.complete(Self.execute(arrival.operation), unit: 0, nanoseconds: 0)
                    lost += 1
                    continue
                }
                let draw = configuration.stallRate > 0 || configuration.errorRate > 0 ? faults.nextUnitInterval() : 1
                if draw < configuration.stallRate {
                    lost += 1
                    continue
                }
                // The unit that frees first takes it, rotating among units that are already free.
                var unit = nextUnit
                for offset in 0..<configuration.units {
                    let candidate = (nextUnit + offset) % configuration.units
                    if unitFreeAt[candidate] <= arrival.submittedAt { unit = candidate; break }
                    if unitFreeAt[candidate] < unitFreeAt[unit] { unit = candidate }
                }
                nextUnit = (unit + 1) % configuration.units
                let service = serviceNanoseconds(bytes: arrival.operation.request.input.count)
                let start = max(arrival.submittedAt, unitFreeAt[unit])
                unitFreeAt[unit] = start + service
                if service > 0 { busyNanoseconds.withLock { $0[unit] += service } }
                let outcome: DeviceOutcome? = draw < configuration.stallRate + configuration.errorRate
                    ? .failed(EngineError(code: "device_error", message: "The accelerator reported a failure for this operation."))
                    : nil
                queue.insert(Scheduled(
                    due: start + service + latencyNanoseconds, sequence: sequence, submittedAt: arrival.submittedAt,
                    unit: unit, outcome: outcome, operation: arrival.operation))
                sequence &+= 1
            }
            arrivals.removeAll(keepingCapacity: true)

            let now = readMonotonicClock()
            var completed = 0
            while let next = queue.first, next.due <= now {
                _ = queue.removeFirst()
                next.operation.complete(
                    next.outcome ?? Self.execute(next.operation), unit: next.unit,
                    nanoseconds: now - next.submittedAt)
                completed += 1
            }
            if completed + lost > 0 {
                inbox.withLock { $0.onDevice -= completed + lost }
            }
            if stopping { return }
            if let next = queue.first {
                timer.arm(at: next.due)
            }
            epoll.wait { token in
                if token == 0 { _ = wakeUp.consume() } else { timer.consume() }
            }
        }
    }

    private func serviceNanoseconds(bytes: Int) -> UInt64 {
        guard let throughput = configuration.throughputBytesPerSecond else { return 0 }
        return UInt64((Double(bytes) / throughput * 1e9).rounded())
    }

    /// The device's arithmetic. An empty input is a device error, as in the original demo.
    private static func execute(_ operation: DeviceOperation) -> DeviceOutcome {
        let request = operation.request
        guard !request.input.isEmpty else {
            return .failed(EngineError(code: "device_error", message: "The accelerator rejected an empty input."))
        }
        switch (request.algorithm, request.operation) {
        case (.xor0xAA, _):
            return .completed(output: request.input.map { $0 ^ 0xAA })
        case (_, let direction):
            guard let key = request.key else {
                return .failed(EngineError(code: "missing_key", message: "\(request.algorithm.rawValue) needs a key."))
            }
            return direction == .encrypt
                ? AEADCipher.seal(request.algorithm, key: key, plaintext: request.input, aad: request.aad)
                : AEADCipher.open(request.algorithm, key: key, sealed: request.input, aad: request.aad)
        }
    }
}

extension Duration {
    /// Whole nanoseconds, never negative.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}

/// A small deterministic random generator (SplitMix64) for repeatable fault injection.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in [0, 1).
    mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) / Double(1 << 53)
    }
}

/// A binary min-heap ordered by `before`.
struct DueQueue<Element> {
    private var heap: [Element] = []
    private let before: (Element, Element) -> Bool

    init(before: @escaping (Element, Element) -> Bool) {
        self.before = before
    }

    var first: Element? { heap.first }
    var isEmpty: Bool { heap.isEmpty }

    mutating func insert(_ element: Element) {
        heap.append(element)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeFirst() -> Element {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < heap.count && before(heap[left], heap[smallest]) { smallest = left }
                if right < heap.count && before(heap[right], heap[smallest]) { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
