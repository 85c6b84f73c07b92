import Basics
import Foundation
import System
import Verdicts

/// The four folders of a spool (docs/FORMAT.md, section 5). Each state of a task is the folder it
/// sits in, so a person can see and repair the spool with `ls` and `mv`.
///
///     spool/incoming/   users put task folders here (dot-names are uploads in progress)
///     spool/active/     claimed by a daemon; `.tutor-owner` inside says which
///     spool/done/       finished with status passed or failed
///     spool/failed/     status error, or given up after repeated worker crashes
public struct SpoolFolders: Sendable {
    public let root: String
    public var incoming: String { root + "/incoming" }
    public var active: String { root + "/active" }
    public var done: String { root + "/done" }
    public var failed: String { root + "/failed" }

    /// Files the spool keeps inside a task folder. Dot-names, so that they never collide
    /// with a user's files and `ls` hides them.
    public static let ownerFile = ".tutor-owner"
    public static let attemptsFile = ".tutor-attempts"
    /// How many times a worker was started on the task, whatever became of it: the attempt
    /// number `worker.log` labels each start with.
    public static let runsFile = ".tutor-runs"
    /// Written by the worker, last: its presence means the task finished.
    public static let verdictFile = "verdict.json"
    /// What the worker printed, appended attempt after attempt.
    public static let workerLog = "worker.log"
    /// A user's signal that a folder is complete.
    public static let readyFile = "READY"
    public static let requiredInputs = ["prompt.txt", "rules.json"]
    /// The first frame: one of these (docs/FORMAT.md).
    public static let firstFrameNames = ["first_frame.jpg", "first_frame.png"]

    /// Whether a folder's entries hold every required input.
    public static func hasInputs(_ entries: Set<String>) -> Bool {
        requiredInputs.allSatisfy(entries.contains) && firstFrameNames.contains(where: entries.contains)
    }

    public init(root: String) {
        var r = root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
    }

    /// Creates the spool's folders where missing.
    public func create() throws {
        try Files.makeFolder(root)
        for f in [incoming, active, done, failed] { try Files.makeFolder(f) }
    }

    /// Whether the spool's four folders exist.
    public var exists: Bool {
        [incoming, active, done, failed].allSatisfy { FileEntry($0)?.kind == .folder }
    }

