import ArgumentParser
import Engine
import Foundation
import Spool

struct Daemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a spool: run each task folder dropped into incoming/.",
        discussion: """
        Watches SPOOL/incoming/ (inotify, plus a periodic rescan) and takes a folder when it was \
        renamed in whole, holds a READY file, or has not changed for the settle time. Each task is \
        claimed by renaming it into active/ and run by a worker process, `tutor run FOLDER` by \
        default or `--runner PATH` (called as `PATH FOLDER`: the hook for wrapping tasks, e.g. \
        with Slurm's srun). The worker writes verdict.json last; the task then moves to done/ \
        (passed or failed) or failed/ (error). A worker that dies without a verdict is retried \
        up to --max-attempts times, then the task goes to failed/ with the reason. Several \
        daemons, on one host or several sharing the spool, take each task once.

        SIGTERM or SIGINT: take no more tasks, give running ones --grace seconds, then put them \
        back in incoming/ and exit 0. Under systemd (Type=notify) it reports READY=1, STATUS=, \
        WATCHDOG=1 and STOPPING=1 on $NOTIFY_SOCKET.

        Every option can also come from the environment (for systemd's EnvironmentFile): \
        TUTOR_SPOOL, TUTOR_WORKERS, TUTOR_RUNNER, TUTOR_MODEL, TUTOR_THREADS, TUTOR_SETTLE_SECONDS, \
        TUTOR_RESCAN_SECONDS, TUTOR_GRACE_SECONDS, TUTOR_LEASE_SECONDS, TUTOR_MAX_ATTEMPTS, \
        TUTOR_INCOMPLETE_SECONDS, TUTOR_TASK_SECONDS, TUTOR_METRICS_FILE, TUTOR_EXECUTOR and the \
        TUTOR_SLURM_* settings below. Options on the command line win.

        --executor slurm: each task is submitted as a Slurm batch job (sbatch) that runs \
        `tutor run FOLDER` on a compute node mounting the same spool; the daemon keeps no process \
        per task, follows its jobs with squeue (and sacct where the cluster keeps accounting), and \
        --workers counts the jobs submitted at once (default 100). A job that ends without a \
        verdict counts a crash; after --max-attempts the task fails with error code job-failed \
        and Slurm's state and reason. A restarted daemon follows the jobs it had submitted; \
        stopping it leaves them running unless --slurm-cancel-on-stop. The job's time limit is \
        --slurm-time-minutes, else --task-seconds rounded up to minutes.

        A full disk is a state: a task that cannot be written for lack of space (its worker \
        exits 75, or the daemon cannot write into it) goes back to incoming/ without counting an \
        attempt, no task is claimed, and a probe write at growing intervals (up to 5 minutes) \
        finds out when space returns. `tutor status` and systemd's STATUS= say "disk full" \
        meanwhile.
        """
    )

    @Option(help: "The spool folder (its incoming/, active/, done/, failed/ are created when missing). Env: TUTOR_SPOOL.")
    var spool: String?

    @Option(help: "Tasks run at the same time (default 1). Env: TUTOR_WORKERS.")
    var workers: Int?

    @Flag(help: "Drain what is in incoming/ and exit.")
    var once = false

    @Option(help: "Run each task as `PATH FOLDER` instead of `tutor run FOLDER`. Env: TUTOR_RUNNER.")
    var runner: String?

    @Option(help: "Model folder passed on to `tutor run --model`. Env: TUTOR_MODEL.")
    var model: String?

    @Option(help: "Threads for each `tutor run` (passed on as --threads; default: tutor run's). Env: TUTOR_THREADS.")
    var threads: Int?

    @Option(help: "Seconds a folder must be unchanged to count as complete (default 3). Env: TUTOR_SETTLE_SECONDS.")
    var settle: Double?

    @Option(help: "Seconds between rescans of incoming/ and active/ (default 30). Env: TUTOR_RESCAN_SECONDS.")
    var rescan: Double?

    @Option(help: "Seconds running tasks get to finish after SIGTERM (default 30). Env: TUTOR_GRACE_SECONDS.")
    var grace: Double?

    @Option(help: "Seconds after which a claim by a daemon on another host that it did not renew is taken back (default 600). Env: TUTOR_LEASE_SECONDS.")
    var lease: Double?

    @Option(help: "Worker crashes after which a task goes to failed/ (default 3). Env: TUTOR_MAX_ATTEMPTS.")
    var maxAttempts: Int?

    @Option(help: "Seconds after which a quiet folder lacking a required input is taken anyway, to fail with a message (default 600). Env: TUTOR_INCOMPLETE_SECONDS.")
    var incompleteAfter: Double?

    @Option(help: "Seconds after which a running task is stopped and goes to failed/ with a timed-out verdict, not retried; 0 for no limit (default 3600). Env: TUTOR_TASK_SECONDS.")
    var taskSeconds: Double?

    @Option(help: "Write the daemon's counters and durations to this file in the Prometheus text format, atomically (for node_exporter's textfile collector, name it *.prom). Env: TUTOR_METRICS_FILE.")
    var metricsFile: String?

    @Option(help: "What runs each task: local (a child process, the default) or slurm (a Slurm batch job per task). Env: TUTOR_EXECUTOR.")
    var executor: String?

    @Option(help: "Slurm: CPUs per task's job (sbatch --cpus-per-task). Env: TUTOR_SLURM_CPUS.")
    var slurmCpus: Int?

    @Option(help: "Slurm: memory per task's job in MiB (sbatch --mem). Env: TUTOR_SLURM_MEMORY_MB.")
    var slurmMemoryMb: Int?

    @Option(help: "Slurm: time limit per job in minutes (sbatch --time; default: --task-seconds rounded up). Env: TUTOR_SLURM_TIME_MINUTES.")
    var slurmTimeMinutes: Int?

    @Option(help: "Slurm: partition (sbatch --partition). Env: TUTOR_SLURM_PARTITION.")
    var slurmPartition: String?

    @Option(help: "Slurm: account (sbatch --account). Env: TUTOR_SLURM_ACCOUNT.")
    var slurmAccount: String?

    @Option(help: "Slurm: more sbatch options, separated by spaces (e.g. \"--qos=long --constraint=avx2\"). Env: TUTOR_SLURM_OPTIONS.")
    var slurmOptions: String?

    @Option(help: "Slurm: seconds between looks at the jobs with squeue (default 5). Env: TUTOR_SLURM_POLL_SECONDS.")
    var slurmPoll: Double?

    @Flag(help: "Slurm: cancel the running jobs when the daemon stops (their tasks go back to incoming/). Env: TUTOR_SLURM_CANCEL_ON_STOP=yes.")
    var slurmCancelOnStop = false

    @Option(help: "Slurm: the tutor executable on the compute nodes (default: this one's path). Env: TUTOR_SLURM_TUTOR.")
    var slurmTutor: String?

    private func text(_ option: String?, _ key: String) -> String? {
        if let option { return option }
        guard let s = env[key], !s.isEmpty else { return nil }
        return s
    }

    private var resolvedExecutor: String { text(executor, "TUTOR_EXECUTOR") ?? "local" }

    /// The Slurm settings, or nil for the local executor.
    private func slurmSettings() throws -> SlurmSettings? {
        guard resolvedExecutor == "slurm" else { return nil }
        var s = SlurmSettings()
        for (v, key, name) in [(slurmCpus, "TUTOR_SLURM_CPUS", "--slurm-cpus"), (slurmMemoryMb, "TUTOR_SLURM_MEMORY_MB", "--slurm-memory-mb"),
                               (slurmTimeMinutes, "TUTOR_SLURM_TIME_MINUTES", "--slurm-time-minutes")] {
            if let x = try number(v, key, Int.init), x < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        s.cpus = try number(slurmCpus, "TUTOR_SLURM_CPUS", Int.init)
        s.memoryMB = try number(slurmMemoryMb, "TUTOR_SLURM_MEMORY_MB", Int.init)
        s.timeMinutes = try number(slurmTimeMinutes, "TUTOR_SLURM_TIME_MINUTES", Int.init)
        s.partition = text(slurmPartition, "TUTOR_SLURM_PARTITION")
        s.account = text(slurmAccount, "TUTOR_SLURM_ACCOUNT")
        s.extraOptions = (text(slurmOptions, "TUTOR_SLURM_OPTIONS") ?? "").split(separator: " ").map(String.init)
        if let p = try number(slurmPoll, "TUTOR_SLURM_POLL_SECONDS", Double.init) {
            guard p >= 0.2 && p < 1e6 else { throw ValidationError("--slurm-poll must be at least 0.2 s") }
            s.pollSeconds = p
        }
        let cancel = (env["TUTOR_SLURM_CANCEL_ON_STOP"] ?? "").lowercased()
        guard ["", "yes", "no", "true", "false", "1", "0"].contains(cancel) else {
            throw ValidationError("TUTOR_SLURM_CANCEL_ON_STOP=\(cancel): say yes or no")
        }
        s.cancelOnStop = slurmCancelOnStop || ["yes", "true", "1"].contains(cancel)
        return s
    }

    func validate() throws {
        guard ["local", "slurm"].contains(resolvedExecutor) else {
            throw ValidationError("--executor must be local or slurm, got \(resolvedExecutor)")
        }
        if resolvedExecutor == "slurm" {
            if let p = try slurmSettings()?.clientProblem() {
                throw ValidationError("--executor slurm needs Slurm's sbatch, squeue and scancel on PATH: \(p)")
            }
        }
        if resolvedSpool == nil { throw ValidationError("give the spool folder: --spool DIR (or TUTOR_SPOOL)") }
        let maxWorkers = resolvedExecutor == "slurm" ? 100_000 : 256
        if let w = try number(workers, "TUTOR_WORKERS", Int.init), w < 1 || w > maxWorkers { throw ValidationError("--workers must be between 1 and \(maxWorkers)") }
        for (v, env, name) in [(settle, "TUTOR_SETTLE_SECONDS", "--settle"), (rescan, "TUTOR_RESCAN_SECONDS", "--rescan"),
                               (grace, "TUTOR_GRACE_SECONDS", "--grace"), (lease, "TUTOR_LEASE_SECONDS", "--lease"),
                               (incompleteAfter, "TUTOR_INCOMPLETE_SECONDS", "--incomplete-after"),
                               (taskSeconds, "TUTOR_TASK_SECONDS", "--task-seconds")] {
            if let x = try number(v, env, Double.init), !(x >= 0 && x < 1e7) { throw ValidationError("\(name) must be a number of seconds >= 0") }
        }
        if let r = try number(rescan, "TUTOR_RESCAN_SECONDS", Double.init), r < 0.1 { throw ValidationError("--rescan must be at least 0.1 s") }
        if let t = try number(threads, "TUTOR_THREADS", Int.init), t < 1 || t > 256 { throw ValidationError("--threads must be between 1 and 256") }
        if let m = try number(maxAttempts, "TUTOR_MAX_ATTEMPTS", Int.init), m < 1 { throw ValidationError("--max-attempts must be at least 1") }
        if let r = resolvedRunner, access(r, X_OK) != 0 {
            throw ValidationError("the runner \(r) is not an executable file")
        }
    }

    private var env: [String: String] { ProcessInfo.processInfo.environment }

    /// The option's value, else the environment's (empty counts as unset), else nil.
    private func number<T>(_ option: T?, _ key: String, _ parse: (String) -> T?) throws -> T? {
        if let option { return option }
        guard let s = env[key], !s.isEmpty else { return nil }
        guard let v = parse(s) else { throw ValidationError("\(key)=\(s) is not a number") }
        return v
    }

    private var resolvedSpool: String? {
        if let spool { return spool }
        if let s = env["TUTOR_SPOOL"], !s.isEmpty { return s }
        return nil
    }

    private var resolvedRunner: String? {
        guard let r = runner ?? env["TUTOR_RUNNER"].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        return r.hasPrefix("/") ? r : FileManager.default.currentDirectoryPath + "/" + r
    }

    func run() throws {
        let me = getpid()
        let slurm = try slurmSettings()
        var worker: WorkerCommand
        if let r = resolvedRunner {
            worker = WorkerCommand(runner: [r])
        } else {
            var options: [String] = []
            if let m = model ?? env["TUTOR_MODEL"].flatMap({ $0.isEmpty ? nil : $0 }) { options += ["--model", m] }
            if let t = try number(threads, "TUTOR_THREADS", Int.init) { options += ["--threads", String(t)] }
            // A job runs on another node: it needs this executable's real path, not /proc/self/exe.
            let exe = slurm == nil ? "/proc/self/exe"
                : text(slurmTutor, "TUTOR_SLURM_TUTOR") ?? ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            worker = WorkerCommand(runner: [exe, "run"], runnerOptions: options)
        }
        // Every local worker starts as `tutor spool-exec`, which makes it die with this daemon.
        if slurm == nil { worker.wrapper = ["/proc/self/exe", "spool-exec", "--parent", String(me), "--"] }

        var s = DaemonSettings(worker: worker)
        s.slurm = slurm
        if slurm != nil { s.workers = 100 }
        s.once = once
        if let v = try number(workers, "TUTOR_WORKERS", Int.init) { s.workers = v }
        if let v = try number(settle, "TUTOR_SETTLE_SECONDS", Double.init) { s.settleSeconds = v }
        if let v = try number(rescan, "TUTOR_RESCAN_SECONDS", Double.init) { s.rescanSeconds = v }
        if let v = try number(grace, "TUTOR_GRACE_SECONDS", Double.init) { s.graceSeconds = v }
        if let v = try number(lease, "TUTOR_LEASE_SECONDS", Double.init) { s.leaseSeconds = v }
        if let v = try number(maxAttempts, "TUTOR_MAX_ATTEMPTS", Int.init) { s.maxAttempts = v }
        if let v = try number(incompleteAfter, "TUTOR_INCOMPLETE_SECONDS", Double.init) { s.incompleteSeconds = v }
        if let v = try number(taskSeconds, "TUTOR_TASK_SECONDS", Double.init) { s.taskSeconds = v }
        if let m = metricsFile ?? env["TUTOR_METRICS_FILE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            s.metricsPath = m.hasPrefix("/") ? m : FileManager.default.currentDirectoryPath + "/" + m
        }

        let daemon = SpoolDaemon(spool: resolvedSpool!, settings: s)
        if resolvedRunner == nil { SpoolLog.line(BLASKernels.description) }  // the workers inherit this choice
        do {
            let code = try daemon.run()
            if code != 0 { throw ExitCode(code) }
        } catch let e as SpoolError {
            SpoolLog.line("error: \(e)")
            throw ExitCode(1)
        }
    }
}

/// The first program of every worker: `tutor spool-exec --parent PID -- PROGRAM ARGS...` asks
/// the kernel to kill it when the daemon PID dies, then becomes PROGRAM. Not for users.
struct SpoolExec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool-exec",
        abstract: "Start a worker that dies with its daemon (used by `tutor daemon`).",
        shouldDisplay: false
    )

    @Option(help: "The daemon's pid.")
    var parent: Int32

    @Argument(parsing: .captureForPassthrough, help: "The program and its arguments.")
    var command: [String] = []

    func run() throws {
        var argv = command
        if argv.first == "--" { argv.removeFirst() }
        WorkerExec.exec(parent: parent, argv: argv)
    }
}
