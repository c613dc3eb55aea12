internal import CLinux
import Glibc

/// Starts a joinable POSIX thread running `body`.
final class NativeThread: @unchecked Sendable {
    // The handle is written once by pthread_create and read by join, both on the creating thread.
    private var handle = pthread_t()

    init(name: String, _ body: @escaping @Sendable () -> Void) throws {
        let box = Unmanaged.passRetained(ThreadBody(name: name, body: body)).toOpaque()
        let result = pthread_create(&handle, nil, { argument in
            let threadBody = Unmanaged<ThreadBody>.fromOpaque(argument!).takeRetainedValue()
            _ = CLinux_set_thread_name(String(threadBody.name.prefix(15)))
            threadBody.body()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(box).release()
            throw EngineError.system("pthread_create", errno: result)
        }
    }

    func join() {
        _ = pthread_join(handle, nil)
    }
}

private final class ThreadBody {
    let name: String
    let body: @Sendable () -> Void
    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}
