import ArgumentParser
import Foundation
import Reasoner
#if canImport(Glibc)
import Glibc
#endif

/// `tutor bench executors`: the same tiny tasks through the local executor and through Slurm.
struct BenchExecutors: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "executors",
        abstract: "Run the same tiny tasks through the local executor and through Slurm; print the throughput of each.",
        discussion: """
        Makes --tasks task folders (the four families in turn, held-out seeds, strategy base) and \
        a tiny model with random weights, then, for each executor, copies them into a fresh spool \
        and runs `tutor daemon --once` on it: the local executor with --workers child processes, \
        then --executor slurm (sbatch per task, --workers jobs at most) on the cluster that \
        SLURM_CONF names (scripts/bench-slurm starts a one-node one). Each run is timed from the \
        daemon's start to its exit, and checked: every task once in done/, none in failed/, each \
        worker.log with one attempt. It measures and prints; it asserts nothing.
        """
    )

    @Option(help: "Tasks per executor.")
    var tasks = 200

    @Option(help: "Local workers (child processes at once).")
    var workers = 2

    @Option(help: "Slurm jobs submitted at once.")
    var jobs = 100

    @Option(help: "Seconds between the daemon's looks at its jobs (--slurm-poll).")
    var poll = 1.0

    @Option(help: "Executors to run, in order, separated by commas.")
    var executors = "local,slurm"

    @Option(help: "Where to make the temporary spools (default /tmp; Slurm's nodes must see it).")
    var dir = "/tmp"

    func run() throws {
        var template = Array("\(dir)/tutor-bench-executors-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw ValidationError("cannot create a temporary folder in \(dir)") }
        let root = String(cString: p)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let model = root + "/model"
        try Reasoner.makeTinyRandom().saveCheckpoint(to: model)

        // The task folders, made once: every executor runs the same ones.
        let families = ["maze", "obstacles", "align", "order"]
        let staging = root + "/tasks"
        var names: [String] = []
        for k in 0..<tasks {
            let name = String(format: "task-%03d", k)
            let folder = staging + "/" + name
            let status = spawn([exe, "make-task", families[k % families.count], "--seed", String(1_000_000 + k), "--out", folder], log: "/dev/null")
            guard status == 0 else { throw ValidationError("tutor make-task failed for \(name)") }
            try Data(#"{"strategy": "base", "seed": \#(k)}"#.utf8).write(to: URL(fileURLWithPath: folder + "/job.json"))
            names.append(name)
        }

        print("tutor bench executors  (\(tasks) tasks, strategy base, a tiny random model; load average \(loadAverage()) at start)")
        print("")
        print("| executor | tasks/s | seconds | in done/ once | failed/ | attempts logged |")
        print("| --- | --- | --- | --- | --- | --- |")
        for executor in executors.split(separator: ",").map(String.init) {
            let spool = root + "/spool-" + executor
            for s in ["incoming", "active", "done", "failed"] {
                try FileManager.default.createDirectory(atPath: spool + "/" + s, withIntermediateDirectories: true)
            }
            for n in names { try FileManager.default.copyItem(atPath: staging + "/" + n, toPath: spool + "/incoming/" + n) }
            var args = [exe, "daemon", "--spool", spool, "--once", "--model", model, "--settle", "1"]
            switch executor {
            case "local": args += ["--workers", String(workers)]
            case "slurm": args += ["--executor", "slurm", "--workers", String(jobs), "--slurm-poll", String(poll)]
            default: throw ValidationError("unknown executor \(executor): say local or slurm")
            }
            let t0 = monotonic()
            let status = spawn(args, log: root + "/daemon-\(executor).log")
            let seconds = monotonic() - t0
            let done = (try? FileManager.default.contentsOfDirectory(atPath: spool + "/done")) ?? []
            let failed = (try? FileManager.default.contentsOfDirectory(atPath: spool + "/failed")) ?? []
            let once = Set(done) == Set(names) && done.count == names.count
            var attempts = 0
            for n in done {
                let log = (try? String(contentsOfFile: spool + "/done/" + n + "/worker.log", encoding: .utf8)) ?? ""
                attempts += log.components(separatedBy: "--- tutor daemon: attempt ").count - 1
            }
            let note = status == 0 ? "" : " (daemon exit \(status); its log: \(root)/daemon-\(executor).log)"
            print(String(format: "| %@ | %.2f | %.1f | %d of %d%@ | %d | %d |", executor == "local" ? "local, \(workers) workers" : "slurm, one node, \(jobs) jobs at most",
                         Double(done.count) / seconds, seconds, done.count, tasks, once ? "" : " (not each once)", failed.count, attempts) + note)
        }
        print("")
        print("load average at the end: \(loadAverage())")
    }

    /// Runs `argv` to its end with its output in `log`; returns its exit status.
    private func spawn(_ argv: [String], log: String) -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ) == 0 else { return 127 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    private func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?"
        return String(text.split(separator: " ").first ?? "?")
    }

    private func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
