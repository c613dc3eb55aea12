/// Writes the families `LoopMetrics` counts in the Prometheus text format, as swift-prometheus
/// writes its own: `# HELP` and `# TYPE`, cumulative buckets with `le`, `_sum` and `_count`.
enum MetricsText {
    /// `offload_http_requests_total` by route, method and status, and the request durations by route.
    static func appendRequests(_ requests: [LoopMetrics.RequestSeries: LoopMetrics.Requests], to text: inout [UInt8]) {
        let series = requests.keys.sorted()
        appendHeader(
            "offload_http_requests_total", "HTTP requests answered, by route, method and status.", type: "counter",
            to: &text)
        for one in series {
            let labels = [("route", one.route), ("method", one.method), ("status", String(one.status))]
            appendSample("offload_http_requests_total", labels, String(requests[one]!.answered), to: &text)
        }
        var byRoute: [String: LoopMetrics.Durations] = [:]
        for (one, counted) in requests { byRoute[one.route, default: LoopMetrics.Durations()].add(counted.durations) }
        appendHistograms(
            "offload_http_request_duration_seconds",
            "From a request's headers to its answer, by route (a synchronous job's device time included).",
            label: "route", byRoute, to: &text)
    }

    /// `offload_jobs_total` by provider, algorithm, operation, status and error, and the job's
    /// and the device's durations by algorithm.
    static func appendJobs(_ jobs: [LoopMetrics.JobSeries: LoopMetrics.Jobs], to text: inout [UInt8]) {
        appendHeader(
            "offload_jobs_total",
            "Jobs finished, by provider, algorithm, operation, status and error code (none when completed).",
            type: "counter", to: &text)
        for one in jobs.keys.sorted() {
            let labels = Array(zip(["provider", "algorithm", "operation", "status", "error"], one.labelValues))
            appendSample("offload_jobs_total", labels, String(jobs[one]!.finished), to: &text)
        }
        var durations: [String: LoopMetrics.Durations] = [:]
        var deviceDurations: [String: LoopMetrics.Durations] = [:]
        for (one, counted) in jobs {
            durations[one.algorithm.rawValue, default: LoopMetrics.Durations()].add(counted.durations)
            deviceDurations[one.algorithm.rawValue, default: LoopMetrics.Durations()].add(counted.deviceDurations)
        }
        appendHistograms(
            "offload_job_duration_seconds", "From a job's submission to its end, by algorithm.", label: "algorithm",
            durations, to: &text)
        appendHistograms(
            "offload_device_duration_seconds",
            "From an operation's submission to the device to its completion, by algorithm.", label: "algorithm",
            deviceDurations, to: &text)
    }

    private static func appendHistograms(
        _ name: String, _ help: String, label: String, _ histograms: [String: LoopMetrics.Durations], to text: inout [UInt8]
    ) {
        appendHeader(name, help, type: "histogram", to: &text)
        for value in histograms.keys.sorted() {
            let durations = histograms[value]!
            var cumulative = 0
            for (bucket, bound) in LoopMetrics.Durations.boundsNanoseconds.enumerated() {
                cumulative += durations.counts[bucket]
                appendSample(
                    name + "_bucket", [(label, value), ("le", seconds(bound))], String(cumulative), to: &text)
            }
            cumulative += durations.counts[LoopMetrics.Durations.boundsNanoseconds.count]
            appendSample(name + "_bucket", [(label, value), ("le", "+Inf")], String(cumulative), to: &text)
            appendSample(name + "_sum", [(label, value)], seconds(durations.sumNanoseconds), to: &text)
            appendSample(name + "_count", [(label, value)], String(cumulative), to: &text)
        }
    }

    private static func appendHeader(_ name: String, _ help: String, type: String, to text: inout [UInt8]) {
        text.append(contentsOf: "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n".utf8)
    }

    private static func appendSample(_ name: String, _ labels: [(String, String)], _ value: String, to text: inout [UInt8]) {
        text.append(contentsOf: name.utf8)
        text.append(UInt8(ascii: "{"))
        for (index, (label, labelValue)) in labels.enumerated() {
            if index > 0 { text.append(UInt8(ascii: ",")) }
            text.append(contentsOf: label.utf8)
            text.append(contentsOf: "=\"".utf8)
            appendEscaped(labelValue, to: &text)
            text.append(UInt8(ascii: "\""))
        }
        text.append(contentsOf: "} ".utf8)
        text.append(contentsOf: value.utf8)
        text.append(UInt8(ascii: "\n"))
    }

    /// A label value as the format quotes it: backslash, double quote and line feed escaped.
    private static func appendEscaped(_ value: String, to text: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): text.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\""): text.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\n"): text.append(contentsOf: #"\n"#.utf8)
            default: text.append(byte)
            }
        }
    }

    /// Nanoseconds as seconds, the way Prometheus reads them ("0.00025", "1.0").
    private static func seconds(_ nanoseconds: Int64) -> String {
        String(Double(nanoseconds) / 1e9)
    }
}
