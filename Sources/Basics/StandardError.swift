#if canImport(Glibc)
import Glibc
#endif

/// Messages for the user on standard error. A write that fails (a full disk behind a
/// redirection, a closed pipe) is dropped: FileHandle's write traps on such a failure, and a
/// message that cannot be shown must not end the run that has something to say.
public enum StandardError {
    public static func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }

    /// `text` and a newline.
    public static func line(_ text: String) { write(text + "\n") }
}
