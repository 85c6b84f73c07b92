import CSystem
#if canImport(Glibc)
import Glibc
#endif

/// Resident memory of a process, from /proc (Linux); nil where it cannot be read.
public enum Memory {
    /// Keeps buffers of up to 64 MiB on the heap and freed heap memory (up to 256 MiB) in the
    /// process instead of handing it back to the kernel after every large `free`.
    ///
    /// tutor allocates and frees frame-sized buffers at a high rate (a 512 x 512 picture is
    /// 0.75 MiB of bytes and 3 MiB of floats; training and the strategies make one per frame).
    /// glibc serves blocks over its mmap threshold (128 KiB until a larger one is freed) with
    /// fresh pages, each faulted in and zeroed by the kernel, and returns the heap's top when
    /// more than its trim threshold is free, so the next buffer faults again. Measured with
    /// `tutor bench reading` at 512 x 512: PNG 18 -> 25-27 examples per CPU-second, JPEG about 10% more.
    /// Freed memory is reused, not added to: the strategy bench's peak stayed at 291-294 MiB.
    /// What is kept is given back when the process ends; the daemon, tutor's one long-lived
    /// process, stays small.
    @discardableResult
    public static func keepFreedMemory() -> Bool {
        csystem_keep_freed_memory(64 << 20, 256 << 20) == 1
    }

    /// Current resident set size in bytes (second field of /proc/PID/statm, in pages).
    /// `pid` nil: this process.
    public static func residentBytes(pid: Int32? = nil) -> Int? {
        guard let f = statm(pid), f.count > 1, let pages = Int(f[1]) else { return nil }
        return pages * pageSize
    }

    /// Resident memory that is not backed by files (heap, stacks, anonymous maps): what a step
    /// that allocated would grow. Code pages faulted in lazily from the executable and its
    /// libraries count in `residentBytes` but not here.
    public static func anonymousResidentBytes() -> Int? {
        guard let f = statm(nil), f.count > 2, let resident = Int(f[1]), let shared = Int(f[2]) else { return nil }
        return (resident - shared) * pageSize
    }

    /// The highest resident set size of this process since it last called exec, in bytes
    /// (`VmHWM` in /proc/self/status).
    ///
    /// Not getrusage's `ru_maxrss`: that survives exec, and a child started with vfork or
    /// posix_spawn begins with its parent's maximum, so a small worker of a large daemon would
    /// report the daemon's memory. Exec gives the process a new address space, whose high-water
    /// mark starts from nothing.
    public static func peakResidentBytes() -> Int? {
        guard let b = Files.readSmall("/proc/self/status", limit: 64 << 10) else { return nil }
        for line in String(decoding: b, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return nil
    }

    static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    private static func statm(_ pid: Int32?) -> [Substring]? {
        let path = pid.map { "/proc/\($0)/statm" } ?? "/proc/self/statm"
        guard let b = Files.readSmall(path, limit: 4096) else { return nil }
        return String(decoding: b, as: UTF8.self).split(separator: " ")
    }
}
