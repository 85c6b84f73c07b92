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
        TUTOR_INCOMPLETE_SECONDS, TUTOR_TASK_SECONDS, TUTOR_METRICS_FILE. Options on the command line win.

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

    func validate() throws {
        if resolvedSpool == nil { throw ValidationError("give the spool folder: --spool DIR (or TUTOR_SPOOL)") }
        if let w = try number(workers, "TUTOR_WORKERS", Int.init), w < 1 || w > 256 { throw ValidationError("--workers must be between 1 and 256") }
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
        var worker: WorkerCommand
        if let r = resolvedRunner {
            worker = WorkerCommand(runner: [r])
        } else {
            var options: [String] = []
            if let m = model ?? env["TUTOR_MODEL"].flatMap({ $0.isEmpty ? nil : $0 }) { options += ["--model", m] }
            if let t = try number(threads, "TUTOR_THREADS", Int.init) { options += ["--threads", String(t)] }
            worker = WorkerCommand(runner: ["/proc/self/exe", "run"], runnerOptions: options)
        }
        // Every worker starts as `tutor spool-exec`, which makes it die with this daemon.
        worker.wrapper = ["/proc/self/exe", "spool-exec", "--parent", String(me), "--"]

        var s = DaemonSettings(worker: worker)
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
