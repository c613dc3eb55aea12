import Engine
import Store

/// `GET /stats`: what the live page shows besides the job list, small and cheap to make
/// (a few numbers per engine loop and device unit), so a page left open costs nothing
/// noticeable.
enum StatsJSON {
    static func stats(engine: Engine, store: DurableStore?) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.key("now_ms")
        json.int(Int(Timestamp.now().wallNanoseconds / 1_000_000))
        json.field("provider", engine.providerName)
        json.key("engines")
        json.beginArray()
        for (index, jobs) in engine.jobsPerEngine.enumerated() {
            json.beginObject()
            json.field("index", index)
            json.field("jobs", jobs)
            json.endObject()
        }
        json.endArray()
        let totals = engine.store.finishedTotals
        json.key("jobs")
        json.beginObject()
        json.field("in_flight", engine.jobsInFlight)
        json.field("queued", engine.jobsQueued)
        json.field("completed_total", totals.completed)
        json.field("failed_total", totals.failed)
        if let stored = store?.storedTotals {
            // Every replica's, since the store was made (written once a second).
            json.field("store_completed_total", stored.completed)
            json.field("store_failed_total", stored.failed)
        }
        json.endObject()
        json.key("device")
        if let device = engine.device {
            json.beginObject()
            json.field("ring", device.operationsOnDevice)
            json.field("ring_depth", device.configuration.queueDepth)
            json.key("latency_ms")
            json.milliseconds(nanoseconds: device.configuration.latency.nanoseconds)
            json.key("throughput_bytes_per_second")
            if let throughput = device.configuration.throughputBytesPerSecond { json.int(Int(throughput)) } else { json.null() }
            json.key("unit_busy_seconds")
            json.beginArray()
            for busy in device.unitBusyNanoseconds {
                json.milliseconds(nanoseconds: busy / 1000)  // seconds, to the millisecond
            }
            json.endArray()
            json.endObject()
        } else {
            json.null()
        }
        json.endObject()
        return json.bytes
    }
}
