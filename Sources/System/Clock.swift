#if canImport(Glibc)
import Glibc
#endif

/// The clocks tutor reads.
public enum Clock {
    /// Seconds on a clock that never jumps: for durations, timeouts and settle times.
    public static func monotonicSeconds() -> Double { read(CLOCK_MONOTONIC) }

    /// Seconds since the epoch: for file times and records that other hosts read.
    public static func wallSeconds() -> Double { read(CLOCK_REALTIME) }

    /// CPU seconds this thread has run: for work measured per core on a busy machine.
    public static func threadCPUSeconds() -> Double { read(CLOCK_THREAD_CPUTIME_ID) }

    private static func read(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
