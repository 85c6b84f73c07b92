import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Claims, crashes and recovery: no task lost, none run twice.
final class RecoveryTests: XCTestCase {
    /// 3 daemon processes with 2 workers each share one spool; 200 tasks arrive while they
    /// run. Every task ends in done/ and its runner ran exactly once.
    func testThreeDaemonsTakeEachOfTwoHundredTasksOnce() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("three")
        let ledger = t.path + "/ledger"
        let runner = try t.verdictRunner(before: "echo \"$n $PPID\" >> \(ledger)")
        var daemons: [DaemonProcess] = []
        for k in 0..<3 {
            daemons.append(try DaemonProcess(tutor: tutor, spool: t.spool,
                                             arguments: ["--runner", runner, "--workers", "2", "--settle", "1", "--rescan", "2"],
                                             log: t.path + "/daemon\(k).log"))
        }
        for d in daemons { XCTAssertTrue(d.waitForLog("serving"), d.log) }
        let taskNames = (0..<200).map { String(format: "task-%03d", $0) }
        for n in taskNames {
            let src = try t.makeTask(n)
            XCTAssertEqual(rename(src, t.state("incoming", n)), 0)
        }
        XCTAssertTrue(waitUntil(timeout: 150) { SpoolTestsNames.count(t.state("done")) == 200 },
                      "done/ holds \(SpoolTestsNames.count(t.state("done"))) of 200\n" + daemons.map(\.log).joined())
        for d in daemons { d.signal(SIGTERM) }
        for d in daemons { XCTAssertEqual(d.waitExit(), 0) }

