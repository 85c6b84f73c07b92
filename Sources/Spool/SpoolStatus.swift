import Basics
import Foundation
import System
#if canImport(Glibc)
import Glibc
#endif

/// `tutor status`: what is in each state of a spool, read from the folders alone (any host
/// can ask; no daemon needs to answer).
public struct SpoolStatus {
    public struct ActiveTask {
        public var name: String
        public var host: String?
        public var daemonPID: Int32?
        public var workerPID: Int32?
        /// The Slurm job running it (`--executor slurm`), and what Slurm last said of it.
        public var slurmJob: String?
        public var slurmState: String?
        public var attempt: Int
        public var runningSeconds: Double?
        /// progress.json as the worker last wrote it (step, loss, p_yes per question).
        public var progress: JSONValue?
    }

    public struct FailedTask {
        public var name: String
        public var code: String?
        public var message: String?
        public var attempts: Int
    }

    public struct DoneTask {
        public var name: String
        /// The verdict's status, "passed" or "failed".
        public var status: String?
        /// The questions the judge answered "no".
        public var failedQuestions: [String]
        public var seconds: Double?
    }

    /// A daemon holding tasks because the spool's disk is full.
    public struct DiskFullDaemon {
        public var host: String
        public var pid: Int32
        public var seconds: Double
    }

    public var counts: [String: Int] = [:]
    /// Daemons that hold tasks for lack of space (from their markers in the spool's root).
    public var diskFull: [DiskFullDaemon] = []
    /// Bytes an unprivileged user can still write on the spool's file system.
    public var freeBytes: Int?
    /// The most recent tasks in done/ (newest first), with their verdicts.
    public var done: [DoneTask] = []
    public var active: [ActiveTask] = []
    /// Tasks waiting in incoming/ after worker crashes, with their crash counts.
    public var retried: [(name: String, attempts: Int)] = []
    /// The most recent tasks in failed/ (newest first), with the reasons.
    public var failed: [FailedTask] = []

    public static let failedShown = 20
    public static let doneShown = 20

    /// The `k` most recently changed of `names` in `dir`, newest first.
    static func newest(_ names: [String], in dir: String, _ k: Int) -> [String] {
        names.map { ($0, FileEntry(dir + "/" + $0)?.ctime ?? 0) }.sorted { $0.1 > $1.1 }.prefix(k).map(\.0)
    }

    public static func read(spool: String) throws -> SpoolStatus {
        let f = SpoolFolders(root: spool)
        guard f.exists else {
            throw SpoolError.notASpool("\(spool) is not a spool (it needs incoming/, active/, done/ and failed/)")
        }
        var s = SpoolStatus()
        let wall = Clock.wallSeconds()
        let incoming = f.taskNames(in: f.incoming)
        let active = f.taskNames(in: f.active)
        let done = f.taskNames(in: f.done)
        let failed = f.taskNames(in: f.failed)
        s.counts = ["incoming": incoming.count, "active": active.count, "done": done.count, "failed": failed.count]
        let host = Sys.hostName()
        for m in DiskFullMarker.all(in: f.root) {
            // A marker of a daemon of this host that is gone says nothing any more.
            if m.host == host && kill(m.pid, 0) != 0 && errno == ESRCH { continue }
            s.diskFull.append(DiskFullDaemon(host: m.host, pid: m.pid, seconds: max(0, wall - m.since)))
        }
        var fs = statvfs()
        if statvfs(f.root, &fs) == 0 { s.freeBytes = Int(fs.f_bavail) * Int(fs.f_frsize) }
        for n in incoming {
            let a = SpoolFolders.crashedAttempts(f.incoming + "/" + n)
            if a > 0 { s.retried.append((n, a)) }
        }
        for n in active {
            let path = f.active + "/" + n
            let o = OwnerRecord.read(task: path)
            s.active.append(ActiveTask(
                name: n, host: o?.host, daemonPID: o?.pid, workerPID: o.map(\.workerPID).flatMap { $0 > 0 ? $0 : nil },
                slurmJob: o.flatMap { $0.slurmJob.isEmpty ? nil : $0.slurmJob },
                slurmState: o.flatMap { $0.slurmJob.isEmpty ? nil : $0.slurmState },
                attempt: o?.attempt ?? SpoolFolders.crashedAttempts(path) + 1,
                runningSeconds: o.map { max(0, wall - $0.claimedAt) },
                progress: Sys.readJSON(path + "/progress.json", limit: 1 << 20)))
        }
        for n in newest(done, in: f.done, doneShown) {
            let v = Sys.readJSON(f.done + "/" + n + "/" + SpoolFolders.verdictFile, limit: 16 << 20)
            var questions: [JSONValue] = []
            if let g = v?["goal"], case .object = g { questions.append(g) }
            questions += v?["process"]?.arrayValue ?? []
            let no = questions.filter { $0["satisfied"]?.boolValue == false }.compactMap { $0["question"]?.stringValue }
            let seconds = v?["cost"]?["seconds"]?.doubleValue
            s.done.append(DoneTask(name: n, status: v?["status"]?.stringValue, failedQuestions: no, seconds: seconds))
        }
        for n in newest(failed, in: f.failed, failedShown) {
            let path = f.failed + "/" + n
            let err = Sys.readJSON(path + "/" + SpoolFolders.verdictFile, limit: 16 << 20)?["error"]
            s.failed.append(FailedTask(name: n, code: err?["code"]?.stringValue, message: err?["message"]?.stringValue,
                                       attempts: SpoolFolders.crashedAttempts(path)))
        }
        return s
    }

