#if canImport(Glibc)
import Glibc
#endif

/// Messages on standard error that never stop tutor: write(2) straight to descriptor 2, with
/// every failure ignored. FileHandle.standardError traps when the write fails (a full disk
/// behind `2>file`, `2>/dev/full`, a closed descriptor), which would turn a message about a
/// problem into a crash without a verdict.
public enum StandardError {
    /// Writes `text` as it is (add the newline yourself).
    public static func write(_ text: String) { writeIgnoringErrors(text, to: 2) }

    /// Writes `text` and a newline.
    public static func line(_ text: String) { write(text + "\n") }
}

/// Lines on standard output written at once (not buffered) and, like `StandardError`, never
/// trapping: for progress logs that a reader follows while they grow.
public enum StandardOutput {
    public static func line(_ text: String) { writeIgnoringErrors(text + "\n", to: 1) }
}

/// Writes all of `text` to `fd`, retrying short writes and EINTR; on any other failure
/// (full, closed, broken) the rest is dropped and the caller goes on.
func writeIgnoringErrors(_ text: String, to fd: Int32) {
    var bytes = Array(text.utf8)
    if bytes.isEmpty { return }
    bytes.withUnsafeMutableBytes { raw in
        var done = 0
        while done < raw.count {
            let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
            if n > 0 { done += n; continue }
            if n < 0 && errno == EINTR { continue }
            return
        }
    }
}
