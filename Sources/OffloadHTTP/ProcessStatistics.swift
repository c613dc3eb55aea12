import Foundation
import Glibc

/// This process's resident memory, open fds and CPU time, read from /proc at scrape time, for
/// the standard `process_*` metrics.
enum ProcessStatistics {
    /// Resident set size in bytes (/proc/self/statm, second field, in pages).
    static var residentMemoryBytes: Int {
        guard let text = read("/proc/self/statm") else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Open file descriptors.
    static var openFileDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }

    /// User plus system CPU seconds (/proc/self/stat fields 14 and 15, in clock ticks).
    static var cpuSeconds: Double {
        guard let text = read("/proc/self/stat"), let end = text.lastIndex(of: ")") else { return 0 }
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = Glibc.read(fd, &buffer, buffer.count)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
