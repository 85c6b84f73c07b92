#if canImport(Glibc)
import Glibc
#endif

/// What an entry in a folder is. The raw value is how messages name it ("a FIFO, not a
/// regular file").
public enum FileKind: String, Sendable, CustomStringConvertible {
    case file = "regular file"
    case folder
    case symlink = "symbolic link"
    case fifo = "FIFO"
    case characterDevice = "character device"
    case blockDevice = "block device"
    case socket
    case other = "special file"

    public init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .file
        case S_IFDIR: self = .folder
        case S_IFLNK: self = .symlink
        case S_IFIFO: self = .fifo
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFSOCK: self = .socket
        default: self = .other
        }
    }

    public var description: String { rawValue }
}

/// An entry as lstat sees it: never following a final symbolic link.
public struct FileEntry: Sendable {
    public let kind: FileKind
    /// Modification and status-change times, seconds since the epoch.
    public let mtime: Double
    public let ctime: Double
    public let size: Int

    /// The entry at `path`; nil when absent (or unreachable).
    public init?(_ path: String) {
        var st = stat()
        if lstat(path, &st) != 0 { return nil }
        kind = FileKind(mode: st.st_mode)
        mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) * 1e-9
        ctime = Double(st.st_ctim.tv_sec) + Double(st.st_ctim.tv_nsec) * 1e-9
        size = Int(st.st_size)
    }
}
