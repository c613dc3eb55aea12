// The engine alone, no HTTP: jobs per second through start -> pause -> device -> resume ->
// finish, with a window of jobs in flight. Prints one line: `engine-bench mode=... jobs=...
// seconds=... jobs_per_second=...`. Usage: engine-bench [fd|callback] [jobs] [in-flight]
import Engine
import Foundation
import Synchronization

let arguments = CommandLine.arguments
let mode = NotificationMode(rawValue: arguments.count > 1 ? arguments[1] : "fd") ?? .fd
let total = arguments.count > 2 ? Int(arguments[2]) ?? 200_000 : 200_000
let window = arguments.count > 3 ? Int(arguments[3]) ?? 256 : 256

let engine = try Engine(configuration: EngineConfiguration(
    threads: 1, notification: mode, device: DeviceConfiguration(latency: .zero)))
let finished = DispatchSemaphore(value: 0)
let remaining = Atomic<Int>(total)
let input = Array("ASYNC-OK".utf8)

/// Keeps `window` jobs in flight: each completion submits the next one.
@Sendable func submitNext() {
    guard remaining.subtract(1, ordering: .relaxed).newValue >= 0 else { return }
    do {
        try engine.submit(JobRequest(input: input)) { record in
            precondition(record.status == .completed, "a job failed: \(String(describing: record.error))")
            if remaining.load(ordering: .relaxed) <= 0 && engine.jobsInFlight <= 1 { finished.signal() }
            submitNext()
        }
    } catch {
        fatalError("the engine refused a job: \(error)")
    }
}

let clock = ContinuousClock()
let start = clock.now
for _ in 0..<window { submitNext() }
finished.wait()
let elapsed = clock.now - start
engine.shutdown()
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print("engine-bench mode=\(mode.rawValue) jobs=\(total) seconds=\(String(format: "%.3f", seconds)) jobs_per_second=\(Int(Double(total) / seconds))")
