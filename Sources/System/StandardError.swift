#if canImport(Glibc)
import Glibc
#endif

/// Messages on standard error that never stop tutor: write(2) straight to descriptor 2, with
/// every failure ignored. FileHandle.standardError traps when the write fails (a full disk
/// behind `2>file`, `2>/dev/full`, a closed descriptor), which would turn a message about a
/// problem into a crash without a verdict.
public enum StandardError {
    /// Writes `text` as it is (add the newline yourself).
    public static func write(_ text: String) {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { return }
        bytes.withUnsafeMutableBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Glibc.write(2, raw.baseAddress! + done, raw.count - done)
                if n > 0 { done += n; continue }
                if n < 0 && errno == EINTR { continue }
                return  // full, closed or broken: the message is lost, tutor goes on
            }
        }
    }

    /// Writes `text` and a newline.
    public static func line(_ text: String) { write(text + "\n") }
}
