import Engine
import Synchronization

/// The request and job metrics one engine loop counts, on the loop's own thread and in memory
/// no other loop writes; `ServiceMetrics` sums every loop's when /metrics is read. Counters and
/// histograms shared by all loops (swift-prometheus's: a lock or an atomic per observation, five
/// per request, and a histogram's bucket search through non-inlined `Duration` comparisons)
/// cost about 4,000 instructions per request and passed their cache lines between cores.
final class LoopMetrics: Sendable {
    /// The label values of one request's series (its status as a number).
    struct RequestSeries: Hashable, Comparable {
        let route: String
        let method: String
        let status: Int

        /// Hashes the lengths rather than the text: the few series that share them are told
        /// apart by `==`.
        func hash(into hasher: inout Hasher) {
            hasher.combine(status)
            hasher.combine(route.utf8.count)
            hasher.combine(method.utf8.count)
        }

        static func < (left: Self, right: Self) -> Bool {
            (left.route, left.method, left.status) < (right.route, right.method, right.status)
        }
    }

    /// The label values of one finished job's series.
    struct JobSeries: Hashable, Comparable {
        let provider: String
        let algorithm: Algorithm
        let operation: JobOperation
        let status: JobStatus
        let error: EngineError.Code?

        /// The algorithm's case (`Algorithm` hashes that), lengths for the rest (these enums'
        /// own hashes hash their raw strings), and no provider: it is the same for every job of
        /// a server.
        func hash(into hasher: inout Hasher) {
            hasher.combine(algorithm)
            hasher.combine(operation.rawValue.utf8.count)
            hasher.combine(status.rawValue.utf8.count)
            hasher.combine(error?.rawValue.utf8.count ?? -1)
        }

        var labelValues: [String] {
            [provider, algorithm.rawValue, operation.rawValue, status.rawValue, error?.rawValue ?? "none"]
        }

        static func < (left: Self, right: Self) -> Bool { left.labelValues.lexicographicallyPrecedes(right.labelValues) }
    }

    /// A histogram's observations: how many fell in each bucket (not cumulative; the last
    /// counts those above the largest bound) and their sum. Inline, so recording allocates nothing.
    struct Durations {
        /// The buckets' upper bounds, in nanoseconds: 100 us to 30 s.
        static let boundsNanoseconds: [Int64] = [
            100_000, 250_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000,
            100_000_000, 250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 5_000_000_000, 10_000_000_000,
            30_000_000_000,
        ]
        var counts = InlineArray<18, Int>(repeating: 0)
        var sumNanoseconds: Int64 = 0

        mutating func record(nanoseconds: Int64) {
            var bucket = 0
            while bucket < Self.boundsNanoseconds.count && nanoseconds > Self.boundsNanoseconds[bucket] { bucket += 1 }
            counts[bucket] += 1
            sumNanoseconds &+= nanoseconds
        }

        mutating func add(_ other: Durations) {
            for bucket in counts.indices { counts[bucket] += other.counts[bucket] }
            sumNanoseconds &+= other.sumNanoseconds
        }
    }

    struct Requests {
        var answered = 0
        var durations = Durations()

        mutating func add(_ other: Requests) {
            answered += other.answered
            durations.add(other.durations)
        }
    }

    struct Jobs {
        var finished = 0
        var durations = Durations()
        var deviceDurations = Durations()

        mutating func add(_ other: Jobs) {
            finished += other.finished
            durations.add(other.durations)
            deviceDurations.add(other.deviceDurations)
        }
    }

    struct State {
        var requests: [RequestSeries: Requests] = [:]
        var jobs: [JobSeries: Jobs] = [:]
    }

    /// A loop's counts: the series observed last counted apart, outside the tables, until
    /// another series is observed or the counts are read. Traffic mostly repeats one series
    /// (one route, method and status; one kind of job), which is then counted with a
    /// comparison instead of hashing its labels and looking it up (about 900 instructions a
    /// request and its job).
    private struct Counts {
        var tables = State()
        var lastRequest: (series: RequestSeries, counts: Requests)?
        var lastJob: (series: JobSeries, counts: Jobs)?

        /// The tables with the last series added in.
        var merged: State {
            var merged = tables
            if let lastRequest { merged.requests[lastRequest.series, default: Requests()].add(lastRequest.counts) }
            if let lastJob { merged.jobs[lastJob.series, default: Jobs()].add(lastJob.counts) }
            return merged
        }
    }

    /// Taken by the loop for each observation and by /metrics to read: the loop's own lock,
    /// so uncontended but for a read.
    private let state = Mutex(Counts())

    func requestAnswered(_ series: RequestSeries, nanoseconds: Int64) {
        state.withLock { state in
            if state.lastRequest?.series != series {
                if let last = state.lastRequest { state.tables.requests[last.series, default: Requests()].add(last.counts) }
                state.lastRequest = (series, Requests())
            }
            Self.count(&state.lastRequest!.counts, nanoseconds: nanoseconds)
        }
    }

    func jobFinished(_ series: JobSeries, nanoseconds: Int64?, deviceNanoseconds: Int64?) {
        state.withLock { state in
            if state.lastJob?.series != series {
                if let last = state.lastJob { state.tables.jobs[last.series, default: Jobs()].add(last.counts) }
                state.lastJob = (series, Jobs())
            }
            Self.count(&state.lastJob!.counts, nanoseconds: nanoseconds, deviceNanoseconds: deviceNanoseconds)
        }
    }

    private static func count(_ requests: inout Requests, nanoseconds: Int64) {
        requests.answered += 1
        requests.durations.record(nanoseconds: nanoseconds)
    }

    private static func count(_ jobs: inout Jobs, nanoseconds: Int64?, deviceNanoseconds: Int64?) {
        jobs.finished += 1
        if let nanoseconds { jobs.durations.record(nanoseconds: nanoseconds) }
        if let deviceNanoseconds { jobs.deviceDurations.record(nanoseconds: deviceNanoseconds) }
    }

    /// Adds this loop's counts to `total`.
    func add(to total: inout State) {
        let counts = state.withLock { $0.merged }
        for (series, requests) in counts.requests { total.requests[series, default: Requests()].add(requests) }
        for (series, jobs) in counts.jobs { total.jobs[series, default: Jobs()].add(jobs) }
    }
}
