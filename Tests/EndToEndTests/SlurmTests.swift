import Foundation
import Reasoner
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `tutor daemon --executor slurm` against a real one-node Slurm (slurmctld, slurmd and munged
/// started by scripts/slurm-test-cluster in a temporary folder). Where the cluster cannot
/// start (no packages and no root to install them, a kernel that refuses), every test here is
/// skipped with the script's reason.
final class SlurmTests: XCTestCase {
    nonisolated(unsafe) static var clusterDir: String?
    nonisolated(unsafe) static var slurmConf: String?
    nonisolated(unsafe) static var unavailable: String?

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    override class func setUp() {
        super.setUp()
        var template = Array("/tmp/tutor-slurm-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { unavailable = "cannot create a temporary folder"; return }
        let dir = String(cString: p)
        clusterDir = dir
        // A port of its own, so that a cluster started by hand (or a benchmark) does not clash.
        let port = 20_000 + Int(getpid() % 5_000) * 2
        let r = script(["start", dir], environment: ["TUTOR_SLURM_PORT": String(port)])
        if r.status == 0, let line = r.output.split(separator: "\n").last(where: { $0.hasPrefix("SLURM_CONF=") }) {
            slurmConf = String(line.dropFirst("SLURM_CONF=".count))
        } else {
            unavailable = "the one-node Slurm did not start (scripts/slurm-test-cluster start: \(r.output.trimmingCharacters(in: .whitespacesAndNewlines)))"
        }
    }

    override class func tearDown() {
        if let dir = clusterDir {
            _ = script(["stop", dir])
            try? FileManager.default.removeItem(atPath: dir)
        }
        super.tearDown()
    }

    /// Runs scripts/slurm-test-cluster with posix_spawn and waitpid: the daemons it starts
    /// stay behind, and Foundation's Process can miss the script's own exit then.
    static func script(_ args: [String], environment: [String: String] = [:]) -> (status: Int32, output: String) {
        let out = "/tmp/tutor-slurm-script-\(getpid()).out"
        defer { unlink(out) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let argv = [packageRoot.appendingPathComponent("scripts/slurm-test-cluster").path] + args
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in cArgs { free(p) }; for p in cEnv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        if rc != 0 { return (127, "cannot run \(argv[0]): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        return (status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f), text)
    }

    var root: String!

    override func setUpWithError() throws {
        if let why = Self.unavailable { throw XCTSkip(why) }
        var template = Array("/tmp/tutor-slurmtest-XXXXXX".utf8CString)
        root = String(cString: try XCTUnwrap(mkdtemp(&template)))
    }

    override func tearDownWithError() throws {
        if let root { try? FileManager.default.removeItem(atPath: root) }
    }

    // MARK: helpers

    var spool: String { root + "/spool" }
    var env: [String: String] { ["SLURM_CONF": Self.slurmConf!] }

    func tutor() throws -> String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tutor").path
        if access(beside, X_OK) == 0 { return beside }
        let debug = Self.packageRoot.appendingPathComponent(".build/debug/tutor").path
        if access(debug, X_OK) == 0 { return debug }
        throw XCTSkip("the tutor executable is not built: run `swift build` first")
    }

    @discardableResult
    func run(_ program: String, _ args: [String]) -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch { return (127, "\(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Starts `tutor daemon --executor slurm` on the test's spool.
    func daemon(_ args: [String], log: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try tutor())
        p.arguments = ["daemon", "--spool", spool, "--executor", "slurm", "--slurm-poll", "0.5", "--settle", "1", "--rescan", "2"] + args
        var e = ProcessInfo.processInfo.environment
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "TUTOR_MODEL", "TUTOR_EXECUTOR"] { e.removeValue(forKey: k) }
        for (k, v) in env { e[k] = v }
        p.environment = e
        FileManager.default.createFile(atPath: log, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = h
        p.standardError = h
        try p.run()
        return p
    }

    func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    func json(_ path: String) -> [String: Any]? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONSerialization.jsonObject(with: d)) as? [String: Any]
    }

    func names(_ state: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: spool + "/" + state)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    func waitUntil(_ timeout: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }

    /// The Slurm job id in a task's owner record, once the daemon wrote it.
    func jobID(_ name: String) -> String? {
        guard let j = json(spool + "/active/" + name + "/.tutor-owner")?["slurm_job"] as? String, Int(j) != nil else { return nil }
        return j
    }

    /// A minimal task folder (the runner scripts below never read it) renamed into incoming/.
    func submitPlain(_ name: String) throws {
        let d = root + "/staging/" + name
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        for f in ["prompt.txt", "rules.json", "first_frame.jpg"] { FileManager.default.createFile(atPath: d + "/" + f, contents: Data("x".utf8)) }
        try FileManager.default.createDirectory(atPath: spool + "/incoming", withIntermediateDirectories: true)
        XCTAssertEqual(rename(d, spool + "/incoming/" + name), 0)
    }

    /// A runner script for the jobs; `body` sees the task folder as $d and its name as $n.
    func runner(_ body: String) throws -> String {
        let p = root + "/runner.sh"
        try Data("""
        #!/bin/bash
        d="$1"; n=$(basename "$d")
        verdict() { printf '{"version":1,"task":"%s","status":"passed","passed":true,"error":null}\\n' "$n" > "$d/.v.tmp" && mv "$d/.v.tmp" "$d/verdict.json"; }
        \(body)

        """.utf8).write(to: URL(fileURLWithPath: p))
        chmod(p, 0o755)
        return p
    }

    // MARK: tests

    /// Real `tutor run` jobs with a tiny random model: a good task ends in done/; a bad input
    /// in failed/ with tutor run's own error verdict; a job Slurm refuses (a partition that
    /// does not exist, asked for in job.json) in failed/ with `job-rejected` and sbatch's words.
    func testGoodTaskBadInputAndRefusedJob() throws {
        let tutor = try tutor()
        let model = root + "/model"
        try Reasoner.makeTinyRandom().saveCheckpoint(to: model)
        let staging = root + "/staging"
        func make(_ name: String, job: String) throws {
            let r = run(tutor, ["make-task", "obstacles", "--seed", "1000003", "--out", staging + "/" + name])
            XCTAssertEqual(r.status, 0, r.output)
            try Data(job.utf8).write(to: URL(fileURLWithPath: staging + "/" + name + "/job.json"))
        }
        try make("good", job: #"{"strategy": "base", "slurm": {"cpus": 1, "memory_mb": 600, "time_minutes": 5}}"#)
        try make("bad", job: #"{"strategy": "base"}"#)
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: staging + "/bad/rules.json"))
        try make("nowhere", job: #"{"strategy": "base", "slurm": {"partition": "nosuchpartition"}}"#)
        try FileManager.default.createDirectory(atPath: spool + "/incoming", withIntermediateDirectories: true)
        for n in ["good", "bad", "nowhere"] { XCTAssertEqual(rename(staging + "/" + n, spool + "/incoming/" + n), 0) }

        let d = try daemon(["--once", "--model", model], log: root + "/daemon.log")
        XCTAssertTrue(waitUntil(90) { !d.isRunning }, "the daemon did not drain incoming/:\n" + text(root + "/daemon.log"))
        if d.isRunning { d.terminate() }
        d.waitUntilExit()
        let log = text(root + "/daemon.log")
        XCTAssertEqual(d.terminationStatus, 0, log)
        XCTAssertEqual(names("done"), ["good"], log)
        XCTAssertEqual(names("failed"), ["bad", "nowhere"], log)
        // A random model's video is judged, passed or failed: either way the task is done.
        let status = json(spool + "/done/good/verdict.json")?["status"] as? String
        XCTAssertTrue(status == "passed" || status == "failed", text(spool + "/done/good/worker.log"))
        XCTAssertTrue(text(spool + "/done/good/worker.log").contains("good: \(status ?? "?") (base,"), text(spool + "/done/good/worker.log"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: spool + "/done/good/frames/00.jpg"))
        XCTAssertTrue(log.contains("good: claimed, attempt 1, Slurm job "), log)
        let badError = json(spool + "/failed/bad/verdict.json")?["error"] as? [String: Any]
        XCTAssertEqual(badError?["code"] as? String, "invalid-input", "\(String(describing: badError))")
        let refused = json(spool + "/failed/nowhere/verdict.json")?["error"] as? [String: Any]
        XCTAssertEqual(refused?["code"] as? String, "job-rejected")
        XCTAssertTrue((refused?["message"] as? String ?? "").contains("--partition=nosuchpartition"), "\(String(describing: refused))")
        XCTAssertTrue((refused?["message"] as? String ?? "").lowercased().contains("partition"), "\(String(describing: refused))")
        // The job ran with the task's own resources.
        XCTAssertTrue(text(spool + "/done/good/worker.log").contains("--- tutor daemon: attempt 1"), text(spool + "/done/good/worker.log"))
    }

    /// A job killed with scancel is retried; a job over its time limit ends TIMEOUT, and after
    /// the attempt limit its task fails with a verdict naming Slurm's state and reason.
    func testCancelledJobIsRetriedAndTimedOutJobFails() throws {
        let runnerPath = try runner("""
        case "$n" in
        cancelled) [ "$TUTOR_SPOOL_ATTEMPT" = 1 ] && exec sleep 300 ;;
        overtime) exec sleep 300 ;;
        esac
        verdict
        """)
        try submitPlain("cancelled")
        try submitPlain("overtime")
        // Each task's first job is cancelled by hand; overtime's second runs into its limit.
        try FileManager.default.createDirectory(atPath: root + "/staging", withIntermediateDirectories: true)
        let d = try daemon(["--once", "--runner", runnerPath, "--max-attempts", "2", "--slurm-time-minutes", "1"],
                           log: root + "/daemon.log")
        defer { if d.isRunning { kill(d.processIdentifier, SIGKILL) } }
        for n in ["cancelled", "overtime"] {
            var id: String?
            XCTAssertTrue(waitUntil(20) { id = jobID(n); return id != nil }, "no job for \(n):\n" + text(root + "/daemon.log"))
            let r = run("/usr/bin/scancel", [try XCTUnwrap(id)])
            XCTAssertEqual(r.status, 0, r.output)
        }
        XCTAssertTrue(waitUntil(150) { !d.isRunning }, "the daemon did not finish:\n" + text(root + "/daemon.log"))
        let log = text(root + "/daemon.log")
        XCTAssertEqual(names("done"), ["cancelled"], log)
        XCTAssertEqual(names("failed"), ["overtime"], log)
        XCTAssertTrue(log.contains("cancelled: Slurm job"), log)
        XCTAssertTrue(log.contains("ended CANCELLED"), log)
        XCTAssertTrue(text(spool + "/done/cancelled/worker.log").contains("ended CANCELLED"), text(spool + "/done/cancelled/worker.log"))
        let e = json(spool + "/failed/overtime/verdict.json")?["error"] as? [String: Any]
        XCTAssertEqual(e?["code"] as? String, "job-failed")
        let message = e?["message"] as? String ?? ""
        XCTAssertTrue(message.contains("TIMEOUT") && message.contains("TimeLimit"), message)
        XCTAssertTrue(message.contains("gave up after 2 attempts"), message)
    }

    /// A job whose worker exits 75 (no room for its verdict) is not a crash: the task is held,
    /// put back without counting an attempt, and runs again once the disk has space.
    func testDiskFullExitHoldsTheTask() throws {
        let runnerPath = try runner("""
        if [ ! -e "\(root!)/was-full" ]; then touch "\(root!)/was-full"; echo "no space for verdict.json" >&2; exit 75; fi
        verdict
        """)
        try submitPlain("held")
        let d = try daemon(["--once", "--runner", runnerPath, "--max-attempts", "1"], log: root + "/daemon.log")
        defer { if d.isRunning { kill(d.processIdentifier, SIGKILL) } }
        XCTAssertTrue(waitUntil(90) { !d.isRunning }, "the daemon did not finish:\n" + text(root + "/daemon.log"))
        let log = text(root + "/daemon.log")
        XCTAssertEqual(names("done"), ["held"], log)
        XCTAssertTrue(log.contains("its worker could not write verdict.json: the disk is full"), log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: spool + "/done/held/.tutor-attempts"), "a full disk is not a crash")
    }

    /// Jobs keep running through a daemon's stop (SIGTERM, no cancel asked) and its kill -9;
    /// each restarted daemon follows them again instead of submitting again: every task runs
    /// exactly once and ends in done/.
    func testRestartedDaemonFollowsItsJobs() throws {
        let ledger = root + "/ledger"
        let runnerPath = try runner("sleep 6; echo \"$n $SLURM_JOB_ID\" >> \(ledger); verdict")
        let tasks = (1...4).map { "t\($0)" }
        for n in tasks { try submitPlain(n) }
        let first = try daemon(["--runner", runnerPath], log: root + "/first.log")
        var ids: [String: String] = [:]
        XCTAssertTrue(waitUntil(20) {
            for n in tasks { if let j = jobID(n) { ids[n] = j } }
            return ids.count == tasks.count
        }, "not every task was submitted:\n" + text(root + "/first.log"))
        let status = run(try tutor(), ["status", "--spool", spool])
        XCTAssertTrue(status.output.contains("Slurm job \(ids["t1"]!)"), status.output)

        first.terminate()  // SIGTERM: the jobs are left running
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        XCTAssertTrue(text(root + "/first.log").contains("leaving 4 Slurm job(s) running"), text(root + "/first.log"))
        XCTAssertEqual(names("active"), tasks)

        let second = try daemon(["--runner", runnerPath], log: root + "/second.log")
        XCTAssertTrue(waitUntil(20) { text(root + "/second.log").components(separatedBy: "following its Slurm job").count == 5 },
                      text(root + "/second.log"))
        kill(second.processIdentifier, SIGKILL)
        second.waitUntilExit()

        let third = try daemon(["--once", "--runner", runnerPath], log: root + "/third.log")
        XCTAssertTrue(waitUntil(90) { !third.isRunning }, text(root + "/third.log"))
        if third.isRunning { kill(third.processIdentifier, SIGKILL) }
        let log = text(root + "/third.log")
        XCTAssertEqual(names("done"), tasks, log)
        XCTAssertEqual(names("failed"), [], log)
        let ran = text(ledger).split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(ran.map { $0[0] }.sorted(), tasks, "every task exactly once: \(ran)")
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: ran.map { ($0[0], $0[1]) }), ids, "the jobs submitted first are the ones that ran")
        XCTAssertFalse(log.contains("claimed"), "a task was submitted again:\n" + log)
    }

    /// With --slurm-cancel-on-stop, SIGTERM cancels the jobs and puts their tasks back in
    /// incoming/ without counting a crash.
    func testStopWithCancelPutsTasksBack() throws {
        let runnerPath = try runner("exec sleep 300")
        for n in ["s1", "s2"] { try submitPlain(n) }
        let d = try daemon(["--runner", runnerPath, "--slurm-cancel-on-stop"], log: root + "/daemon.log")
        defer { if d.isRunning { kill(d.processIdentifier, SIGKILL) } }
        var ids: [String] = []
        XCTAssertTrue(waitUntil(20) { ids = ["s1", "s2"].compactMap(jobID); return ids.count == 2 }, text(root + "/daemon.log"))
        d.terminate()
        XCTAssertTrue(waitUntil(30) { !d.isRunning }, text(root + "/daemon.log"))
        let log = text(root + "/daemon.log")
        XCTAssertEqual(d.terminationStatus, 0, log)
        XCTAssertEqual(names("incoming"), ["s1", "s2"], log)
        XCTAssertEqual(names("active"), [], log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: spool + "/incoming/s1/.tutor-attempts"), "a stop is not a crash")
        let q = run("/usr/bin/squeue", ["-h", "-t", "all", "-j", ids.joined(separator: ","), "-o", "%T"])
        XCTAssertEqual(q.output.split(separator: "\n").map(String.init), ["CANCELLED", "CANCELLED"], q.output)
    }
}
