import Dispatch
import Engine
import Foundation
import Logging
import Synchronization

/// Async jobs' records, the totals of every job, and the keys (their material sealed by the
/// caller), in a store that outlives the process (SQLite) or is shared by replicas
/// (PostgreSQL). Nothing here ever blocks the caller: writes queue
/// for a writer thread that commits them in batches (one transaction per batch), reads run on
/// a reader thread, and each answers through a closure called on that thread.
///
/// What is written, and when:
/// - an async job is inserted when it is accepted, and the caller answers 202 only once that
///   commit is done (`accepted`); its result is an update (`finished`), and reads report it
///   finished only once that is committed;
/// - a synchronous job was answered with its result: its record stays in the memory of the
///   process that ran it (the engine's `JobStore`), and only the totals of finished jobs (all
///   of them, per instance) are written, once a second: no write on a request's path;
/// - retention: finished jobs beyond the newest `retainedJobs` or older than `retention` are
///   deleted, and unfinished jobs past their deadline (their replica died) are failed as
///   `instance_lost`, once a second.
public final class DurableStore: Sendable {
    static let readCapacity = 4096
    static let maintenanceInterval = Duration.seconds(1)

    public let location: StoreLocation
    /// The name this process writes into the rows it inserts (see `JobRow`).
    public let instance: String
    private let retainedJobs: Int
    private let retention: Duration
    private let jobDeadline: Duration
    private let logger: Logger
    private let connect: @Sendable () throws(StoreError) -> any StoreConnection
    /// Called on the writer thread with every key, once a second (keys changed by any replica).
    private let onKeys: @Sendable ([StoredKey]) -> Void
    /// The keys as the store held them at start.
    public let initialKeys: [StoredKey]
    static let masterKeyCheckName = "master_key_check"
    /// Called on the writer thread with the ids of finished jobs once their records are committed.
    private let onCommitted: @Sendable ([UUID]) -> Void
    /// Jobs this process has finished since it started (completed, failed), read once a second.
    private let finishedTotals: @Sendable () -> (completed: Int, failed: Int)

    private struct PendingWrite {
        let write: StoreWrite
        let committed: (@Sendable (Bool) -> Void)?
    }

    private struct Queue {
        var writes: [PendingWrite] = []
        /// Key changes, each its own transaction after the batch; nil when the store is unreachable.
        var tasks: [@Sendable ((any StoreConnection)?) -> Void] = []
        var stopping = false
    }

