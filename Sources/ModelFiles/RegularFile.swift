import System
#if canImport(Glibc)
import Glibc
#endif

/// Opens the files of a model folder for reading without ever blocking or following them
/// into something that is not a file: the open uses O_NONBLOCK (a FIFO with no writer cannot
/// hang it) and the descriptor must then be a regular file by fstat. Symbolic links are
/// followed: a model folder may link to weights kept elsewhere.
public enum RegularFile {
    /// Why a file cannot be read, in plain words with what to do.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public let path: String
        public let reason: String
        /// The errno of a failed call; 0 when the file is there but is the wrong kind or size.
        public let code: Int32
        public var description: String { "\(path): \(reason)" }
        public init(path: String, reason: String, code: Int32 = 0) { self.path = path; self.reason = reason; self.code = code }
    }

    /// Opens `path` read-only; returns the descriptor (the caller closes it) and the size.
    public static func open(_ path: String) throws(Problem) -> (fd: Int32, size: Int) {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 { let e = errno; throw Problem(path: path, reason: "cannot be opened: " + ErrorText.reason(errno: e), code: e) }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = errno
            close(fd)
            throw Problem(path: path, reason: "cannot be read: " + ErrorText.reason(errno: e), code: e)
        }
        if st.st_mode & S_IFMT != S_IFREG {
            close(fd)
            throw Problem(path: path, reason: "is a \(FileKind(mode: st.st_mode)), not a regular file")
        }
        return (fd, Int(st.st_size))
    }

    /// The whole file, which must be at most `limit` bytes.
    public static func read(_ path: String, limit: Int) throws(Problem) -> [UInt8] {
        let (fd, size) = try open(path)
        defer { close(fd) }
        if size > limit { throw Problem(path: path, reason: "is \(size) bytes, over the limit of \(limit): it is not the file tutor expects") }
        var out = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                let e = errno
                throw Problem(path: path, reason: "cannot be read: " + ErrorText.reason(errno: e), code: e)
            }
            if n == 0 { break }
            done += n
        }
        if done != size { out.removeLast(size - done) }
        return out
    }
}
