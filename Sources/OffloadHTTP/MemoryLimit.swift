import Foundation

/// The memory the service should stay within: the container's cgroup limit when there is one,
/// else half of the machine's memory. A quarter of it may hold request bodies being received
/// and a quarter the outputs of retained jobs; the rest is for jobs in flight, the runtime and
/// the allocator's slack.
public enum MemoryLimit {
    /// The limit in bytes and where it came from.
    public static func detect() -> (bytes: Int, source: String) {
        // cgroup v2, then v1; "max" or an absurd number means no limit.
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let bytes = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes > 0, bytes < 1 << 50 {
                return (bytes, "cgroup \(path)")
            }
        }
        return (Int(ProcessInfo.processInfo.physicalMemory / 2), "half of the machine's memory")
    }

    /// The share of the limit request bodies and retained outputs may each hold.
    public static func share(of limit: Int) -> Int { limit / 4 }
}
