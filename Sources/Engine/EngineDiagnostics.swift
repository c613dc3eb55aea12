import Foundation
import Synchronization

/// Counters that show the engine keeps its invariants; read by tests and benchmarks.
final class EngineDiagnostics: Sendable {
    /// Job steps that ran on a thread other than the one that started the job (must stay 0).
    let resumesOffOwningThread = Atomic<Int>(0)
    /// Jobs failed because shutdown ran out of time.
    let abortedAtShutdown = Atomic<Int>(0)
    let stackGauge: FibreStackGauge?

    init(measuresFibreStack: Bool) {
        stackGauge = measuresFibreStack && FibreStackGauge.isSupported ? FibreStackGauge() : nil
    }
}
