import Foundation
import Spool
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// When a folder in incoming/ is taken (docs/FORMAT.md, section 5), with real inotify on a temporary
/// spool and the built `tutor daemon`.
final class PickupTests: XCTestCase {
    /// A folder renamed into incoming/ whole is taken at once, long before the settle time.
    /// A folder is complete with either first frame (docs/FORMAT.md), not without one.
    func testEitherFirstFrameCompletesAFolder() {
        XCTAssertTrue(SpoolFolders.hasInputs(["prompt.txt", "rules.json", "first_frame.jpg"]))
        XCTAssertTrue(SpoolFolders.hasInputs(["prompt.txt", "rules.json", "first_frame.png", "job.json"]))
        XCTAssertFalse(SpoolFolders.hasInputs(["prompt.txt", "rules.json", "first_frame.gif"]))
        XCTAssertFalse(SpoolFolders.hasInputs(["rules.json", "first_frame.png"]))
    }

    func testRenamedInFolderIsTakenAtOnce() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("rename")
        let runner = try t.verdictRunner()
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "30", "--rescan", "60"], log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        let src = try t.makeTask("renamed")
        let start = Date()
        XCTAssertEqual(rename(src, t.state("incoming", "renamed")), 0)
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("done", "renamed") + "/verdict.json") }, d.log)
        // The settle time is 30 s and the rescan 60 s: only the rename can explain this.
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertEqual(readJSON(t.state("done", "renamed") + "/verdict.json")?["status"] as? String, "passed")
        XCTAssertFalse(exists(t.state("done", "renamed") + "/.tutor-owner"), "the owner record is removed when the task leaves active/")
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(), 0)
    }

    /// A folder written in place is not taken while incomplete; a READY file makes it ready.
    func testReadyFileMakesAFolderReady() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("ready")
        let runner = try t.verdictRunner()
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "30", "--rescan", "60"], log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        try t.makeTask("inplace", in: t.state("incoming"))
        usleep(1_000_000)
        XCTAssertTrue(exists(t.state("incoming", "inplace")), "a folder written in place waits for the settle time or READY")
        _ = FileManager.default.createFile(atPath: t.state("incoming", "inplace") + "/READY", contents: nil)
        XCTAssertTrue(waitUntil(timeout: 5) { exists(t.state("done", "inplace") + "/verdict.json") }, d.log)
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(), 0)
    }

    /// A slow writer copying a folder file by file, each file in pieces, is picked up only
    /// when it is complete: the runner checks that every file is whole.
    func testSlowWriterIsTakenOnlyWhenComplete() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("slow")
        let full = tinyJPEG.count
        let runner = try t.script("check.sh", """
        d="$1"; n=$(basename "$d")
        status=passed
        for f in prompt.txt rules.json first_frame.jpg; do [ -f "$d/$f" ] || status=failed; done
        [ "$(stat -c %s "$d/first_frame.jpg" 2>/dev/null)" = "\(full)" ] || status=failed
        printf '{"version":1,"task":"%s","status":"%s"}\\n' "$n" "$status" > "$d/.v.tmp"; mv "$d/.v.tmp" "$d/verdict.json"
        """)
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "2", "--rescan", "60"], log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        let dir = t.state("incoming", "slow")
        XCTAssertEqual(mkdir(dir, 0o755), 0)
        try Data("Move the ball.\n".utf8).write(to: URL(fileURLWithPath: dir + "/prompt.txt"))
        usleep(600_000)
        try Data(tinyRules.utf8).write(to: URL(fileURLWithPath: dir + "/rules.json"))
        usleep(600_000)
        // The JPEG in three pieces, 0.6 s apart: the folder is never quiet for the 2 s settle time.
        let fd = open(dir + "/first_frame.jpg", O_WRONLY | O_CREAT, 0o644)
        let third = full / 3
        for (k, range) in [0..<third, third..<2 * third, 2 * third..<full].enumerated() {
            _ = tinyJPEG[range].withUnsafeBytes { write(fd, $0.baseAddress, range.count) }
            if k < 2 { usleep(600_000) }
            XCTAssertTrue(exists(dir), "taken after piece \(k + 1) of 3, while still being written")
        }
        close(fd)
        let written = Date()
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("done", "slow") + "/verdict.json") }, d.log)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(written), 1.8, "taken before the settle time passed")
        XCTAssertEqual(readJSON(t.state("done", "slow") + "/verdict.json")?["status"] as? String, "passed",
                       "the runner saw an incomplete folder")
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(), 0)
    }

    /// A folder written in place and then left alone is taken after the settle time, however
    /// often the daemon rescans meanwhile (a rescan is not a change).
    func testQuietFolderIsTakenAfterTheSettleTime() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("quiet")
        let runner = try t.verdictRunner()
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "1.5", "--rescan", "0.2"], log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        try t.makeTask("quiet", in: t.state("incoming"))
        let written = Date()
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("done", "quiet") + "/verdict.json") }, d.log)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(written), 1.4)
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(), 0)
    }

    /// When the kernel's event queue overflows, the daemon rescans: a task whose event was
    /// dropped is still found, long before the periodic rescan.
    func testQueueOverflowLeadsToARescan() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("overflow")
        let runner = try t.verdictRunner()
        let limitText = (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8)) ?? "16384"
        let limit = Int(limitText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 16384
        if limit > 100_000 { throw XCTSkip("fs.inotify.max_queued_events is \(limit): too many events to overflow quickly") }
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "1", "--rescan", "120"], log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        // Stop the daemon, fill its queue with events (touching two dot-files in turn: the
        // kernel merges only identical neighbours), then rename a task in: its event is dropped.
        let noise = [t.state("incoming", ".noise-a"), t.state("incoming", ".noise-b")]
        for p in noise { _ = FileManager.default.createFile(atPath: p, contents: nil) }
        usleep(200_000)
        d.signal(SIGSTOP)
        XCTAssertTrue(waitUntil(timeout: 5) { processState(d.pid) == "T" })
        // Twice the queue's size: an overflow even if some events were read before the stop.
        for _ in 0..<(limit + 1000) {
            for p in noise { utimes(p, nil) }
        }
        XCTAssertEqual(rename(try t.makeTask("dropped"), t.state("incoming", "dropped")), 0)
        d.signal(SIGCONT)
        XCTAssertTrue(waitUntil(timeout: 15) { exists(t.state("done", "dropped") + "/verdict.json") }, d.log)
        XCTAssertTrue(d.log.contains("overflowed"), d.log)
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(), 0)
    }

    /// Things in incoming/ that are not task folders go to failed/ with a reason; dot-names
    /// are left alone; a name already in done/ is never overwritten.
    func testDaemonLevelRejects() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("rejects")
        let runner = try t.verdictRunner()
        for s in ["incoming", "active", "done", "failed"] {
            try FileManager.default.createDirectory(atPath: t.state(s), withIntermediateDirectories: true)
        }
        // done/twice holds an earlier result that must stay as it is.
        try FileManager.default.createDirectory(atPath: t.state("done", "twice"), withIntermediateDirectories: true)
        try Data("earlier\n".utf8).write(to: URL(fileURLWithPath: t.state("done", "twice") + "/marker"))
        try t.makeTask(".uploading", in: t.state("incoming"))
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "0.3", "--rescan", "0.5"], log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)

        XCTAssertEqual(rename(try t.makeTask("twice"), t.state("incoming", "twice")), 0)
        _ = FileManager.default.createFile(atPath: t.state("incoming", "loose-file.txt"), contents: Data("x".utf8))
        let target = try t.makeTask("elsewhere")
        XCTAssertEqual(symlink(target, t.state("incoming", "linked")), 0)

        XCTAssertTrue(waitUntil(timeout: 10) {
            exists(t.state("failed", "twice~2") + "/verdict.json") || exists(t.state("failed", "twice") + "/verdict.json")
        }, d.log)
        let twice = exists(t.state("failed", "twice") + "/verdict.json") ? t.state("failed", "twice") : t.state("failed", "twice~2")
        let v = readJSON(twice + "/verdict.json")
        XCTAssertEqual(v?["status"] as? String, "error")
        XCTAssertEqual((v?["error"] as? [String: Any])?["code"] as? String, "name-taken")
        assertMatchesVerdictSchema(twice + "/verdict.json")
        XCTAssertEqual(names(in: t.state("done", "twice")), ["marker"], "done/twice was touched")
        XCTAssertFalse(exists(twice + "/worker.log"), "a task whose name is taken must not run")

        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("failed", "loose-file.txt") + "/verdict.json") }, d.log)
        let fileVerdict = readJSON(t.state("failed", "loose-file.txt") + "/verdict.json")
        XCTAssertEqual((fileVerdict?["error"] as? [String: Any])?["code"] as? String, "not-a-folder")
        assertMatchesVerdictSchema(t.state("failed", "loose-file.txt") + "/verdict.json")
        XCTAssertTrue(exists(t.state("failed", "loose-file.txt") + "/loose-file.txt"), "the file is kept, unchanged")

        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("failed", "linked") + "/verdict.json") }, d.log)
        let linkMessage = ((readJSON(t.state("failed", "linked") + "/verdict.json")?["error"] as? [String: Any])?["message"] as? String) ?? ""
        XCTAssertTrue(linkMessage.contains("symbolic link"), linkMessage)
        XCTAssertFalse(exists(target + "/verdict.json"), "the link was followed")
        XCTAssertFalse(exists(target + "/worker.log"), "the link was followed")

        // Several rescans later the dot-name is still untouched.
        usleep(1_200_000)
        XCTAssertTrue(exists(t.state("incoming", ".uploading") + "/prompt.txt"))
        XCTAssertFalse(exists(t.state("incoming", ".uploading") + "/worker.log"))
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(), 0)
    }

    /// `tutor submit` validates, copies under a dot-name and renames into place; the daemon
    /// takes it at once; `tutor status` counts it.
    func testSubmitAndStatus() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("submit")
        let runner = try t.verdictRunner(status: "failed")
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "30", "--rescan", "60"], log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        let task = try t.makeTask("submitted")
        let (code, out, _) = try runTutor(tutor, ["submit", task, "--spool", t.spool])
        XCTAssertEqual(code, 0)
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "submitted")
        XCTAssertTrue(waitUntil(timeout: 5) { exists(t.state("done", "submitted") + "/verdict.json") }, d.log)
        XCTAssertTrue(exists(task + "/prompt.txt") && !exists(task + "/verdict.json"), "submit copies; the original stays as it was")

        // Refused: the same name again (already in done/), and a folder with a bad input.
        let (again, _, err) = try runTutor(tutor, ["submit", task, "--spool", t.spool])
        XCTAssertEqual(again, 1)
        XCTAssertTrue(err.contains("already in done/"), err)
        let bad = try t.makeTask("bad")
        try FileManager.default.removeItem(atPath: bad + "/prompt.txt")
        let (badCode, _, badErr) = try runTutor(tutor, ["submit", bad, "--spool", t.spool])
        XCTAssertEqual(badCode, 1)
        XCTAssertTrue(badErr.contains("prompt.txt"), badErr)
        let badRules = try t.makeTask("bad-rules")
        try Data(tinyRules.replacingOccurrences(of: "\"type\": \"intact\"", with: "\"type\": \"teleport\"").utf8)
            .write(to: URL(fileURLWithPath: badRules + "/rules.json"))
        let (rulesCode, _, rulesErr) = try runTutor(tutor, ["submit", badRules, "--spool", t.spool])
        XCTAssertEqual(rulesCode, 1)
        XCTAssertTrue(rulesErr.contains("teleport"), rulesErr)
        XCTAssertEqual(names(in: t.state("incoming")), [])

        let (sc, json, _) = try runTutor(tutor, ["status", "--spool", t.spool, "--json"])
        XCTAssertEqual(sc, 0)
        let counts = (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["counts"] as? [String: Int]
        XCTAssertEqual(counts, ["incoming": 0, "active": 0, "done": 1, "failed": 0])
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(), 0)
    }
}