        let lines = ((try? String(contentsOfFile: ledger, encoding: .utf8)) ?? "").split(separator: "\n")
        let ran = lines.map { String($0.split(separator: " ")[0]) }
        XCTAssertEqual(ran.count, 200, "runs: \(ran.count)")
        XCTAssertEqual(Set(ran), Set(taskNames), "lost or duplicated tasks")
        // All three daemons took part.
        let byDaemon = Dictionary(grouping: daemons.map { d in d.log.components(separatedBy: ": claimed").count - 1 }, by: { $0 > 0 })
        XCTAssertEqual(byDaemon[true]?.count, 3, daemons.map(\.log).joined())
        XCTAssertEqual(names(in: t.state("incoming")), [])
        XCTAssertEqual(names(in: t.state("active")), [])
        XCTAssertEqual(names(in: t.state("failed")), [])
        for d in daemons { XCTAssertFalse(d.log.contains("found in active/"), "a live daemon's task was taken back:\n" + d.log) }
    }

    /// kill -9 of a daemon in the middle of a task: its worker dies with it, and after a
    /// restart the task is put back and completes.
    func testKilledDaemonsTaskCompletesAfterRestart() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("kill9")
        // The first attempt hangs; the second finishes.
        let runner = try t.verdictRunner(before: "if [ \"$TUTOR_SPOOL_ATTEMPT\" = 1 ]; then exec sleep 60; fi")
        let args = ["--runner", runner, "--settle", "30", "--rescan", "60"]
        let first = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: args, log: t.path + "/first.log")
        XCTAssertTrue(first.waitForLog("serving"), first.log)
        XCTAssertEqual(rename(try t.makeTask("hang"), t.state("incoming", "hang")), 0)
        var workerPID: Int32 = 0
        XCTAssertTrue(waitUntil(timeout: 10) {
            workerPID = Int32(readJSON(t.state("active", "hang") + "/.tutor-owner")?["worker_pid"] as? Int ?? 0)
            return workerPID > 0
        }, first.log)
        usleep(200_000)
        first.signal(SIGKILL)
        _ = first.waitExit()
        XCTAssertTrue(waitUntil(timeout: 5) { processGone(workerPID) }, "the worker outlived its daemon")
        XCTAssertTrue(exists(t.state("active", "hang")), "the task stays in active/ while no daemon runs")

        let second = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: args, log: t.path + "/second.log")
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("done", "hang") + "/verdict.json") }, second.log)
        XCTAssertTrue(second.log.contains("died"), second.log)
        XCTAssertEqual(try String(contentsOfFile: t.state("done", "hang") + "/.tutor-attempts", encoding: .utf8), "1\n")
        second.signal(SIGTERM)
        XCTAssertEqual(second.waitExit(), 0)
    }

    /// A task that kills its worker every time ends in failed/ after 3 attempts, with the
    /// reason in its verdict, while the daemon goes on serving.
    func testTaskThatKillsItsWorkerEndsInFailedAfterThreeAttempts() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("suicide")
        let runner = try t.script("runner.sh", """
        d="$1"; n=$(basename "$d")
        case "$n" in poison*) echo "about to die"; kill -9 $$ ;; esac
        printf '{"version":1,"task":"%s","status":"passed"}\\n' "$n" > "$d/.v.tmp"; mv "$d/.v.tmp" "$d/verdict.json"
        """)
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "30", "--rescan", "60"], log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        XCTAssertEqual(rename(try t.makeTask("poison"), t.state("incoming", "poison")), 0)
        XCTAssertTrue(waitUntil(timeout: 15) { exists(t.state("failed", "poison") + "/verdict.json") }, d.log)
        let v = readJSON(t.state("failed", "poison") + "/verdict.json")
        XCTAssertEqual(v?["status"] as? String, "error")
        let err = v?["error"] as? [String: Any]
        XCTAssertEqual(err?["code"] as? String, "worker-crashed")
        let message = err?["message"] as? String ?? ""
        XCTAssertTrue(message.contains("3 attempts") && message.contains("SIGKILL"), message)
        XCTAssertEqual(v?["attempts"] as? Int, 3)
        assertMatchesVerdictSchema(t.state("failed", "poison") + "/verdict.json")
        let log = (try? String(contentsOfFile: t.state("failed", "poison") + "/worker.log", encoding: .utf8)) ?? ""
        XCTAssertEqual(log.components(separatedBy: "about to die").count - 1, 3, log)

        XCTAssertEqual(rename(try t.makeTask("healthy"), t.state("incoming", "healthy")), 0)
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("done", "healthy") + "/verdict.json") }, d.log)
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(), 0)
    }

    /// A task that runs past --task-seconds is killed and goes to failed/ with a timed-out
    /// verdict, once (not retried); the daemon goes on serving.
    func testTaskPastItsTimeLimitEndsInFailed() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("timeout")
        let runner = try t.script("runner.sh", """
        d="$1"; n=$(basename "$d")
        echo "started $n"
        case "$n" in slow*) sleep 60 ;; esac
        printf '{"version":1,"task":"%s","status":"passed"}\\n' "$n" > "$d/.v.tmp"; mv "$d/.v.tmp" "$d/verdict.json"
        """)
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--task-seconds", "1.5", "--rescan", "60"],
                                  log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        let start = Date()
        XCTAssertEqual(rename(try t.makeTask("slow"), t.state("incoming", "slow")), 0)
        XCTAssertTrue(waitUntil(timeout: 15) { exists(t.state("failed", "slow") + "/verdict.json") }, d.log)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        let v = readJSON(t.state("failed", "slow") + "/verdict.json")
        XCTAssertEqual(v?["status"] as? String, "error")
        let err = v?["error"] as? [String: Any]
        XCTAssertEqual(err?["code"] as? String, "timed-out")
        assertMatchesVerdictSchema(t.state("failed", "slow") + "/verdict.json")
        XCTAssertTrue((err?["message"] as? String ?? "").contains("TUTOR_TASK_SECONDS"))
        let log = (try? String(contentsOfFile: t.state("failed", "slow") + "/worker.log", encoding: .utf8)) ?? ""
        XCTAssertEqual(log.components(separatedBy: "started slow").count - 1, 1, log)

        XCTAssertEqual(rename(try t.makeTask("quick"), t.state("incoming", "quick")), 0)
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("done", "quick") + "/verdict.json") }, d.log)
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(), 0)
    }

    /// SIGTERM: running tasks get the grace period, are then killed and go back to incoming/
    /// without counting an attempt; the daemon exits 0.
    func testSigtermPutsUnfinishedTasksBack() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("sigterm")
        let runner = try t.script("sleeper.sh", "exec sleep 60\n")
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--grace", "0.5", "--settle", "30", "--rescan", "60"], log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        XCTAssertEqual(rename(try t.makeTask("long"), t.state("incoming", "long")), 0)
        var workerPID: Int32 = 0
        XCTAssertTrue(waitUntil(timeout: 10) {
            workerPID = Int32(readJSON(t.state("active", "long") + "/.tutor-owner")?["worker_pid"] as? Int ?? 0)
            return workerPID > 0
        }, d.log)
        let start = Date()
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(timeout: 10), 0, d.log)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.4, "the grace period was not given")
        XCTAssertTrue(processGone(workerPID))
        XCTAssertTrue(exists(t.state("incoming", "long") + "/prompt.txt"), d.log)
        XCTAssertFalse(exists(t.state("incoming", "long") + "/.tutor-owner"))
        XCTAssertFalse(exists(t.state("incoming", "long") + "/.tutor-attempts"), "a stop is not the task's fault")
    }
}

