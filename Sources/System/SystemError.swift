#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: what tutor was doing, on which path, and the errno.
public struct SystemError: Error, Equatable, CustomStringConvertible {
    /// What was being done, as a verb for "cannot ...": "write", "create", "move", "remove".
    public let action: String
    public let path: String
    public let errno: Int32

    public init(_ action: String, _ path: String, errno: Int32) {
        self.action = action; self.path = path; self.errno = errno
    }

    public var description: String { "cannot \(action) \(path): \(SystemError.text(errno))" }

    /// The file system is out of space or the user out of quota: nothing is wrong with what
    /// was being written, and the same write succeeds once space returns.
    public var isDiskFull: Bool { SystemError.isDiskFull(errno) }

    public static func isDiskFull(_ e: Int32) -> Bool { e == ENOSPC || e == EDQUOT }

    /// The C library's text for an errno ("No space left on device").
    public static func text(_ e: Int32) -> String { String(cString: strerror(e)) }
}

extension SystemError {
    /// The errno text alone, for messages that name the path themselves.
    public var reason: String { SystemError.text(errno) }
}

/// Exit statuses that mean the same to every program of tutor.
public enum ExitStatus {
    /// A task could not be finished for lack of disk space or quota, and no verdict could be
    /// written (EX_TEMPFAIL of sysexits.h): nothing is wrong with the task. The daemon holds
    /// such a task until space returns instead of counting a crash.
    public static let diskFull: Int32 = 75
}
