import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `tutor run` where the fuzzing report found it wanting: a standard error that cannot be
/// written, a full disk, the memory it reports, and files in the task folder that are not
/// tutor's.
extension RunTests {
    /// Runs tutor with standard error on /dev/full (every write fails with ENOSPC).
    func runWithFullStandardError(_ args: [String]) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try tutor())
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "TUTOR_MODEL")
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        guard let full = FileHandle(forWritingAtPath: "/dev/full") else { throw XCTSkip("/dev/full is not available") }
        p.standardError = full
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "tutor \(args.joined(separator: " ")) was killed by signal \(p.terminationStatus)")
        return p.terminationStatus
    }

    /// `tutor run FOLDER 2>/dev/full` ends with its exit status, not a trap (132).
    func testMessagesToAFullStandardErrorDoNotTrap() throws {
        XCTAssertEqual(try runWithFullStandardError(["run", root.appendingPathComponent("absent").path]), 1)
        let dir = try makeTask("stderr-full")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("rules.json"))
        XCTAssertEqual(try runWithFullStandardError(["run", dir.path, "--model", root.appendingPathComponent("none").path]), 1)
        XCTAssertEqual(try verdict(dir)["status"] as? String, "error")
        // Usage errors write to standard error too.
        XCTAssertEqual(try runWithFullStandardError(["run"]), 2)
    }

    /// A small tmpfs at `root/name`, unmounted by the returned closure; skips the test where
    /// mounting is not allowed (not root, or in a container without the capability).
    func smallDisk(_ name: String, size: String) throws -> (path: String, unmount: () -> Void) {
        let dir = root.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/mount")
        p.arguments = ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", dir]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { throw XCTSkip("cannot run mount to make a small disk: \(error)") }
        let why = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus != 0 { throw XCTSkip("cannot mount a \(size) tmpfs to test a full disk (needs root): \(why)") }
        return (dir, { _ = umount2(dir, Int32(MNT_DETACH)) })
    }


    /// On a full disk `tutor run` cannot write even its error verdict: it says so, exits 75
    /// (the daemon's sign to hold the task), leaves no temporary behind, and writes its verdict
    /// once there is space again.
    func testFullDiskExits75AndRunsOnceSpaceReturns() throws {
        let disk = try smallDisk("small-disk", size: "1m")
        defer { disk.unmount() }
        let made = try makeTask("on-small-disk")
        let dir = URL(fileURLWithPath: disk.path + "/task")
        try FileManager.default.copyItem(at: made, to: dir)
        let before = try snapshot(dir)
        let filler = fillFileSystem(holding: disk.path)
        let r = try run(["run", dir.path, "--model", root.appendingPathComponent("none").path])
        XCTAssertEqual(r.status, 75, r.output)
        XCTAssertTrue(r.output.contains("the disk is full: free some space"), r.output)
        XCTAssertFalse(r.output.contains("passed"), r.output)
        XCTAssertEqual(try snapshot(dir), before, "nothing is left behind and the inputs are untouched")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }, [])
        try FileManager.default.removeItem(atPath: filler)
        let again = try run(["run", dir.path, "--model", root.appendingPathComponent("none").path])
        XCTAssertEqual(again.status, 1, again.output)
        XCTAssertEqual((try verdict(dir)["error"] as? [String: Any])?["code"] as? String, "model-unavailable")
    }

    /// A worker started by a large process reports its own peak memory, not its parent's
    /// (getrusage's maximum is inherited across fork and exec; /proc's VmHWM is not).
    func testPeakMemoryIsTheRunsOwn() throws {
        let dir = try makeTask("peak")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("rules.json"))
        let big = 768 << 20
        let p = UnsafeMutableRawPointer.allocate(byteCount: big, alignment: 4096)
        defer { p.deallocate() }
        memset(p, 1, big)
        let r = try run(["run", dir.path, "--model", root.appendingPathComponent("none").path, "--quiet"])
        XCTAssertEqual(r.status, 1, r.output)
        let peak = try XCTUnwrap((try verdict(dir)["cost"] as? [String: Any])?["peak_rss_bytes"] as? Int)
        XCTAssertGreaterThan(peak, 1 << 20)
        XCTAssertLessThan(peak, 256 << 20, "peak_rss_bytes \(peak) counts the parent's \(big >> 20) MiB")
    }

    /// Files in the task folder that only look like tutor's temporaries are the user's and
    /// stay; tutor's own leftovers (marked `.tutor-tmp.`) and its stale frames go.
    func testUserFilesThatLookLikeTemporariesAreKept() throws {
        let model = try tinyModel()
        let dir = try makeTask("user-files", job: "{\"strategy\": \"base\"}")
        let fm = FileManager.default
        let frames = dir.appendingPathComponent("frames")
        try fm.createDirectory(at: frames, withIntermediateDirectories: true)
        try fm.createDirectory(at: dir.appendingPathComponent(".adapter.mine"), withIntermediateDirectories: true)
        let userFiles = [".verdict.json.bak", ".adapter.notes", ".adapter.mine/notes.txt", ".progress.json.swp",
                         ".contact_sheet.jpg.orig", ".verdict.json.123.tmp", "frames/my.jpg", "frames/.keep.tmp", "frames/1.jpg"]
        for f in userFiles { try Data("mine: \(f)".utf8).write(to: dir.appendingPathComponent(f)) }
        // What a killed run of tutor leaves: marked temporaries, a staged adapter, a frame of a
        // longer video.
        try fm.createDirectory(at: dir.appendingPathComponent(".tutor-tmp.adapter.4242.1a2b"), withIntermediateDirectories: true)
        let ours = [".tutor-tmp.verdict.json.4242.9f3e", ".tutor-tmp.adapter.4242.1a2b/adapter_config.json",
                    "frames/.tutor-tmp.03.jpg.4242.77", "frames/31.jpg"]
        for f in ours { try Data("tutor's".utf8).write(to: dir.appendingPathComponent(f)) }

        let r = try run(["run", dir.path, "--model", model, "--quiet"])
        XCTAssertTrue(r.status == 0 || r.status == 1, r.output)
        XCTAssertNotEqual(try verdict(dir)["status"] as? String, "error", r.output)
        for f in userFiles {
            XCTAssertEqual(fm.contents(atPath: dir.appendingPathComponent(f).path), Data("mine: \(f)".utf8), "\(f) was the user's")
        }
        for f in ours + [".tutor-tmp.adapter.4242.1a2b"] {
            XCTAssertFalse(fm.fileExists(atPath: dir.appendingPathComponent(f).path), "\(f) was tutor's")
        }
        XCTAssertTrue(fm.fileExists(atPath: frames.appendingPathComponent("00.jpg").path))
    }

    /// A verdict that cannot be written is no success: a folder where verdict.json goes
    /// makes `tutor run` say so and exit 1 before anything runs.
    func testUnwritableVerdictIsNotASuccess() throws {
        let model = try tinyModel()
        let dir = try makeTask("verdict-folder", job: "{\"strategy\": \"base\"}")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("verdict.json"), withIntermediateDirectories: false)
        let r = try run(["run", dir.path, "--model", model])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("no verdict: cannot write \(dir.path)/verdict.json: it is a folder") && r.output.contains("move it away"), r.output)
        XCTAssertFalse(r.output.contains("passed ("), r.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("frames").path), "nothing ran")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("verdict.json").path), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".tutor-tmp.") }, [])
    }
}
