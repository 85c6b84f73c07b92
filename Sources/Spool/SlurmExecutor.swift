import Foundation
import System
#if canImport(Glibc)
import Glibc
#endif

/// How the daemon runs tasks as Slurm batch jobs (`tutor daemon --executor slurm`).
///
/// Each claimed task becomes one `sbatch` job that runs the worker command on a compute node
/// mounting the same spool; the daemon keeps no process per task and follows its jobs with
/// `squeue` (and `sacct`, where the cluster keeps accounting, for jobs `squeue` has forgotten).
public struct SlurmSettings: Sendable {
    /// Resources of every job unless the task's job.json asks otherwise (its `slurm` object).
    public var cpus: Int?
    public var memoryMB: Int?
    /// Minutes; nil: the partition's default. The daemon's `taskSeconds` gives it when unset.
    public var timeMinutes: Int?
    public var partition: String?
    public var account: String?
    /// More `sbatch` options, one per element (e.g. `--qos=long`, `--constraint=avx2`).
    public var extraOptions: [String] = []
    /// Seconds between two looks at the daemon's jobs.
    public var pollSeconds = 5.0
    /// Cancel the running jobs when the daemon stops (their tasks go back to incoming/);
    /// otherwise they keep running and a restarted daemon takes them over.
    public var cancelOnStop = false
    /// Folder holding `sbatch`, `squeue`, `scancel`, `sacct` (empty: found on PATH).
    public var binFolder = ""

    public init() {}

    func program(_ name: String) -> String { binFolder.isEmpty ? name : binFolder + "/" + name }

    /// Why Slurm's client commands cannot be used here, or nil when `sbatch --version` runs.
    public func clientProblem() -> String? {
        let v = SlurmCommand.run([program("sbatch"), "--version"], timeout: 20)
        return v.ok ? nil : "sbatch --version gave \(v.problem)"
    }
}

/// A task's own requests from the `slurm` object of its job.json (keys `cpus`, `memory_mb`,
/// `time_minutes`, `partition`, `account`). `tutor run` validates job.json and fails the task
/// with a message on a bad value; here a value that is not usable is left to the daemon's own.
struct SlurmRequest: Equatable {
    var cpus: Int?
    var memoryMB: Int?
    var timeMinutes: Int?
    var partition: String?
    var account: String?

    static func read(task path: String) -> SlurmRequest {
        guard let s = Sys.readJSON(path + "/job.json", limit: 1 << 20)?["slurm"] else { return SlurmRequest() }
        func int(_ k: String, _ hi: Int) -> Int? {
            guard let n = s[k]?.integerValue, n >= 1, n <= hi else { return nil }
            return Int(n)
        }
        func name(_ k: String) -> String? {
            guard let v = s[k]?.stringValue, SlurmRequest.isName(v) else { return nil }
            return v
        }
        return SlurmRequest(cpus: int("cpus", 4096), memoryMB: int("memory_mb", 1 << 30),
                            timeMinutes: int("time_minutes", 525_600), partition: name("partition"), account: name("account"))
    }

    /// A partition or account name Slurm could hold: letters, digits, `-`, `_`, `.`.
    static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
        }
    }
}

/// One Slurm client command, run to its end with its output captured.
enum SlurmCommand {
    struct Result {
        var status: Int32
        var output: String
        var errors: String
        var ok: Bool { status == 0 }
        /// What went wrong, for a log line or a verdict.
        var problem: String {
            let text = (errors.isEmpty ? output : errors).trimmingCharacters(in: .whitespacesAndNewlines)
            let short = text.count > 400 ? String(text.prefix(400)) + "..." : text
            return status == 127 ? "cannot run it: \(short)" : "exit status \(status): \(short)"
        }
    }

