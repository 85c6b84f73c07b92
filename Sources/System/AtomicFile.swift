#if canImport(Glibc)
import Glibc
#endif

/// A file written so that a reader never sees half of it: the bytes go to a temporary name in
/// the destination's folder, are fsynced, the descriptor is closed (checked), the file is
/// renamed into place and the folder fsynced. A reader sees the old file or the whole new one.
///
/// The temporary name carries tutor's marker (`TemporaryName`), so that the leftovers of a
/// killed run can be told from a user's files and removed without touching anything else.
public struct AtomicFile {
    public let path: String
    public let temporaryPath: String
    private var fd: Int32

    /// Opens a temporary file beside `path`.
    public init(path: String, mode: mode_t = 0o644) throws(SystemError) {
        self.path = path
        let dir = Files.parent(of: path)
        temporaryPath = (path.contains("/") ? (dir == "/" ? "/" : dir + "/") : "") + TemporaryName.make(for: Files.baseName(path))
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        if fd < 0 { throw SystemError("write", path, errno: errno) }
    }

    /// Appends bytes, retrying short writes and EINTR.
    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                discard()
                throw SystemError("write", path, errno: e)
            }
            done += n
        }
    }

    public mutating func write(_ bytes: [UInt8]) throws(SystemError) {
        let r: Result<Void, SystemError> = bytes.withUnsafeBytes { raw in
            do throws(SystemError) { try write(raw); return .success(()) } catch { return .failure(error) }
        }
        try r.get()
    }

    /// Makes the file durable and puts it in place.
    public mutating func commit() throws(SystemError) {
        if fsync(fd) != 0 { let e = errno; discard(); throw SystemError("write", path, errno: e) }
        let rc = close(fd)
        fd = -1
        if rc != 0 { let e = errno; unlink(temporaryPath); throw SystemError("write", path, errno: e) }
        if Glibc.rename(temporaryPath, path) != 0 { let e = errno; unlink(temporaryPath); throw SystemError("write", path, errno: e) }
        Files.syncParent(of: path)
    }

    /// Drops the temporary file; the destination is untouched.
    public mutating func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
    }

    /// Writes `bytes` to `path` atomically (the whole sequence above in one call).
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(SystemError) {
        var f = try AtomicFile(path: path, mode: mode)
        try f.write(bytes)
        try f.commit()
    }

    public static func write(_ text: String, to path: String, mode: mode_t = 0o644) throws(SystemError) {
        try write(Array(text.utf8), to: path, mode: mode)
    }
}

/// The names tutor gives what it writes before it is complete:
/// `.tutor-tmp.<name>.<pid>.<random>`. Only names of this form are ever removed as leftovers;
/// a user's `.verdict.json.bak` or `frames/.keep.tmp` is not one.
public enum TemporaryName {
    public static let marker = ".tutor-tmp."

    /// A fresh temporary name for `name` (a file, or a folder being staged).
    public static func make(for name: String) -> String {
        // Keep the whole name under NAME_MAX (255 bytes) whatever `name` is.
        var short = name
        while short.utf8.count > 160 { short.removeLast() }
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "\(marker)\(short).\(getpid()).\(random)"
    }

    /// Whether `name` is one of tutor's temporary names.
    public static func isTemporary(_ name: String) -> Bool {
        guard name.hasPrefix(marker) else { return false }
        // ... .<pid>.<hex>
        let parts = name.dropFirst(marker.count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, let random = parts.last, let pid = parts.dropLast().last else { return false }
        return !pid.isEmpty && pid.allSatisfy(\.isNumber) && !random.isEmpty && random.allSatisfy(\.isHexDigit)
    }
}
