internal import CTestSupport
import Foundation
import Glibc

/// A child process started with `posix_spawn` and reaped with `waitpid`, for the tests.
///
/// Not Foundation's `Process`: on Linux it closes the child's descriptors by reading
/// /proc/self/fd with a copy of each entry's whole 256-byte name (a segmentation fault when an
/// entry ends near the end of a page, which happens once the test process holds about a
/// thousand descriptors), and it watches the child's exit with `select`, which cannot see a
/// descriptor above 1023 (so `waitUntilExit` never returned). The tests run servers with
/// thousands of connections beside each other, so they hit both.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: used by the test that owns it; `exitStatus` is only set under `lock`.

    /// Where one of the child's standard streams goes.
    public enum Stream {
        /// A pipe whose other end the test gets (`input`, `output`, `errors`).
        case pipe
        /// A file, created or truncated.
        case file(String)
        case null
    }

    public let pid: Int32
    /// The test's ends of the piped streams.
    public let input: FileHandle?
    public let output: FileHandle?
    public let errors: FileHandle?
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `executable` with `arguments`, nothing blocked in its signal mask (the test runner
    /// blocks some; `openssl speed` then never stops) and no descriptor of the test's besides
    /// its three streams.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        stdin: Stream = .null, stdout: Stream = .null, stderr: Stream = .null
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [FileHandle?] = []
        var childEnds: [Int32] = []
        for (target, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .pipe:
                var fds: [Int32] = [0, 0]
                guard ctestsupport_cloexec_pipe(&fds) == 0 else { throw ChildProcessError("pipe2 failed") }
                // fds[0] reads, fds[1] writes: the child reads its stdin, writes the others.
                let (childEnd, parentEnd) = target == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                posix_spawn_file_actions_adddup2(&actions, childEnd, target)
                childEnds.append(childEnd)
                parentEnds.append(FileHandle(fileDescriptor: parentEnd, closeOnDealloc: true))
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                parentEnds.append(nil)
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
                parentEnds.append(nil)
            }
        }
        ctestsupport_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var nothing = sigset_t()
        sigemptyset(&nothing)
        posix_spawnattr_setsigmask(&attributes, &nothing)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let variables = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            variables.forEach { free($0) }
        }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, variables)
        childEnds.forEach { close($0) }
        guard result == 0 else {
            throw ChildProcessError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        self.pid = pid
        input = parentEnds[0]
        output = parentEnds[1]
        errors = parentEnds[2]
    }

    /// Whether the child has not exited yet (reaping it if it has).
    public var isRunning: Bool {
        lock.withLock {
            if exitStatus != nil { return false }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return true }
            exitStatus = Self.decode(status)
            return false
        }
    }

    /// Waits for the child to exit; its exit code, or the signal that ended it (as Foundation's
    /// `terminationStatus`).
    @discardableResult
    public func wait() -> Int32 {
        lock.withLock {
            if let exitStatus { return exitStatus }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            let decoded = Self.decode(status)
            exitStatus = decoded
            return decoded
        }
    }

    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : signal
    }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
