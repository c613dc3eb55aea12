/// One open connection, from libmicrohttpd's notice that it opened to the one that it closed:
/// libmicrohttpd keeps it (retained) as the connection's socket context, so each request finds
/// its loop and its deadline without a lookup.
final class OpenConnection: Sendable {
    let deadline: ConnectionDeadline
    /// The daemon that serves the connection; its loop runs the connection's requests too.
    let daemon: LoopDaemon

    init(deadline: ConnectionDeadline, daemon: LoopDaemon) {
        self.deadline = deadline
        self.daemon = daemon
    }
}
