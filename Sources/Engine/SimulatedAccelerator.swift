import Synchronization

/// How the simulated accelerator behaves.
public struct DeviceConfiguration: Sendable {
    /// Time from submission to completion of every operation.
    public var latency: Duration
    /// Execution units; operations are spread over them and each reports the unit that ran it.
    public var units: Int

    public init(latency: Duration = .milliseconds(2), units: Int = 4) {
        precondition(units >= 1, "the device needs at least one unit")
        self.latency = latency
        self.units = units
    }
}

/// What the device reports for an operation.
enum DeviceOutcome: Sendable {
    case completed(output: [UInt8])
    case failed(EngineError)
}

/// One operation handed to the device. The job (on its fibre) creates and submits it;
/// the device thread fills in the outcome, then signals `notifier`.
final class DeviceOperation: Sendable {
    let algorithm: Algorithm
    let input: [UInt8]
    let notifier: EventFD
    private let state = Mutex<(outcome: DeviceOutcome?, unit: Int, nanoseconds: UInt64)>((nil, 0, 0))

    init(algorithm: Algorithm, input: [UInt8], notifier: EventFD) {
        self.algorithm = algorithm
        self.input = input
        self.notifier = notifier
    }

    /// The outcome once the device has finished, with the unit and the time it took.
    var result: (outcome: DeviceOutcome, unit: Int, nanoseconds: UInt64)? {
        state.withLock { state in
            state.outcome.map { ($0, state.unit, state.nanoseconds) }
        }
    }

    fileprivate func complete(_ outcome: DeviceOutcome, unit: Int, nanoseconds: UInt64) {
        state.withLock { $0 = (outcome, unit, nanoseconds) }
        notifier.signal()
    }
}

/// A simulated crypto accelerator: operations complete after the configured latency on the
/// device's own thread, driven by one timer and a queue ordered by due time (never a thread or
/// a sleep per operation), and each completion signals the operation's notifier.
public final class SimulatedAccelerator: Sendable {
    private struct Pending {
        let due: UInt64
        let sequence: UInt64
        let submittedAt: UInt64
        let unit: Int
        let operation: DeviceOperation
    }

    private struct Inbox {
        var submitted: [Pending] = []
        var sequence: UInt64 = 0
        var nextUnit = 0
        var stopping = false
    }

    public let configuration: DeviceConfiguration
    private let latencyNanoseconds: UInt64
    private let inbox = Mutex(Inbox())
    private let wakeUp: EventFD
    private let timer: MonotonicTimer
    private let thread = Mutex<NativeThread?>(nil)

    public init(configuration: DeviceConfiguration) throws {
        self.configuration = configuration
        let (seconds, attoseconds) = configuration.latency.components
        latencyNanoseconds = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
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

    /// Queues an operation. Called on a job's fibre: small, no blocking beyond a short lock.
    func submit(_ operation: DeviceOperation) {
        let now = readMonotonicClock()
        let wasIdle = inbox.withLock { inbox in
            let pending = Pending(
                due: now + latencyNanoseconds, sequence: inbox.sequence, submittedAt: now,
                unit: inbox.nextUnit, operation: operation)
            inbox.sequence &+= 1
            inbox.nextUnit = (inbox.nextUnit + 1) % configuration.units
            inbox.submitted.append(pending)
            return inbox.submitted.count == 1
        }
        if wasIdle { wakeUp.signal() }
    }

    /// Completes what is queued, then stops the device thread. Idempotent.
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
        var queue = DueQueue<Pending>(before: { ($0.due, $0.sequence) < ($1.due, $1.sequence) })
        while true {
            let (arrived, stopping) = inbox.withLock { inbox in
                defer { inbox.submitted.removeAll(keepingCapacity: true) }
                return (inbox.submitted, inbox.stopping)
            }
            for pending in arrived { queue.insert(pending) }

            let now = readMonotonicClock()
            while let next = queue.first, next.due <= now {
                _ = queue.removeFirst()
                next.operation.complete(
                    Self.execute(next.operation), unit: next.unit, nanoseconds: now - next.submittedAt)
            }
            if stopping && queue.isEmpty { return }
            if let next = queue.first {
                timer.arm(at: next.due)
            }
            epoll.wait { token in
                if token == 0 { _ = wakeUp.consume() } else { timer.consume() }
            }
        }
    }

    /// The device's arithmetic. An empty input is a device error, as in the original demo.
    private static func execute(_ operation: DeviceOperation) -> DeviceOutcome {
        guard !operation.input.isEmpty else {
            return .failed(EngineError(code: "device_error", message: "The accelerator rejected an empty input."))
        }
        switch operation.algorithm {
        case .xor0xAA:
            return .completed(output: operation.input.map { $0 ^ 0xAA })
        }
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
    var count: Int { heap.count }

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
