import Engine
@testable import OffloadHTTP
import Testing

/// What each engine loop counts on its own comes out of /metrics as one sum, in the text
/// format Prometheus reads.
@Suite struct LoopMetricsSums {
    static func text(_ loops: [LoopMetrics]) -> [String] {
        var total = LoopMetrics.State()
        for loop in loops { loop.add(to: &total) }
        var text: [UInt8] = []
        MetricsText.appendRequests(total.requests, to: &text)
        MetricsText.appendJobs(total.jobs, to: &text)
        return String(decoding: text, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func requestsCountedOnTwoLoopsAddUpWithCumulativeBuckets() {
        let loops = [LoopMetrics(), LoopMetrics()]
        let ok = LoopMetrics.RequestSeries(route: "/encrypt", method: "POST", status: 200)
        loops[0].requestAnswered(ok, nanoseconds: 150_000)
        loops[1].requestAnswered(ok, nanoseconds: 3_000_000)
        loops[1].requestAnswered(
            LoopMetrics.RequestSeries(route: "/encrypt", method: "POST", status: 400), nanoseconds: 40_000_000_000)
        let lines = Self.text(loops)
        #expect(lines.contains(#"offload_http_requests_total{route="/encrypt",method="POST",status="200"} 2"#))
        #expect(lines.contains(#"offload_http_requests_total{route="/encrypt",method="POST",status="400"} 1"#))
        let bucket = #"offload_http_request_duration_seconds_bucket{route="/encrypt",le="#
        #expect(lines.contains(bucket + #""0.0001"} 0"#))
        #expect(lines.contains(bucket + #""0.00025"} 1"#))
        #expect(lines.contains(bucket + #""0.005"} 2"#))
        #expect(lines.contains(bucket + #""30.0"} 2"#), "40 s is past the largest bound")
        #expect(lines.contains(bucket + #""+Inf"} 3"#))
        #expect(lines.contains(#"offload_http_request_duration_seconds_count{route="/encrypt"} 3"#))
        #expect(lines.contains(#"offload_http_request_duration_seconds_sum{route="/encrypt"} 40.00315"#))
        #expect(lines.contains("# TYPE offload_http_request_duration_seconds histogram"))
    }

    /// A loop counts the series it saw last outside its tables: series that alternate, and
    /// counts read between observations, must still add up.
    @Test func alternatingSeriesAndReadsInBetweenCountEveryObservationOnce() {
        let loop = LoopMetrics()
        let ok = LoopMetrics.RequestSeries(route: "/encrypt", method: "POST", status: 200)
        let refused = LoopMetrics.RequestSeries(route: "/encrypt", method: "POST", status: 503)
        let encrypt = LoopMetrics.JobSeries(
            provider: "offloadsim", algorithm: .xor0xAA, operation: .encrypt, status: .completed, error: nil)
        let decrypt = LoopMetrics.JobSeries(
            provider: "offloadsim", algorithm: .xor0xAA, operation: .decrypt, status: .completed, error: nil)
        for round in 0..<5 {
            for _ in 0..<3 { loop.requestAnswered(ok, nanoseconds: 1_000_000) }
            loop.requestAnswered(refused, nanoseconds: 1_000_000)
            loop.jobFinished(round.isMultiple(of: 2) ? encrypt : decrypt, nanoseconds: 1_000_000, deviceNanoseconds: 10_000)
            if round == 2 {
                let lines = Self.text([loop])
                #expect(lines.contains(#"offload_http_requests_total{route="/encrypt",method="POST",status="200"} 9"#))
                #expect(lines.contains(#"offload_http_requests_total{route="/encrypt",method="POST",status="503"} 3"#))
            }
        }
        let lines = Self.text([loop])
        #expect(lines.contains(#"offload_http_requests_total{route="/encrypt",method="POST",status="200"} 15"#))
        #expect(lines.contains(#"offload_http_requests_total{route="/encrypt",method="POST",status="503"} 5"#))
        #expect(lines.contains(#"offload_http_request_duration_seconds_count{route="/encrypt"} 20"#))
        #expect(lines.contains(
            #"offload_jobs_total{provider="offloadsim",algorithm="xor-0xaa",operation="encrypt",status="completed",error="none"} 3"#))
        #expect(lines.contains(
            #"offload_jobs_total{provider="offloadsim",algorithm="xor-0xaa",operation="decrypt",status="completed",error="none"} 2"#))
        #expect(lines.contains(#"offload_device_duration_seconds_count{algorithm="xor-0xaa"} 5"#))
    }

    @Test func jobSeriesKeepTheirLabelsAndEscapeQuotes() {
        let loop = LoopMetrics()
        let series = LoopMetrics.JobSeries(
            provider: #"odd"name"#, algorithm: .xor0xAA, operation: .encrypt, status: .failed, error: .deviceError)
        loop.jobFinished(series, nanoseconds: 2_000_000, deviceNanoseconds: nil)
        let lines = Self.text([loop])
        #expect(lines.contains(
            #"offload_jobs_total{provider="odd\"name",algorithm="xor-0xaa",operation="encrypt",status="failed",error="device_error"} 1"#))
        #expect(lines.contains(#"offload_job_duration_seconds_bucket{algorithm="xor-0xaa",le="0.002"} 1"#))
        #expect(lines.contains(#"offload_device_duration_seconds_count{algorithm="xor-0xaa"} 0"#))
    }
}
