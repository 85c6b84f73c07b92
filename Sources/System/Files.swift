import CSystem
#if canImport(Glibc)
import Glibc
#endif

/// Calls on paths that every part of tutor needs. Paths are plain strings: the callers work
/// with names, not URLs.
public enum Files {
    /// The kind of the entry at `path`, without following a final symbolic link; nil if absent.
    public static func kind(_ path: String) -> FileKind? { FileEntry(path)?.kind }

    public static func exists(_ path: String) -> Bool { FileEntry(path) != nil }

    /// The names in a folder, without "." and "..", at most `limit` of them; nil when the
    /// folder cannot be listed.
    public static func names(in folder: String, limit: Int = Int.max) -> [String]? {
        guard let d = opendir(folder) else { return nil }
        defer { closedir(d) }
        var out: [String] = []
        while out.count < limit, let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            out.append(name)
        }
        return out
    }

    /// Creates a folder; one that exists already is fine.
    public static func makeFolder(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw SystemError("create", path, errno: errno) }
    }

    /// Creates a folder and its missing parents.
    public static func makeFolders(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            try makeFolder(prefix, mode: mode)
            prefix += "/"
        }
    }

    /// fsyncs a folder, so that a rename into it or out of it survives a crash.
    public static func syncFolder(_ path: String) {
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    /// fsyncs the folder holding `path`.
    public static func syncParent(of path: String) { syncFolder(parent(of: path)) }

    /// The folder part of a path ("." for a bare name, "/" for a name at the root).
    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The last part of a path.
    public static func baseName(_ path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }

    // MARK: renames and removals

    /// Renames `from` to `to`, replacing a file at `to`.
    public static func rename(_ from: String, _ to: String) throws(SystemError) {
        if Glibc.rename(from, to) != 0 { throw SystemError("move", "\(from) to \(to)", errno: errno) }
    }

    /// Renames `from` to `to` only if `to` does not exist. Returns 0 or the errno (EEXIST or
    /// ENOTEMPTY when `to` is taken, ENOENT when `from` is gone).
    ///
    /// Falls back to a check and a plain rename where the file system lacks RENAME_NOREPLACE
    /// (some network file systems): a folder is then still never renamed over a non-empty one.
    @discardableResult
    public static func renameNoReplace(_ from: String, _ to: String) -> Int32 {
        if renameat2(AT_FDCWD, from, AT_FDCWD, to, UInt32(RENAME_NOREPLACE)) == 0 { return 0 }
        let e = errno
        if e != EINVAL && e != ENOSYS { return e }
        if exists(to) { return EEXIST }
        return Glibc.rename(from, to) == 0 ? 0 : errno
    }

    /// Removes a file (never a folder). A file that is already gone is not an error.
    public static func removeFile(_ path: String) throws(SystemError) {
        if unlink(path) != 0 && errno != ENOENT { throw SystemError("remove", path, errno: errno) }
    }

    /// Removes a folder and everything in it, without following symbolic links (a link is
    /// removed, not what it points to). A path that is already gone is not an error.
    public static func removeTree(_ path: String) throws(SystemError) {
        guard let e = FileEntry(path) else { return }
        if e.kind == .folder {
            for n in names(in: path) ?? [] { try removeTree(path + "/" + n) }
            if rmdir(path) != 0 && errno != ENOENT { throw SystemError("remove", path, errno: errno) }
        } else {
            try removeFile(path)
        }
    }

    // MARK: small files

    /// Reads a small regular file without following a symbolic link; nil when absent, not a
    /// regular file, unreadable or over `limit` bytes. Reads to the end of the file rather than
    /// trusting its size, which /proc reports as 0.
    public static func readSmall(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 { return nil }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 || st.st_mode & S_IFMT != S_IFREG || Int(st.st_size) > limit { return nil }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(limit + 1, max(Int(st.st_size) + 1, 4096)))
        let chunkSize = chunk.count
        while out.count <= limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, chunkSize) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            out += chunk[..<n]
        }
        return out.count <= limit ? out : nil
    }
}
