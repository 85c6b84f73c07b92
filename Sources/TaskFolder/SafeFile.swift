import Foundation
import System
#if canImport(Glibc)
import Glibc
#endif

/// Why a file of a task folder cannot be read.
public enum InputFileError: Error, Equatable, CustomStringConvertible {
    case missing(String)
    case notRegular(String, kind: String)
    case tooLarge(String, bytes: Int, limit: Int)
    case unreadable(String, reason: String)

    public var description: String {
        switch self {
        case .missing(let n): return "\(n) is missing"
        case let .notRegular(n, kind): return "\(n) is a \(kind), not a regular file (it is never followed)"
        case let .tooLarge(n, bytes, limit): return "\(n) is \(bytes) bytes, over the limit of \(limit)"
        case let .unreadable(n, reason): return "\(n) cannot be read: \(reason)"
        }
    }
}

/// Reads files of a task folder without following symbolic links: the file is opened
/// with O_NOFOLLOW and must be a regular file by fstat of that very descriptor, so a
/// link swapped in between a check and the open is refused too.
public enum SafeFile {
    /// The kind of the entry at `url`, without following a final symbolic link; nil if absent.
    public static func kind(at url: URL) -> FileKind? { Files.kind(url.path) }

    static func kindName(_ mode: mode_t) -> String { FileKind(mode: mode).rawValue }

    /// Reads `name` inside `folder`, refusing anything but a regular file.
    public static func read(_ name: String, in folder: URL, limit: Int) throws(InputFileError) -> [UInt8] {
        let path = folder.appendingPathComponent(name, isDirectory: false).path
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno == ENOENT { throw .missing(name) }
            throw .unreadable(name, reason: ErrorText.reason(errno: errno))
        }
        if st.st_mode & S_IFMT != S_IFREG { throw .notRegular(name, kind: kindName(st.st_mode)) }
        // O_NONBLOCK so that a FIFO swapped in after lstat cannot hang the open.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 {
            if errno == ELOOP { throw .notRegular(name, kind: "symbolic link") }
            throw .unreadable(name, reason: ErrorText.reason(errno: errno))
        }
        defer { close(fd) }
        if fstat(fd, &st) != 0 { throw .unreadable(name, reason: ErrorText.reason(errno: errno)) }
        if st.st_mode & S_IFMT != S_IFREG { throw .notRegular(name, kind: kindName(st.st_mode)) }
        let size = Int(st.st_size)
        if size > limit { throw .tooLarge(name, bytes: size, limit: limit) }
        var out = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(name, reason: ErrorText.reason(errno: errno))
            }
            if n == 0 { break }
            done += n
        }
        if done != size { out.removeLast(size - done) }
        return out
    }
}