    /// Runs `argv` (the program looked up on PATH when it has no slash) with `input` on its
    /// standard input and `environment` added to the daemon's; gives up after `timeout` seconds
    /// (status 124, the process killed).
    static func run(_ argv: [String], input: String = "", environment: [String: String] = [:], timeout: Double = 60) -> Result {
        guard let inPipe = ProcessControl.pipe(flags: O_CLOEXEC),
              let outPipe = ProcessControl.pipe(flags: O_CLOEXEC),
              let errPipe = ProcessControl.pipe(flags: O_CLOEXEC) else {
            return Result(status: 127, output: "", errors: "no pipe: \(SystemError.text(errno))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe.read, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe.write, 2)
        let (rc, pid) = ChildStart.spawn(argv, actions: &actions, newProcessGroup: false, searchPath: true,
                                         environment: environment)
        close(inPipe.read); close(outPipe.write); close(errPipe.write)
        if rc != 0 {
            close(inPipe.write); close(outPipe.read); close(errPipe.read)
            return Result(status: 127, output: "", errors: "\(argv[0]): \(SystemError.text(rc))")
        }
        // The input is a job script of a few hundred bytes: it fits a pipe's buffer.
        input.withCString { p in _ = write(inPipe.write, p, strlen(p)) }
        close(inPipe.write)

        var out: [UInt8] = [], err: [UInt8] = []
        var fds = [pollfd(fd: outPipe.read, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: errPipe.read, events: Int16(POLLIN), revents: 0)]
        let deadline = Clock.monotonicSeconds() + timeout
        var open = 2
        var timedOut = false
        var buf = [UInt8](repeating: 0, count: 65_536)
        while open > 0 {
            let left = deadline - Clock.monotonicSeconds()
            if left <= 0 { timedOut = true; break }
            let n = poll(&fds, 2, Int32(min(1000, left * 1000).rounded(.up)))
            if n < 0 && errno != EINTR { break }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let got = read(fds[i].fd, &buf, buf.count)
                if got > 0 {
                    if i == 0 { out += buf[0..<got] } else { err += buf[0..<got] }
                    if out.count + err.count > 64 << 20 { timedOut = true }
                } else if got == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(fds[i].fd); fds[i].fd = -1; open -= 1
                }
            }
            if timedOut { break }
        }
        if timedOut { kill(pid, SIGKILL) }
        for f in fds where f.fd >= 0 { close(f.fd) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code: Int32 = timedOut ? 124 : (status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
        return Result(status: code, output: String(decoding: out, as: UTF8.self),
                      errors: timedOut ? "no answer within \(Int(timeout)) s" : String(decoding: err, as: UTF8.self))
    }
}

/// What Slurm says about one job.
struct SlurmJobState: Equatable {
    /// `RUNNING`, `PENDING`, `COMPLETED`, `TIMEOUT`, ... (squeue's long form; sacct's first word).
    var state: String
    /// Slurm's reason (`None`, `Priority`, `NodeFail`, ...), or sacct's exit code.
    var reason: String
    /// The job script's exit status where Slurm said it (sacct's `75:0` gives 75); the script
    /// execs the worker, so it is the worker's.
    var exitCode: Int32? = nil

    /// States in which the job will not run again (SLURM's job_state_string of a finished job).
    static let ended: Set<String> = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
                                     "PREEMPTED", "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT"]
    var hasEnded: Bool { Self.ended.contains(state) }

    /// Slurm's words for a verdict: `TIMEOUT (reason: TimeLimit)`.
    var text: String { reason.isEmpty || reason == "None" ? state : "\(state) (reason: \(reason))" }

    /// Parses `squeue -h -o '%i|%T|%r'` lines into job id -> state. Array and heterogeneous
    /// jobs are not submitted by tutor; lines that are not `ID|STATE|REASON` are skipped.
    static func parseSqueue(_ text: String) -> [String: SlurmJobState] {
        var jobs: [String: SlurmJobState] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let f = line.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3, !f[0].isEmpty, f[0].allSatisfy(\.isNumber) else { continue }
            jobs[String(f[0])] = SlurmJobState(state: String(f[1]).trimmingCharacters(in: .whitespaces),
                                               reason: String(f[2]).trimmingCharacters(in: .whitespaces))
        }
        return jobs
    }