enum SpoolTestsNames {
    static func count(_ folder: String) -> Int { names(in: folder).count }
}

/// Claims by daemons on other hosts, and `--once`.
final class LeaseAndOnceTests: XCTestCase {
    /// A task claimed on another host is left alone while its claim is renewed, and taken
    /// back once the claim is older than the lease.
    func testOtherHostsClaimIsTakenBackOnlyAfterTheLease() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("lease")
        let runner = try t.verdictRunner()
        for s in ["incoming", "active", "done", "failed"] {
            try FileManager.default.createDirectory(atPath: t.state(s), withIntermediateDirectories: true)
        }
        let record = #"{"host": "another-host.example", "boot_id": "b", "pid": 1, "start_ticks": 1, "attempt": 1, "claimed_at": 0}"#
        for name in ["stale", "renewed"] {
            try t.makeTask(name, in: t.state("active"))
            try Data(record.utf8).write(to: URL(fileURLWithPath: t.state("active", name) + "/.tutor-owner"))
        }
        // The stale claim was last renewed two hours ago.
        var times = [timeval(tv_sec: time(nil) - 7200, tv_usec: 0), timeval(tv_sec: time(nil) - 7200, tv_usec: 0)]
        XCTAssertEqual(utimes(t.state("active", "stale") + "/.tutor-owner", &times), 0)

        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--lease", "600", "--settle", "30", "--rescan", "0.3"], log: t.path + "/daemon.log")
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("done", "stale") + "/verdict.json") }, d.log)
        XCTAssertTrue(d.log.contains("did not renew its claim"), d.log)
        usleep(1_000_000)  // three rescans
        XCTAssertTrue(exists(t.state("active", "renewed") + "/.tutor-owner"), d.log)
        XCTAssertFalse(exists(t.state("active", "renewed") + "/worker.log"))
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(), 0)
    }

    /// `--once` takes what is in incoming/ (written in place, never renamed) and exits 0.
    func testOnceDrainsIncomingAndExits() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("once")
        let runner = try t.verdictRunner()
        try FileManager.default.createDirectory(atPath: t.state("incoming"), withIntermediateDirectories: true)
        for k in 0..<3 { try t.makeTask("in-place-\(k)", in: t.state("incoming")) }
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--once", "--settle", "0.3"], log: t.path + "/daemon.log")
        XCTAssertEqual(d.waitExit(timeout: 20), 0, d.log)
        XCTAssertEqual(names(in: t.state("done")), ["in-place-0", "in-place-1", "in-place-2"], d.log)
        XCTAssertEqual(names(in: t.state("incoming")), [])
    }
}
