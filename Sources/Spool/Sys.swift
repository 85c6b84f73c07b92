import Foundation
import System
#if canImport(Glibc)
import Glibc
#endif

/// The spool's own system calls: unique moves, small JSON records, heartbeats and readings of
/// processes in /proc. What other modules need too (atomic writes, renames, file kinds,
/// clocks, memory) is in System.
enum Sys {
    /// Moves `from` into `folder` under `name`, or under `name~2`, `name~3`, ... when taken.
    /// Returns the name used, or throws when `from` cannot be moved at all.
    static func moveUnique(_ from: String, into folder: String, name: String) throws(SystemError) -> String {
        var candidate = name
        for k in 2...10_000 {
            let e = Files.renameNoReplace(from, folder + "/" + candidate)
            if e == 0 { return candidate }
            if e != EEXIST && e != ENOTEMPTY { throw SystemError("move", "\(from) into \(folder)", errno: e) }
            candidate = "\(name)~\(k)"
        }
        throw SystemError("move", "\(from) into \(folder)", errno: EEXIST)
    }

    // MARK: small files

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
        guard let b = Files.readSmall("/proc/sys/kernel/random/boot_id", limit: 100) else { return "" }
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
        guard let b = Files.readSmall("/proc/\(pid)/stat", limit: 4096) else { return nil }
        let text = String(decoding: b, as: UTF8.self)
        // The command name is in parentheses and may itself hold spaces and parentheses.
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
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

    public static func line(_ text: String) { StandardError.line(prefix + text) }
}

/// Readings of another process from /proc, for benchmarks and status.
public enum ProcessReadings {
    /// Resident memory in bytes; nil when the process is gone.
    public static func residentBytes(_ pid: Int32) -> Int? { Memory.residentBytes(pid: pid) }
    /// User plus system CPU seconds so far; nil when the process is gone.
    public static func cpuSeconds(_ pid: Int32) -> Double? { Sys.cpuSeconds(pid) }
}
