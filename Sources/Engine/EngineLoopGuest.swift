/// Work an engine loop does on its own thread besides its jobs: a server whose sockets the
/// loop watches (one libmicrohttpd daemon per loop), so that a request is read, run, resumed
/// and answered on one thread, with no hand-off between threads.
///
/// The engine knows nothing of HTTP: it watches the guest's fd, asks when it must run without
/// input, runs it, and keeps running during shutdown while the guest is busy.
public protocol EngineLoopGuest: AnyObject, Sendable {
    /// The fd the loop watches for input (the guest's own epoll fd).
    var watchedFD: Int32 { get }
    /// Milliseconds until the guest must run even without input; nil for none.
    func timeoutMilliseconds() -> Int?
    /// Does whatever is ready. Called on the loop's thread only: when the fd is readable,
    /// when the timeout has passed, and after the loop finished jobs (whose answers wait).
    /// Jobs it submits with `Engine.submit(_:onLoop:completion:)` start in the same turn.
    func run()
    /// Whether it still has requests being answered; the loop outlives its jobs until it has
    /// none (or the shutdown deadline passed a second ago).
    var isBusy: Bool { get }
}