    /// The names in a state folder that are tasks (dot-names are not).
    func taskNames(in folder: String) -> [String] {
        (Files.names(in: folder) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// How many crashed attempts a task folder has behind it.
    static func crashedAttempts(_ taskPath: String) -> Int {
        guard let b = Files.readSmall(taskPath + "/" + attemptsFile, limit: 64) else { return 0 }
        return Int(String(decoding: b, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    static func setCrashedAttempts(_ taskPath: String, _ n: Int) throws {
        try AtomicFile.write(Array("\(n)\n".utf8), to: taskPath + "/" + attemptsFile)
    }

    /// How many times a worker was started on a task folder.
    static func runs(_ taskPath: String) -> Int {
        guard let b = Files.readSmall(taskPath + "/" + runsFile, limit: 64) else { return 0 }
        return Int(String(decoding: b, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    static func setRuns(_ taskPath: String, _ n: Int) throws {
        try AtomicFile.write(Array("\(n)\n".utf8), to: taskPath + "/" + runsFile)
    }
}

/// Who holds a task in `active/`: written into the task folder right after the claim.
///
/// A daemon on the same host (and the same boot) is alive when its pid still names a
/// process that started at the recorded tick; one on another host is trusted until its
/// record is older than the lease (each daemon touches its records at every rescan).
struct OwnerRecord: Equatable {
    var host: String
    var bootID: String
    var pid: Int32
    /// Field 22 of /proc/PID/stat of the daemon: with the pid, names one process.
    var startTicks: UInt64
    /// 1 for the first try, 2 after one crash, ...
    var attempt: Int
    /// Seconds since the epoch.
    var claimedAt: Double
    /// The worker process running the task, once started.
    var workerPID: Int32 = 0
    /// The Slurm job running the task (`--executor slurm`): its id once sbatch answered,
    /// `submitting` just before; empty for a local worker.
    var slurmJob = ""
    /// What Slurm last said of the job (`PENDING (reason: Priority)`, `RUNNING`).
    var slurmState = ""

    /// Written as the owner record's `slurm_job` while sbatch runs: a daemon that died then
    /// left a job it may not know the id of, found again by its name and comment.
    static let submitting = "submitting"

    static func mine(attempt: Int, identity: DaemonIdentity) -> OwnerRecord {
        OwnerRecord(host: identity.host, bootID: identity.bootID, pid: identity.pid,
                    startTicks: identity.startTicks, attempt: attempt, claimedAt: (Clock.wallSeconds() * 1000).rounded() / 1000)
    }

    var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("attempt", .int(attempt)), ("boot_id", .string(bootID)), ("claimed_at", .double((claimedAt * 1000).rounded() / 1000)),
            ("host", .string(host)), ("pid", .int(pid))]
        if !slurmJob.isEmpty { members += [("slurm_job", .string(slurmJob)), ("slurm_state", .string(slurmState))] }
        members += [("start_ticks", .integer(Int64(clamping: startTicks))), ("worker_pid", .int(workerPID))]
        return .object(members)
    }

    /// The comment of the Slurm job submitted for this claim: it finds the job when the
    /// daemon died before it could write down the job's id.
    var slurmComment: String { "tutor claim \(host) \(pid) \(startTicks) \(String(format: "%.3f", claimedAt))" }

    init(host: String, bootID: String, pid: Int32, startTicks: UInt64, attempt: Int, claimedAt: Double, workerPID: Int32 = 0) {
        self.host = host; self.bootID = bootID; self.pid = pid; self.startTicks = startTicks
        self.attempt = attempt; self.claimedAt = claimedAt; self.workerPID = workerPID
    }

    init?(json o: JSONValue) {
        guard let host = o["host"]?.stringValue, let pid = o["pid"]?.integerValue.flatMap({ Int32(exactly: $0) }),
              let ticks = o["start_ticks"]?.integerValue.flatMap({ UInt64(exactly: $0) }) else { return nil }
        self.host = host
        self.bootID = o["boot_id"]?.stringValue ?? ""
        self.pid = pid
        self.startTicks = ticks
        self.attempt = o["attempt"]?.integerValue.flatMap { Int(exactly: $0) } ?? 1
        self.claimedAt = o["claimed_at"]?.doubleValue ?? 0
        self.workerPID = o["worker_pid"]?.integerValue.flatMap { Int32(exactly: $0) } ?? 0
        self.slurmJob = o["slurm_job"]?.stringValue ?? ""
        self.slurmState = o["slurm_state"]?.stringValue ?? ""
    }

    static func read(task path: String) -> OwnerRecord? {
        Sys.readJSON(path + "/" + SpoolFolders.ownerFile, limit: 64 * 1024).flatMap(OwnerRecord.init(json:))
    }

    func write(task path: String) throws {
        try AtomicFile.write(json.prettyBytes(), to: path + "/" + SpoolFolders.ownerFile)
    }
}

/// The running daemon as an owner record names it.
struct DaemonIdentity {
    let host: String
    let bootID: String
    let pid: Int32
    let startTicks: UInt64

    static func current() -> DaemonIdentity {
        let pid = getpid()
        return DaemonIdentity(host: Sys.hostName(), bootID: Sys.bootID(), pid: pid,
                              startTicks: Sys.processStartTicks(pid) ?? 0)
    }
}

/// What a worker left in `verdict.json`, as far as the spool cares: where the task goes.
enum VerdictStatus: Equatable {
    case passed, failed, error
    /// verdict.json exists but is not a verdict (not JSON, no known status).
    case unreadable(String)
    case absent

    static func read(task path: String) -> VerdictStatus {
        let file = path + "/" + SpoolFolders.verdictFile
        guard let e = FileEntry(file) else { return .absent }
        if e.kind != .file { return .unreadable("verdict.json is a \(e.kind.rawValue)") }
        guard let o = Sys.readJSON(file, limit: 16 << 20), case .object = o else {
            return .unreadable("verdict.json is not a JSON object")
        }
        switch o["status"]?.stringValue {
        case "passed": return .passed
        case "failed": return .failed
        case "error": return .error
        default: return .unreadable("verdict.json has no status passed, failed or error")
        }
    }

    /// The error code of an error verdict (for the metrics); nil when it has none.
    static func errorCode(task path: String) -> String? {
        Sys.readJSON(path + "/" + SpoolFolders.verdictFile, limit: 16 << 20)?["error"]?["code"]?.stringValue
    }

    /// Writes the spool's own error verdict (docs/VERDICT.md) into a task folder.
    static func writeError(task path: String, name: String, code: ErrorCode, message: String, attempts: Int? = nil) throws {
        try AtomicFile.write(errorVerdict(name: name, code: code, message: message, attempts: attempts).jsonBytes(),
                             to: path + "/" + SpoolFolders.verdictFile)
    }

    /// The daemon's verdict for a task that has none of its own: no strategy ran, nothing was written.
    static func errorVerdict(name: String, code: ErrorCode, message: String, attempts: Int? = nil) -> Verdict {
        var v = Verdict.failure(task: name, strategy: nil, seed: nil, code: code, message: message)
        v.writtenBy = "tutor daemon"
        v.attempts = attempts
        return v
    }
}
