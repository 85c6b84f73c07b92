import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The spool's own faults: state folders that disappear, task folders removed while they run,
/// stops, a crash count that cannot be written, a full disk.
final class FaultTests: XCTestCase {
    /// A daemon serving a fresh spool with a runner that writes `status` verdicts.
    func servingDaemon(_ tag: String, status: String = "passed", rescan: String) throws -> (TempFolder, DaemonProcess) {
        let t = try TempFolder(tag)
        let runner = try t.verdictRunner(status: status)
        let d = try DaemonProcess(tutor: try tutorExecutable(), spool: t.spool,
                                  arguments: ["--runner", runner, "--settle", "0.2", "--rescan", rescan], log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        return (t, d)
    }

    /// done/ and failed/ removed under a running daemon are created again when a task needs
    /// them; nothing is lost.
    func testMissingDoneAndFailedAreCreatedAgain() throws {
        let (t, d) = try servingDaemon("folders", rescan: "60")
        XCTAssertEqual(rmdir(t.state("done")), 0)
        XCTAssertEqual(rmdir(t.state("failed")), 0)
        XCTAssertEqual(rename(try t.makeTask("ok"), t.state("incoming", "ok")), 0)
        FileManager.default.createFile(atPath: t.state("incoming", "stray.txt"), contents: Data("x".utf8))
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("done", "ok") + "/verdict.json") }, d.log)
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("failed", "stray.txt") + "/verdict.json") }, d.log)
        XCTAssertTrue(d.log.contains("done/ was missing from the spool: created it again"), d.log)
        XCTAssertTrue(d.log.contains("failed/ was missing from the spool: created it again"), d.log)
        XCTAssertFalse(exists(t.state("done", "ok") + "/.tutor-owner"), "the claim record leaves with the claim")
    }

    /// incoming/ removed under a running daemon is created again at once and watched again:
    /// a task dropped into the new one is picked up by inotify, long before the next rescan.
    func testRemovedIncomingIsWatchedAgain() throws {
        let (t, d) = try servingDaemon("incoming", rescan: "120")
        XCTAssertEqual(rmdir(t.state("incoming")), 0)
        XCTAssertTrue(d.waitForLog("watching incoming/ again"), d.log)
        XCTAssertTrue(d.log.contains("incoming/ was missing from the spool: created it again"), d.log)
        XCTAssertEqual(rename(try t.makeTask("after"), t.state("incoming", "after")), 0)
        XCTAssertTrue(waitUntil(timeout: 20) { exists(t.state("done", "after") + "/verdict.json") }, d.log)
    }

    /// failed/ replaced by a file cannot be recreated: the daemon says what to do and keeps
    /// the task in active/; once failed/ is back, the task goes there.
    func testUnusableFailedKeepsTheTaskInActive() throws {
        let (t, d) = try servingDaemon("nofailed", status: "error", rescan: "0.5")
        XCTAssertEqual(rmdir(t.state("failed")), 0)
        FileManager.default.createFile(atPath: t.state("failed"), contents: Data("in the way".utf8))
        XCTAssertEqual(rename(try t.makeTask("bad"), t.state("incoming", "bad")), 0)
        XCTAssertTrue(d.waitForLog("is a regular file, not a folder: remove it so that tutor can recreate failed/"), d.log)
        XCTAssertTrue(exists(t.state("active", "bad") + "/verdict.json"), d.log)
        usleep(1_500_000)
        XCTAssertEqual(d.log.components(separatedBy: "not a folder: remove it").count, 2, "said once: \(d.log)")
        XCTAssertEqual(unlink(t.state("failed")), 0)
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("failed", "bad") + "/verdict.json") }, d.log)
        XCTAssertFalse(exists(t.state("failed", "bad") + "/.tutor-attempts"), "the wait was not the task's fault")
    }

    /// A task folder its user removes from active/ while it runs is logged once; its worker is
    /// stopped.
    func testTaskRemovedWhileRunningIsLoggedOnce() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("removed")
        let runner = try t.script("sleeper.sh", "exec sleep 60\n")
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "0.2", "--rescan", "0.3"],
                                  log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        XCTAssertEqual(rename(try t.makeTask("gone"), t.state("incoming", "gone")), 0)
        var workerPID: Int32 = 0
        XCTAssertTrue(waitUntil(timeout: 10) {
            workerPID = Int32(readJSON(t.state("active", "gone") + "/.tutor-owner")?["worker_pid"] as? Int ?? 0)
            return workerPID > 0
        }, d.log)
        try FileManager.default.removeItem(atPath: t.state("active", "gone"))
        XCTAssertTrue(d.waitForLog("gone: the task folder was removed from active/ while it ran"), d.log)
        XCTAssertTrue(waitUntil(timeout: 5) { processGone(workerPID) })
        usleep(1_500_000)  // a few rescans
        let lines = d.log.split(separator: "\n").filter { $0.contains("gone") }
        XCTAssertEqual(lines.count, 2, "claimed, then removed; nothing else: \(lines)")
        XCTAssertEqual(names(in: t.state("incoming")) + names(in: t.state("failed")) + names(in: t.state("done")), [])
    }

    /// A task put back after SIGTERM runs again as a new attempt, labelled so in worker.log,
    /// and the stop is not counted as a crash.
    func testRestartAfterStopIsANewAttemptInWorkerLog() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("restart")
        let sleeper = try t.script("sleeper.sh", "echo first run; exec sleep 60\n")
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", sleeper, "--grace", "0.3", "--settle", "30", "--rescan", "60"],
                                  log: t.path + "/daemon1.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        XCTAssertEqual(rename(try t.makeTask("again"), t.state("incoming", "again")), 0)
        XCTAssertTrue(d.waitForLog("again: claimed, attempt 1"), d.log)
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(timeout: 10), 0, d.log)
        XCTAssertTrue(exists(t.state("incoming", "again") + "/prompt.txt"), d.log)

        let finisher = try t.verdictRunner(before: "echo second run")
        let d2 = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", finisher, "--settle", "0.2", "--rescan", "60"],
                                   log: t.path + "/daemon2.log")
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("done", "again") + "/verdict.json") }, d2.log)
        XCTAssertTrue(d2.log.contains("again: claimed, attempt 2"), d2.log)
        let log = try String(contentsOfFile: t.state("done", "again") + "/worker.log", encoding: .utf8)
        let markers = log.split(separator: "\n").filter { $0.hasPrefix("--- tutor daemon:") }
        XCTAssertEqual(markers.count, 3, log)
        XCTAssertTrue(markers[0].contains("attempt 1 on"), log)
        XCTAssertTrue(markers[1].contains("attempt 1 stopped with the daemon") && markers[1].contains("new attempt"), log)
        XCTAssertTrue(markers[2].contains("attempt 2 on") && !markers[2].contains("crashes used"), log)
        XCTAssertFalse(exists(t.state("done", "again") + "/.tutor-attempts"), "a stop is not a crash")
    }

    /// When `.tutor-attempts` cannot be written, the daemon keeps the crash count itself: a
    /// task that kills its worker still ends in failed/ after 3 attempts.
    func testUnwritableAttemptsFileStillEndsInFailed() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("attempts")
        let runner = try t.script("crasher.sh", "kill -9 $$\n")
        let task = try t.makeTask("crashy")
        // A folder where the count should go: every write of it fails.
        try FileManager.default.createDirectory(atPath: task + "/.tutor-attempts", withIntermediateDirectories: false)
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "0.2", "--rescan", "60"],
                                  log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        XCTAssertEqual(rename(task, t.state("incoming", "crashy")), 0)
        XCTAssertTrue(waitUntil(timeout: 20) { exists(t.state("failed", "crashy") + "/verdict.json") }, d.log)
        let v = readJSON(t.state("failed", "crashy") + "/verdict.json")
        XCTAssertEqual((v?["error"] as? [String: Any])?["code"] as? String, "worker-crashed")
        XCTAssertEqual(v?["attempts"] as? Int, 3)
        XCTAssertEqual(d.log.components(separatedBy: "crashy: claimed").count - 1, 3, d.log)
        XCTAssertTrue(d.log.contains("this daemon keeps the count (2 of 3)"), d.log)
    }

    /// A worker that exits 75 (`tutor run` could not write its verdict for lack of space)
    /// is not a crash: the task is held, the daemon waits for space and runs it again.
    func testDiskFullExitHoldsTheTaskWithoutCountingAnAttempt() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("exit75")
        let runner = try t.script("full-once.sh", """
        d="$1"; n=$(basename "$d")
        if [ ! -e "\(t.path)/was-full" ]; then touch "\(t.path)/was-full"; echo "no space for verdict.json" >&2; exit 75; fi
        printf '{"version":1,"task":"%s","status":"passed","passed":true,"error":null}\\n' "$n" > "$d/.verdict.tmp"
        mv "$d/.verdict.tmp" "$d/verdict.json"
        """)
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "0.2", "--rescan", "0.2"],
                                  log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        XCTAssertEqual(rename(try t.makeTask("held"), t.state("incoming", "held")), 0)
        XCTAssertTrue(waitUntil(timeout: 15) { exists(t.state("done", "held") + "/verdict.json") }, d.log)
        XCTAssertTrue(d.log.contains("disk full: held: its worker could not write verdict.json: the disk is full"), d.log)
        XCTAssertTrue(d.log.contains("disk space again after"), d.log)
        XCTAssertFalse(exists(t.state("done", "held") + "/.tutor-attempts"), "a full disk is not a crash")
        let log = try String(contentsOfFile: t.state("done", "held") + "/worker.log", encoding: .utf8)
        XCTAssertTrue(log.contains("held, its worker could not write verdict.json"), log)
    }

    /// On a really full disk (a 3 MiB tmpfs) the daemon cannot claim: it holds the task,
    /// reports "disk full" in `tutor status`, its STATUS line and its metrics, backs off, and
    /// runs the task once space returns, without counting an attempt.
    func testFullDiskIsAStateNotALoop() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("diskfull")
        let mnt = t.path + "/disk"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let (rc, _, why) = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt])
        if rc != 0 { throw XCTSkip("cannot mount a 3 MiB tmpfs to test a full disk (needs root): \(why)") }
        defer { _ = umount2(mnt, Int32(MNT_DETACH)) }
        let spool = mnt + "/spool"
        for s in ["incoming", "active", "done", "failed"] {
            try FileManager.default.createDirectory(atPath: spool + "/" + s, withIntermediateDirectories: true)
        }
        let task = try t.makeTask("waiting", in: mnt)
        // Fill the disk to the last byte.
        let filler = fillFileSystem(holding: mnt)

        let runner = try t.verdictRunner()
        let metrics = t.path + "/metrics/tutor.prom"
        try FileManager.default.createDirectory(atPath: t.path + "/metrics", withIntermediateDirectories: true)
        let listener = try ServiceTests.NotifyListener(path: t.path + "/notify.sock", abstract: false)
        let d = try DaemonProcess(tutor: tutor, spool: spool,
                                  arguments: ["--runner", runner, "--settle", "0.2", "--rescan", "0.5", "--metrics-file", metrics],
                                  environment: ["NOTIFY_SOCKET": listener.name], log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        XCTAssertEqual(rename(task, spool + "/incoming/waiting"), 0)
        XCTAssertTrue(d.waitForLog("disk full: waiting: its claim record cannot be written"), d.log)
        let statusLines = listener.receive(timeout: 5) { m in m.contains { $0.hasPrefix("STATUS=disk full") } }
        XCTAssertTrue(statusLines.contains { $0.hasPrefix("STATUS=disk full") }, "\(statusLines)")
        let (sc, status, serr) = try runTutor(tutor, ["status", "--spool", spool])
        XCTAssertEqual(sc, 0, serr)
        XCTAssertTrue(status.contains("disk full: the daemon on"), status)
        XCTAssertTrue(waitUntil(timeout: 5) { (try? String(contentsOfFile: metrics, encoding: .utf8))?.contains("tutor_spool_disk_full 1") == true },
                      (try? String(contentsOfFile: metrics, encoding: .utf8)) ?? "no metrics file")
        // Held, not spinning: a few seconds bring no claims beyond the first.
        sleep(3)
        XCTAssertEqual(d.log.components(separatedBy: "disk full:").count - 1, 1, d.log)
        XCTAssertEqual(d.log.components(separatedBy: "held for lack of space").count - 1, 1, d.log)
        XCTAssertTrue(exists(spool + "/incoming/waiting/prompt.txt"), d.log)

        XCTAssertEqual(unlink(filler), 0)
        XCTAssertTrue(waitUntil(timeout: 20) { exists(spool + "/done/waiting/verdict.json") }, d.log)
        XCTAssertTrue(d.log.contains("disk space again after"), d.log)
        XCTAssertFalse(exists(spool + "/done/waiting/.tutor-attempts"), "a full disk is not a crash")
        let (_, after, _) = try runTutor(tutor, ["status", "--spool", spool])
        XCTAssertFalse(after.contains("disk full"), after)
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(timeout: 10), 0, d.log)
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        XCTAssertTrue(text.contains("tutor_spool_disk_full_holds_total 1"), text)
        XCTAssertTrue(text.contains("tutor_spool_disk_full 0"), text)
    }
}