    private let queue = Mutex(Queue())
    private let wakeWriter = DispatchSemaphore(value: 0)
    private let writerFinished = DispatchSemaphore(value: 0)
    /// Reads waiting for the reader thread; each says whether it found the connection lost.
    private let reads = Mutex<(tasks: [@Sendable ((any StoreConnection)?) -> Bool], stopping: Bool)>(([], false))
    private let wakeReader = DispatchSemaphore(value: 0)
    private let available = Atomic<Bool>(true)
    private let unavailableReason = Mutex<String?>(nil)
    private let committedWrites = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)
    private let totals = Mutex<(completed: Int, failed: Int)?>(nil)

    /// Opens the store (creating or migrating its schema), fails the unfinished jobs an earlier
    /// run of `instance` left behind, and starts the writer and reader threads. Throws when the
    /// store cannot be reached or is not ours.
    public init(
        location: StoreLocation, instance: String, retainedJobs: Int, retention: Duration, jobDeadline: Duration,
        logger: Logger, onCommitted: @escaping @Sendable ([UUID]) -> Void = { _ in },
        finishedTotals: @escaping @Sendable () -> (completed: Int, failed: Int) = { (0, 0) },
        masterKeyCheck: MasterKeyCheck? = nil, onKeys: @escaping @Sendable ([StoredKey]) -> Void = { _ in }
    ) throws(StoreError) {
        let connect: @Sendable () throws(StoreError) -> any StoreConnection
        switch location {
        case .memory: throw StoreError("memory: is not a durable store.")
        case .sqlite(let path): connect = { () throws(StoreError) in try SQLiteConnection(path: path) }
        case .postgres(let url, let password):
            connect = { () throws(StoreError) in try PostgresConnection(url: url, password: password) }
        }
        self.location = location
        self.instance = instance
        self.retainedJobs = retainedJobs
        self.retention = retention
        self.jobDeadline = jobDeadline
        self.logger = logger
        self.connect = connect
        self.onCommitted = onCommitted
        self.finishedTotals = finishedTotals
        self.onKeys = onKeys
        let writer = try connect()
        if let masterKeyCheck {
            let stored = try writer.setMetaIfAbsent(Self.masterKeyCheckName, masterKeyCheck.sealed)
            guard masterKeyCheck.opens(stored) else {
                throw StoreError(
                    "The master key does not open this store's keys (it is not the key the store was made with): "
                        + "give the right --master-key-file.")
            }
        }
        initialKeys = try writer.loadKeys()
        let lost = try writer.failUnfinished(
            instance: instance, deadlineBefore: nil, error: Self.instanceLost, now: Timestamp.now().wallNanoseconds)
        if lost > 0 {
            logger.warning("failed the jobs an earlier run left unfinished", metadata: ["jobs": "\(lost)", "instance": "\(instance)"])
        }
        let reader = try connect()
        let writerBox = ConnectionBox(writer)
        let readerBox = ConnectionBox(reader)
        let writerThread = Thread { [self] in runWriter(writerBox) }
        writerThread.name = "offload-http.store-writer"
        writerThread.start()
        let readerThread = Thread { [self] in runReader(readerBox) }
        readerThread.name = "offload-http.store-reader"
        readerThread.start()
    }

    /// The error of a job whose replica stopped before it finished.
    public static let instanceLost = EngineError(
        code: .instanceLost,
        message: "The replica that ran this job stopped before it finished; submit the job again.")

    // MARK: - Writes

    /// Inserts an async job just accepted; `committed(true)` once it is durable, `false` when
    /// the store is unavailable (the caller then refuses the job).
    public func accepted(_ record: JobRecord, committed: @escaping @Sendable (Bool) -> Void) {
        guard available.load(ordering: .relaxed) else { return committed(false) }
        let deadline = record.createdAt.wallNanoseconds &+ Int64(clamping: jobDeadline.nanoseconds)
        enqueue(PendingWrite(write: .insert(record, deadline: deadline), committed: committed))
    }

    /// Writes an async job's result; read back only once committed.
    public func finished(_ record: JobRecord) {
        enqueue(PendingWrite(write: .update(record), committed: nil))
    }

    // MARK: - Keys

    /// Creates a key with its first version (sealed by `seal`).
    public func createKey(name: String, type: String, seal: @escaping KeySealer, then: @escaping @Sendable (Result<KeyChange, StoreError>) -> Void) {
        change({ connection, now throws(StoreError) in try connection.createKey(name: name, type: type, now: now, seal: seal) }, then: then)
    }

    public func rotateKey(name: String, seal: @escaping KeySealer, then: @escaping @Sendable (Result<KeyChange, StoreError>) -> Void) {
        change({ connection, now throws(StoreError) in try connection.rotateKey(name: name, now: now, seal: seal) }, then: then)
    }

    public func updateKey(
        name: String, minDecryptionVersion: Int?, deletionAllowed: Bool?,
        then: @escaping @Sendable (Result<KeyChange, StoreError>) -> Void
    ) {
        change({ connection, now throws(StoreError) in
            try connection.updateKey(name: name, minDecryptionVersion: minDecryptionVersion, deletionAllowed: deletionAllowed, now: now)
        }, then: then)
    }

    public func deleteKey(name: String, then: @escaping @Sendable (Result<KeyChange, StoreError>) -> Void) {
        change({ connection, now throws(StoreError) in try connection.deleteKey(name: name, now: now) }, then: then)
    }

    private func change(
        _ body: @escaping @Sendable (any StoreConnection, Int64) throws(StoreError) -> KeyChange,
        then: @escaping @Sendable (Result<KeyChange, StoreError>) -> Void
    ) {
        guard available.load(ordering: .relaxed) else {
            return then(.failure(StoreError(unavailable ?? "The store is not reachable.", connectionLost: true)))
        }
        let task: @Sendable ((any StoreConnection)?) -> Void = { connection in
            guard let connection else {
                return then(.failure(StoreError("The store is not reachable.", connectionLost: true)))
            }
            do throws(StoreError) {
                then(.success(try body(connection, Timestamp.now().wallNanoseconds)))
            } catch {
                then(.failure(error))
            }
        }
        queue.withLock { $0.tasks.append(task) }
        wakeWriter.signal()
    }

    private func enqueue(_ write: PendingWrite) {
        queue.withLock { $0.writes.append(write) }
        wakeWriter.signal()
    }

    // MARK: - Reads

    /// The job's record, or nil when the store has none; on the reader thread.
    public func job(_ id: UUID, then answer: @escaping @Sendable (Result<JobRecord?, StoreError>) -> Void) {
        read({ connection throws(StoreError) in try connection.job(id) }, then: answer)
    }

    /// Up to `limit` jobs newest first and the counts of all, as `JobStore.list` gives them.
    public func list(
        status: JobStatus?, owner: String?, limit: Int,
        then answer: @escaping @Sendable (Result<(jobs: [JobRecord], counts: JobCounts), StoreError>) -> Void
    ) {
        read({ connection throws(StoreError) in try connection.list(status: status, owner: owner, limit: limit) }, then: answer)
    }

    private func read<T>(
        _ body: @escaping @Sendable (any StoreConnection) throws(StoreError) -> T,
        then answer: @escaping @Sendable (Result<T, StoreError>) -> Void
    ) {
        let task: @Sendable ((any StoreConnection)?) -> Bool = { connection in
            guard let connection else {
                answer(.failure(StoreError("The store is not reachable.", connectionLost: true)))
                return true
            }
            do throws(StoreError) {
                answer(.success(try body(connection)))
                return false
            } catch {
                answer(.failure(error))
                return error.isConnectionLost
            }
        }
        let queued = reads.withLock { reads in
            guard !reads.stopping && reads.tasks.count < Self.readCapacity else { return false }
            reads.tasks.append(task)
            return true
        }
        if queued {
            wakeReader.signal()
        } else {
            answer(.failure(StoreError("The store has too many reads waiting.")))
        }
    }

    // MARK: - State

    /// Whether the store takes writes; when not, `unavailable` says why.
    public var isAvailable: Bool { available.load(ordering: .relaxed) }
    public var unavailable: String? { unavailableReason.withLock { $0 } }
    /// Jobs finished (completed, failed) by every instance since the store was made, as of the
    /// last second; nil until first read.
    public var storedTotals: (completed: Int, failed: Int)? { totals.withLock { $0 } }
    /// Writes committed since start.
    public var committed: Int { committedWrites.load(ordering: .relaxed) }
    /// Writes waiting for the writer.
    public var pendingWrites: Int { queue.withLock { $0.writes.count } }

    /// Writes what is queued (one last attempt), then stops both threads; waits at most `timeout`.
    public func close(timeout: Duration = .seconds(10)) {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.withLock { $0.stopping = true }
        reads.withLock { $0.stopping = true }
        wakeWriter.signal()
        wakeReader.signal()
        _ = writerFinished.wait(timeout: .now() + .milliseconds(Int(timeout.nanoseconds / 1_000_000)))
    }

    // MARK: - Threads

    private func setAvailable(_ error: StoreError?) {
        if let error {
            unavailableReason.withLock { $0 = error.message }
            if available.exchange(false, ordering: .relaxed) {
                logger.error("store unavailable: async jobs are refused until it returns", metadata: ["reason": "\(error.message)"])
            }
        } else if !available.exchange(true, ordering: .relaxed) {
            unavailableReason.withLock { $0 = nil }
            logger.notice("store available again", metadata: ["store": "\(location)"])
        }
    }

    private func runWriter(_ box: ConnectionBox) {
        var connection: (any StoreConnection)? = box.take()
        var lastMaintenance = ContinuousClock.now - Self.maintenanceInterval
        var lastAttempt = ContinuousClock.now
        var writtenTotals = (completed: 0, failed: 0)
        while true {
            // Until the next maintenance is due, or a write comes.
            let due = lastMaintenance + Self.maintenanceInterval - ContinuousClock.now
            _ = wakeWriter.wait(timeout: .now() + .milliseconds(max(1, Int(due.nanoseconds / 1_000_000) + 1)))
            let (writes, tasks, stopping) = queue.withLock { queue in
                defer {
                    queue.writes.removeAll(keepingCapacity: true)
                    queue.tasks.removeAll(keepingCapacity: true)
                }
                return (queue.writes, queue.tasks, queue.stopping)
            }
            if connection == nil && (ContinuousClock.now - lastAttempt > .seconds(1) || stopping) {
                lastAttempt = .now
                do throws(StoreError) {
                    connection = try connect()
                    setAvailable(nil)
                } catch {
                    setAvailable(error)
                }
            }
            if !writes.isEmpty {
                if let current = connection {
                    do throws(StoreError) {
                        try current.write(Self.coalesced(writes.map(\.write)), instance: instance)
                        committedWrites.add(writes.count, ordering: .relaxed)
                        setAvailable(nil)
                        writes.forEach { $0.committed?(true) }
                        onCommitted(writes.compactMap { write in
                            switch write.write {
                            case .insert(let record, _), .update(let record): record.status.isFinished ? record.id : nil
                            }
                        })
                    } catch {
                        fail(writes, because: error)
                        if error.isConnectionLost {
                            connection = nil
                        } else {
                            // Another failure (a disk full, a constraint): the store stays in use, the batch is lost.
                            logger.error("store write failed", metadata: ["reason": "\(error.message)"])
                        }
                    }
                } else {
                    fail(writes, because: StoreError(unavailable ?? "The store is not reachable."))
                }
            }
            for task in tasks { task(connection) }
            if !tasks.isEmpty, let current = connection, let keys = try? current.loadKeys() {
                onKeys(keys)  // a change is seen here at once, not at the next second
            }
            if let current = connection, stopping || ContinuousClock.now - lastMaintenance >= Self.maintenanceInterval {
                lastMaintenance = .now
                maintain(current, writtenTotals: &writtenTotals, lost: &connection)
            }
            if stopping && queue.withLock({ $0.writes.isEmpty && $0.tasks.isEmpty }) {
                connection = nil
                // Key material was made and sealed on this thread.
                CryptoThread.release()
                writerFinished.signal()
                return
            }
        }
    }

    /// The writes with each job's insert and later update in the same batch made one insert of
    /// its last state (at zero latency most async jobs finish before their insert commits).
    static func coalesced(_ writes: [StoreWrite]) -> [StoreWrite] {
        var insertAt: [UUID: Int] = [:]
        var result: [StoreWrite?] = []
        result.reserveCapacity(writes.count)
        for write in writes {
            switch write {
            case .insert(let record, _):
                insertAt[record.id] = result.count
                result.append(write)
            case .update(let record):
                if let index = insertAt[record.id], case .insert(_, let deadline) = result[index] {
                    result[index] = .insert(record, deadline: deadline)
                } else {
                    result.append(write)
                }
            }
        }
        return result.compactMap { $0 }
    }

    private func fail(_ writes: [PendingWrite], because error: StoreError) {
        setAvailable(error)
        let lostResults = writes.filter { $0.committed == nil }.count
        if lostResults > 0 {
            // Their jobs stay unfinished in the store and end as instance_lost at their deadline.
            logger.error("job results not written: the store is unavailable", metadata: ["jobs": "\(lostResults)"])
        }
        writes.forEach { $0.committed?(false) }
    }

    /// Adds this process's finished jobs to the stored totals, fails the jobs whose replica
    /// died and deletes what retention no longer keeps.
    private func maintain(
        _ connection: any StoreConnection, writtenTotals: inout (completed: Int, failed: Int),
        lost: inout (any StoreConnection)?
    ) {
        let now = Timestamp.now().wallNanoseconds
        do throws(StoreError) {
            let current = finishedTotals()
            let stored = try connection.addTotals(
                instance: instance, completed: current.completed - writtenTotals.completed,
                failed: current.failed - writtenTotals.failed)
            writtenTotals = current
            totals.withLock { $0 = stored }
            let failed = try connection.failUnfinished(
                instance: nil, deadlineBefore: now, error: Self.instanceLost, now: now)
            if failed > 0 { logger.warning("failed jobs whose replica stopped", metadata: ["jobs": "\(failed)"]) }
            _ = try connection.prune(keeping: retainedJobs, finishedBefore: now &- Int64(clamping: retention.nanoseconds))
            // Every key, for the keys another replica changed (a rotation is used here within a second).
            onKeys(try connection.loadKeys())
        } catch {
            if error.isConnectionLost {
                lost = nil
                setAvailable(error)
            } else {
                logger.error("store maintenance failed", metadata: ["reason": "\(error.message)"])
            }
        }
    }

    private func runReader(_ box: ConnectionBox) {
        var connection: (any StoreConnection)? = box.take()
        while true {
            wakeReader.wait()
            let (tasks, stopping) = reads.withLock { reads in
                defer { reads.tasks.removeAll(keepingCapacity: true) }
                return (reads.tasks, reads.stopping)
            }
            for task in tasks {
                if connection == nil { connection = try? connect() }
                // A lost connection fails its read; the next read connects again.
                if task(connection) { connection = nil }
            }
            if stopping { return }
        }
    }
}

/// Hands a connection made on one thread to the thread that uses it from then on.
private final class ConnectionBox: @unchecked Sendable {
    // @unchecked: written once before the thread starts, taken once by that thread.
    private var connection: (any StoreConnection)?
    init(_ connection: any StoreConnection) { self.connection = connection }
    func take() -> (any StoreConnection)? {
        defer { connection = nil }
        return connection
    }
}