    /// Parses `sacct -n -P -X -o JobID,State,ExitCode` lines: `12|CANCELLED by 0|0:9`.
    static func parseSacct(_ text: String) -> [String: SlurmJobState] {
        var jobs: [String: SlurmJobState] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let f = line.split(separator: "|", omittingEmptySubsequences: false)
            guard f.count >= 3, !f[0].isEmpty, f[0].allSatisfy(\.isNumber) else { continue }
            let words = f[1].split(separator: " ")
            guard let state = words.first else { continue }
            jobs[String(f[0])] = SlurmJobState(state: String(state), reason: "exit code \(f[2])", exitCode: exitStatus(f[2]))
        }
        return jobs
    }

    /// The exit status of Slurm's `status:signal` form (`75:0` gives 75; nil when a signal ended
    /// the job or the text is not that form).
    static func exitStatus<S: StringProtocol>(_ text: S) -> Int32? {
        let f = text.split(separator: ":", omittingEmptySubsequences: false)
        guard f.count == 2, let code = Int32(f[0]), f[1] == "0" else { return nil }
        return code
    }

    /// The `ExitCode=75:0` field of `scontrol show job -o ID` (the controller keeps an ended
    /// job for MinJobAge, with or without accounting).
    static func parseScontrolExitCode(_ text: String) -> Int32? {
        for field in text.split(whereSeparator: { $0 == " " || $0.isNewline }) where field.hasPrefix("ExitCode=") {
            return exitStatus(field.dropFirst("ExitCode=".count))
        }
        return nil
    }
}

/// Builds the `sbatch` command and job script for one task.
enum SlurmJobScript {
    /// `argv` quoted for /bin/sh.
    static func shellQuoted(_ argv: [String]) -> String {
        argv.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
    }

    /// Whether sbatch can take `path` as its --output as it is: it reads `%` as a pattern and a
    /// backslash as "no patterns".
    static func literalOutput(_ path: String) -> Bool { !path.contains("%") && !path.contains("\\") }

    /// The batch script: it runs the worker command, its output appended to worker.log (by
    /// sbatch's --output, which also takes Slurm's own messages, such as a time limit's; by the
    /// script itself where the folder's name cannot be an --output).
    static func script(worker argv: [String], log: String) -> String {
        var s = "#!/bin/sh\n# tutor daemon: one task of the spool.\n"
        if !literalOutput(log) { s += "exec >>\(shellQuoted([log])) 2>&1\n" }
        return s + "exec \(shellQuoted(argv))\n"
    }

    /// sbatch's options for a task: the daemon's settings, overridden by the task's request.
    static func options(task name: String, folder: String, spoolRoot: String, settings s: SlurmSettings,
                        request r: SlurmRequest, taskSeconds: Double) -> [String] {
        var o = ["--parsable", "--job-name=tutor:\(name)", "--nodes=1", "--ntasks=1", "--no-requeue",
                 "--chdir=\(spoolRoot)", "--open-mode=append", "--export=ALL"]
        let log = folder + "/" + SpoolFolders.workerLog
        o.append("--output=" + (literalOutput(log) ? log : "/dev/null"))
        if let c = r.cpus ?? s.cpus { o.append("--cpus-per-task=\(c)") }
        if let m = r.memoryMB ?? s.memoryMB { o.append("--mem=\(m)M") }
        let minutes = r.timeMinutes ?? s.timeMinutes ?? (taskSeconds > 0 ? Int((taskSeconds / 60).rounded(.up)) : nil)
        if let t = minutes { o.append("--time=\(t)") }
        if let p = r.partition ?? s.partition { o.append("--partition=\(p)") }
        if let a = r.account ?? s.account { o.append("--account=\(a)") }
        return o + s.extraOptions
    }
}
