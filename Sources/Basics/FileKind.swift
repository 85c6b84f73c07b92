#if canImport(Glibc)
import Glibc
#endif

/// The kind of a file system entry in words, for messages: "regular file", "folder", "FIFO".
public enum FileKind {
    public static func name(mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "regular file"
        case S_IFDIR: return "folder"
        case S_IFLNK: return "symbolic link"
        case S_IFIFO: return "FIFO"
        case S_IFCHR: return "character device"
        case S_IFBLK: return "block device"
        case S_IFSOCK: return "socket"
        default: return "special file"
        }
    }
}
