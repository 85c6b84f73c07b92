import Foundation

/// Resident memory of this process, from /proc (Linux); nil where /proc is not there.
public enum ProcessMemory {
    /// Current resident set size in bytes (`/proc/self/statm`, second field, in pages).
    public static func residentBytes() -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = s.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Resident memory that is not backed by files (heap, stacks, anonymous maps): what a step
    /// that allocated would grow. Code pages faulted in lazily from the executable and its
    /// libraries count in `residentBytes` but not here.
    public static func anonymousResidentBytes() -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = s.split(separator: " ")
        guard fields.count > 2, let resident = Int(fields[1]), let shared = Int(fields[2]) else { return nil }
        return (resident - shared) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Peak resident set size in bytes (`VmHWM` in `/proc/self/status`).
    public static func peakResidentBytes() -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return nil
    }
}