    /// `tutor status --json`: keys in alphabetical order at every level.
    public var jsonValue: JSONValue {
        func optional<T>(_ x: T?, _ f: (T) -> JSONValue) -> JSONValue { x.map(f) ?? .null }
        return .object([
            ("active", .array(active.map { t in
                .object([("attempt", .int(t.attempt)), ("daemon_pid", optional(t.daemonPID, JSONValue.int)),
                         ("host", optional(t.host, JSONValue.string)), ("name", .string(t.name)),
                         ("progress", t.progress ?? .null),
                         ("running_seconds", optional(t.runningSeconds) { .double(($0 * 10).rounded() / 10) }),
                         ("worker_pid", optional(t.workerPID, JSONValue.int))]
                        // Only tasks run by Slurm have a job: the keys sort after running_seconds.
                        .flatMap { m -> [(String, JSONValue)] in
                            guard m.0 == "worker_pid", let j = t.slurmJob else { return [m] }
                            return [("slurm_job", .string(j)), ("slurm_state", .string(t.slurmState ?? "")), m]
                        })
            })),
            ("counts", .object(counts.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
            ("disk_full", .array(diskFull.map {
                .object([("host", .string($0.host)), ("pid", .int($0.pid)), ("seconds", .double(($0.seconds * 10).rounded() / 10))])
            })),
            ("done", .array(done.map { t in
                .object([("failed_questions", .array(t.failedQuestions.map(JSONValue.string))), ("name", .string(t.name)),
                         ("seconds", optional(t.seconds, JSONValue.double)), ("status", optional(t.status, JSONValue.string))])
            })),
            ("failed", .array(failed.map { t in
                .object([("attempts", .int(t.attempts)), ("code", optional(t.code, JSONValue.string)),
                         ("message", optional(t.message, JSONValue.string)), ("name", .string(t.name))])
            })),
            ("free_bytes", optional(freeBytes, JSONValue.int)),
            ("retried", .array(retried.map { .object([("attempts", .int($0.attempts)), ("name", .string($0.name))]) })),
        ])
    }

    /// `jsonValue` as text, ending with a newline.
    public var json: String { String(decoding: jsonValue.prettyBytes(), as: UTF8.self) }

    /// A short report for a terminal.
    public var text: String {
        var lines = ["incoming \(counts["incoming"] ?? 0)   active \(counts["active"] ?? 0)   done \(counts["done"] ?? 0)   failed \(counts["failed"] ?? 0)"]
        for d in diskFull {
            let free = freeBytes.map { String(format: "; %.1f MiB free now", Double($0) / 1048576) } ?? ""
            lines.append("  disk full: the daemon on \(d.host) (pid \(d.pid)) has held tasks for \(Int(d.seconds)) s, waiting for space\(free)")
        }
        for t in active {
            var l = "  running  \(t.name)  attempt \(t.attempt)"
            if let h = t.host, let p = t.daemonPID { l += "  on \(h) (daemon pid \(p))" }
            if let j = t.slurmJob { l += "  Slurm job \(j)" + ((t.slurmState ?? "").isEmpty ? "" : " \(t.slurmState!)") }
            if let r = t.runningSeconds { l += String(format: "  %.0f s", r) }
            if let p = t.progress {
                if let step = p["step"] { l += "  step \(step.serialized())" }
                if let loss = p["loss"]?.doubleValue { l += String(format: "  loss %.3f", loss) }
            }
            lines.append(l)
        }
        for r in retried { lines.append("  waiting  \(r.name)  after \(r.attempts) crashed attempt(s)") }
        for t in done {
            var l = "  \((t.status ?? "done").padding(toLength: 7, withPad: " ", startingAt: 0))  \(t.name)"
            if let sec = t.seconds { l += String(format: "  %.1f s", sec) }
            if !t.failedQuestions.isEmpty { l += "  no: " + t.failedQuestions.joined(separator: " | ") }
            lines.append(l)
        }
        for t in failed {
            lines.append("  failed   \(t.name)  \(t.code ?? "?"): \(t.message ?? "no verdict")")
        }
        return lines.joined(separator: "\n")
    }
}
