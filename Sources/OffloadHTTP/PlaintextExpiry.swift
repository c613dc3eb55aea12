import Dispatch
import Engine

/// Drops the plaintext of async decryptions not fetched within the result TTL (`--result-ttl`):
/// a plaintext is kept for its first fetch only, and not for long.
final class PlaintextExpiry: @unchecked Sendable {
    // @unchecked: `timer` is a dispatch source, safe to cancel from any thread, set in init.
    private let timer: DispatchSourceTimer

    init(jobs: JobStore, ttl: Duration) {
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "offload-http.plaintext-expiry"))
        let ttlNanoseconds = Int64(clamping: ttl.nanoseconds)
        timer.schedule(deadline: .now() + .seconds(1), repeating: .seconds(1), leeway: .milliseconds(100))
        timer.setEventHandler {
            jobs.dropPlaintexts(finishedBefore: Timestamp.now().wallNanoseconds - ttlNanoseconds)
        }
        timer.resume()
    }

    func stop() { timer.cancel() }
}
