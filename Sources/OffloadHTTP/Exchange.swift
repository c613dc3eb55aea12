import Engine
import Foundation

/// One request in progress on a connection, from its headers to the end of its response.
///
/// `@unchecked Sendable`: it is touched only on the thread of the loop whose daemon serves
/// the connection (the handler, the job's completion, the completion notification; an answer
/// made elsewhere is handed to the loop first), which debug builds check.
final class Exchange: @unchecked Sendable {
    let connection: OpaquePointer
    /// Until it runs (see `takeRequest`).
    var request: HTTPRequest
    /// The request's, kept for the metrics and the log line once the request was taken.
    let method: String
    let path: String
    /// The route the path names, looked up once for authorization and metrics.
    let route: Router.Route?
    var bodyTooLarge = false
    /// The body did not fit in what the service may hold of bodies at once.
    var bodyOverBudget = false
    /// Bytes of the body budget this request holds, given back when it completes.
    var reservedBodyBytes = 0
    /// For the request log line and the metrics: when the request began (monotonic
    /// nanoseconds), its answer's status, its job.
    let startedAt = Timestamp.monotonicNow()
    var status: Int?
    var jobID: UUID?
    var jobFacts: RequestLog.JobFacts?
    var clientAddress = InlineArray<16, UInt8>(repeating: 0)
    var clientAddressLength = 0
    /// The connection the request came on: its deadline and its loop's daemon.
    let openConnection: OpenConnection
    /// The daemon that serves the connection; its loop runs the request's jobs too.
    var daemon: LoopDaemon { openConnection.daemon }
    /// Set once the body is complete and the request runs.
    var isRunning = false
    private var finishedResponse: HTTPResponse?
    /// Made by the handler on the loop's thread, which owns it from then on.
    private let confinement: ThreadConfinement

    init(connection: OpaquePointer, openConnection: OpenConnection, request: HTTPRequest) {
        self.connection = connection
        self.openConnection = openConnection
        self.request = request
        method = request.method
        path = request.path
        self.route = Router.Route(path: request.path)
        var confinement = ThreadConfinement()
        confinement.bind()
        self.confinement = confinement
    }

    /// The request, moved out to be run: a copy would retain its strings and arrays (and the
    /// exchange's release them again when it ends); what is left is empty.
    func takeRequest() -> HTTPRequest {
        var taken = HTTPRequest(
            method: "", path: "", query: [], contentType: nil, ifNoneMatch: nil, body: [], accept: nil)
        swap(&taken, &request)
        return taken
    }

    /// Nanoseconds since the request began, to `now` (monotonic), as the metrics and the log
    /// take them (a `Duration` converts through 128-bit arithmetic).
    func nanoseconds(until now: UInt64) -> UInt64 {
        now >= startedAt ? now - startedAt : 0
    }

    /// Whether the connection waits, suspended, for `finish`.
    private var isSuspended = false
    /// The request runs and its handler returned without an answer (not suspended yet).
    var isWaitingForAnswer = false

    /// Stores the request's answer; its loop's daemon then runs at once, and resumes the
    /// connection if it was suspended. Called on the loop's thread (by the job's completion, or
    /// within the handler when the request was refused at once).
    func finish(with response: HTTPResponse) {
        confinement.check()
        finishedResponse = response
        if isSuspended {
            isSuspended = false
            daemon.resume(connection)
        } else {
            daemon.answerIsWaiting()
        }
    }

    /// Suspends the connection until `finish` gives the answer: from the request's handler,
    /// called again while the request still has no answer.
    func suspend() {
        confinement.check()
        isSuspended = true
        daemon.suspend(connection)
    }

    func takeFinishedResponse() -> HTTPResponse? {
        confinement.check()
        defer { finishedResponse = nil }
        return finishedResponse
    }
}
