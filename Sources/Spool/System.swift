import CInotify
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Every libc call of the spool goes through here, so that the platform's quirks live in
/// one place. Paths are plain strings: the spool works with names, not URLs.
enum Sys {
    /// A failed system call: which call, on what, and the errno text.
    struct Failure: Error, CustomStringConvertible {
        let call: String
        let path: String
        let errno: Int32
        var description: String { "\(call) \(path): \(String(cString: strerror(errno)))" }
    }

    static func errorText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }

    /// Seconds on a clock that never jumps (for timeouts and settle times).
    static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Seconds since the epoch (for file times and records other hosts read).
    static func wallClock() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    // MARK: entries

    struct Entry {
        enum Kind: String { case folder, file = "regular file", symlink = "symbolic link", other = "special file" }
        let kind: Kind
        let mtime: Double
        let ctime: Double
        let size: Int
    }

    /// The entry at `path`, without following a final symbolic link; nil when absent.
    static func entry(_ path: String) -> Entry? {
        var st = stat()
        if lstat(path, &st) != 0 { return nil }
        let kind: Entry.Kind
        switch st.st_mode & S_IFMT {
        case S_IFDIR: kind = .folder
        case S_IFREG: kind = .file
        case S_IFLNK: kind = .symlink
        default: kind = .other
        }
        let m = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) * 1e-9
        let c = Double(st.st_ctim.tv_sec) + Double(st.st_ctim.tv_nsec) * 1e-9
        return Entry(kind: kind, mtime: m, ctime: c, size: Int(st.st_size))
    }

    static func exists(_ path: String) -> Bool { entry(path) != nil }

    /// The names in a folder, without "." and "..", at most `limit` of them.
    static func names(in folder: String, limit: Int = Int.max) -> [String]? {
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

    static func makeFolder(_ path: String, mode: mode_t = 0o755) throws(Failure) {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw Failure(call: "mkdir", path: path, errno: errno) }
    }

    // MARK: renames

    /// Renames `from` to `to` only if `to` does not exist. Returns the errno on failure
    /// (EEXIST or ENOTEMPTY when `to` is taken, ENOENT when `from` is gone).
    ///
    /// Falls back to a check and a plain rename where the file system lacks RENAME_NOREPLACE
    /// (some network file systems): a folder is then still never renamed over a non-empty one.
    @discardableResult
    static func renameNoReplace(_ from: String, _ to: String) -> Int32 {
        if renameat2(AT_FDCWD, from, AT_FDCWD, to, UInt32(RENAME_NOREPLACE)) == 0 { return 0 }
        let e = errno
        if e != EINVAL && e != ENOSYS { return e }
        if exists(to) { return EEXIST }
        return rename(from, to) == 0 ? 0 : errno
    }

    /// Moves `from` into `folder` under `name`, or under `name~2`, `name~3`, ... when taken.
    /// Returns the name used, or throws when `from` cannot be moved at all.
    static func moveUnique(_ from: String, into folder: String, name: String) throws(Failure) -> String {
        var candidate = name
        for k in 2...10_000 {
            let e = renameNoReplace(from, folder + "/" + candidate)
            if e == 0 { return candidate }
            if e != EEXIST && e != ENOTEMPTY { throw Failure(call: "rename", path: from, errno: e) }
            candidate = "\(name)~\(k)"
        }
        throw Failure(call: "rename", path: from, errno: EEXIST)
    }

    static func syncFolder(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    // MARK: small files

    /// Writes `bytes` to `path` atomically: a temporary dot-name beside it, fsync, checked
    /// close, rename into place, fsync of the folder.
    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(Failure) {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let tmp = "\(dir)/.\(base).\(getpid()).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        if fd < 0 { throw Failure(call: "open", path: tmp, errno: errno) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno; close(fd); unlink(tmp)
                throw Failure(call: "write", path: tmp, errno: e)
            }
            done += n
        }
        if fsync(fd) != 0 { let e = errno; close(fd); unlink(tmp); throw Failure(call: "fsync", path: tmp, errno: e) }
        if close(fd) != 0 { let e = errno; unlink(tmp); throw Failure(call: "close", path: tmp, errno: e) }
        if rename(tmp, path) != 0 { let e = errno; unlink(tmp); throw Failure(call: "rename", path: path, errno: e) }
        syncFolder(dir)
    }

    /// Reads a small regular file without following a symbolic link; nil when absent,
    /// not a regular file, unreadable or over `limit` bytes. Reads to the end of the file
    /// rather than trusting its size, which /proc reports as 0.
    static func readSmallFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
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

    /// Sets a file's modification time to now (a heartbeat that other hosts can see).
    static func touch(_ path: String) {
        utimensat(AT_FDCWD, path, nil, AT_SYMLINK_NOFOLLOW)
    }

    // MARK: processes

    /// The text in a C buffer up to its first NUL (or its end).
    static func string(_ buf: [CChar]) -> String {
        String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count - 1)
        return string(buf)
    }

    /// The boot's identity: a process id means nothing across a reboot.
    static func bootID() -> String {
        guard let b = readSmallFile("/proc/sys/kernel/random/boot_id", limit: 100) else { return "" }
        return String(decoding: b, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Field 22 of /proc/PID/stat: when the process started, in clock ticks after boot.
    /// Together with the pid it names one process, even after the pid is reused. nil when
    /// no such process exists.
    static func processStartTicks(_ pid: Int32) -> UInt64? {
        guard let s = procStat(pid), s.count >= 20 else { return nil }
        return UInt64(s[19])
    }

    /// The fields of /proc/PID/stat after the command name (field 3 onwards).
    static func procStat(_ pid: Int32) -> [Substring]? {
        guard let b = readSmallFile("/proc/\(pid)/stat", limit: 4096) else { return nil }
        let text = String(decoding: b, as: UTF8.self)
        // The command name is in parentheses and may itself hold spaces and parentheses.
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// Resident memory of a process in bytes, from /proc/PID/statm.
    static func residentBytes(_ pid: Int32) -> Int? {
        guard let b = readSmallFile("/proc/\(pid)/statm", limit: 4096) else { return nil }
        let f = String(decoding: b, as: UTF8.self).split(separator: " ")
        guard f.count > 1, let pages = Int(f[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// User plus system CPU time of a process in seconds, from /proc/PID/stat.
    static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let s = procStat(pid), s.count > 12, let u = Double(s[11]), let k = Double(s[12]) else { return nil }
        return (u + k) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func signalName(_ sig: Int32) -> String {
        switch sig {
        case SIGKILL: return "SIGKILL"
        case SIGTERM: return "SIGTERM"
        case SIGSEGV: return "SIGSEGV"
        case SIGABRT: return "SIGABRT"
        case SIGBUS: return "SIGBUS"
        case SIGILL: return "SIGILL"
        case SIGINT: return "SIGINT"
        case SIGFPE: return "SIGFPE"
        case SIGTRAP: return "SIGTRAP"
        default: return "signal \(sig)"
        }
    }
}

/// One line per event on standard error, for the journal (which adds its own timestamps).
public enum SpoolLog {
    /// Under systemd the journal names the process itself; elsewhere (tests, a terminal
    /// with several daemons) each line carries the pid.
    static let prefix: String = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil ? "" : "tutor[\(getpid())]: "

    public static func line(_ text: String) {
        let s = prefix + text + "\n"
        s.withCString { p in _ = write(2, p, strlen(p)) }
    }
}

/// Readings of another process from /proc, for benchmarks and status.
public enum ProcessReadings {
    /// Resident memory in bytes; nil when the process is gone.
    public static func residentBytes(_ pid: Int32) -> Int? { Sys.residentBytes(pid) }
    /// User plus system CPU seconds so far; nil when the process is gone.
    public static func cpuSeconds(_ pid: Int32) -> Double? { Sys.cpuSeconds(pid) }
}