/// Runs the tutor executable to completion; returns (status, stdout, stderr).
func runTutor(_ tutor: String, _ args: [String]) throws -> (Int32, String, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tutor)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// `tutor status` while a task runs and after others failed.
final class StatusTests: XCTestCase {
    func testStatusShowsProgressAttemptsAndErrors() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("status")
        let release = t.path + "/release"
        // The task writes progress.json and waits for the test to let it finish.
        let runner = try t.verdictRunner(before: """
        case "$n" in bad*) printf '{"version":1,"task":"%s","status":"error","error":{"code":"invalid-input","message":"prompt.txt is missing"}}\\n' "$n" > "$d/verdict.json"; exit 0 ;; esac
        printf '{"step": 7, "loss": 0.5}\\n' > "$d/progress.json"
        while [ ! -e \(release) ]; do sleep 0.05; done
        """)
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "30", "--rescan", "60"], log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        XCTAssertEqual(rename(try t.makeTask("bad-one"), t.state("incoming", "bad-one")), 0)
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("failed", "bad-one")) }, d.log)
        XCTAssertEqual(rename(try t.makeTask("long"), t.state("incoming", "long")), 0)
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("active", "long") + "/progress.json") }, d.log)

        let (code, json, _) = try runTutor(tutor, ["status", "--spool", t.spool, "--json"])
        XCTAssertEqual(code, 0)
        let o = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        XCTAssertEqual(o?["counts"] as? [String: Int], ["incoming": 0, "active": 1, "done": 0, "failed": 1])
        let active = (o?["active"] as? [[String: Any]])?.first
        XCTAssertEqual(active?["name"] as? String, "long")
        XCTAssertEqual(active?["attempt"] as? Int, 1)
        XCTAssertEqual(active?["daemon_pid"] as? Int, Int(d.pid))
        XCTAssertEqual((active?["progress"] as? [String: Any])?["step"] as? Int, 7)
        let failed = (o?["failed"] as? [[String: Any]])?.first
        XCTAssertEqual(failed?["code"] as? String, "invalid-input")
        XCTAssertEqual(failed?["message"] as? String, "prompt.txt is missing")

        let (_, text, _) = try runTutor(tutor, ["status", "--spool", t.spool])
        XCTAssertTrue(text.contains("running  long") && text.contains("step 7"), text)
        XCTAssertTrue(text.contains("failed   bad-one  invalid-input: prompt.txt is missing"), text)

        _ = FileManager.default.createFile(atPath: release, contents: nil)
        XCTAssertTrue(waitUntil(timeout: 10) { exists(t.state("done", "long") + "/verdict.json") }, d.log)
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(), 0)
    }
}
