import CSystem
#if canImport(Glibc)
import Glibc
#endif

/// Process plumbing that Swift's Glibc module does not reach: parent-death signals, closing
/// inherited descriptors, pipes with flags.
public enum ProcessControl {
    /// Asks the kernel to send `signal` to this process when the thread that started it dies.
    @discardableResult
    public static func setParentDeathSignal(_ signal: Int32) -> Bool {
        csystem_set_parent_death_signal(signal) == 0
    }

    /// Closes every descriptor from `first` up.
    public static func closeDescriptors(from first: Int32) {
        _ = close_range(UInt32(first), UInt32.max, 0)
    }

    /// A pipe (read end, write end) whose ends carry `flags`, e.g. O_CLOEXEC | O_NONBLOCK.
    public static func pipe(flags: Int32) -> (read: Int32, write: Int32)? {
        var p: [Int32] = [-1, -1]
        if pipe2(&p, flags) != 0 { return nil }
        return (p[0], p[1])
    }
}
