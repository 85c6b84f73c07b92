import Foundation
import XCTest
@testable import System
#if canImport(Glibc)
import Glibc
#endif

final class AtomicFileTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        var template = Array("/tmp/tutor-system-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw XCTSkip("cannot create a temporary folder") }
        dir = String(cString: p)
    }

    override func tearDownWithError() throws { try? Files.removeTree(dir) }

    func testWriteReplacesAndLeavesNoTemporary() throws {
        let target = dir + "/out.json"
        try AtomicFile.write("{\"a\": 1}", to: target)
        try AtomicFile.write("{\"a\": 2}", to: target)
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "{\"a\": 2}")
        XCTAssertEqual(Files.names(in: dir), ["out.json"])
    }

    func testTemporaryNameCarriesTheMarkerAndIsRecognised() throws {
        var f = try AtomicFile(path: dir + "/verdict.json")
        let temp = Files.baseName(f.temporaryPath)
        XCTAssertTrue(temp.hasPrefix(".tutor-tmp.verdict.json."), temp)
        XCTAssertTrue(TemporaryName.isTemporary(temp), temp)
        XCTAssertEqual(Files.kind(f.temporaryPath), .file)
        f.discard()
        XCTAssertNil(Files.kind(f.temporaryPath))
        XCTAssertNil(Files.kind(dir + "/verdict.json"))
        // Names a user may well have: none is tutor's.
        for n in [".verdict.json.bak", ".verdict.json.123.tmp", ".adapter.notes", ".adapter.mine", ".progress.json.swp",
                  ".contact_sheet.jpg.orig", ".keep.tmp", ".tutor-tmp.", ".tutor-tmp.x", ".tutor-tmp.x.12.", ".tutor-tmp.x.ab.12",
                  ".tutor-tmp.x.12.zz", "tutor-tmp.x.12.ab"] {
            XCTAssertFalse(TemporaryName.isTemporary(n), n)
        }
        XCTAssertTrue(TemporaryName.isTemporary(TemporaryName.make(for: String(repeating: "a", count: 250))))
        XCTAssertLessThanOrEqual(TemporaryName.make(for: String(repeating: "a", count: 250)).utf8.count, 255)
    }

    func testFailedWriteNamesTheDestinationAndLeavesNothing() throws {
        try Files.makeFolder(dir + "/verdict.json")  // a folder where the file should go
        XCTAssertThrowsError(try AtomicFile.write("x", to: dir + "/verdict.json")) { e in
            let err = e as! SystemError
            XCTAssertEqual(err.path, dir + "/verdict.json")
            XCTAssertEqual(err.errno, EISDIR)
            XCTAssertFalse(err.isDiskFull)
        }
        XCTAssertEqual(Files.names(in: dir), ["verdict.json"])
    }

    func testFullDeviceIsDiskFull() throws {
        // /dev/full fails every write with ENOSPC; an atomic write cannot live there, so check
        // the classification on the errno a write to it gives.
        let fd = open("/dev/full", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw XCTSkip("/dev/full is not available") }
        defer { close(fd) }
        var b: UInt8 = 1
        XCTAssertEqual(write(fd, &b, 1), -1)
        XCTAssertTrue(SystemError("write", "/dev/full", errno: errno).isDiskFull)
        XCTAssertTrue(SystemError.isDiskFull(EDQUOT))
    }
}

final class FilesTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        var template = Array("/tmp/tutor-files-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw XCTSkip("cannot create a temporary folder") }
        dir = String(cString: p)
    }

    override func tearDownWithError() throws { try? Files.removeTree(dir) }

    func testKinds() throws {
        try AtomicFile.write("x", to: dir + "/f")
        try Files.makeFolder(dir + "/d")
        symlink(dir + "/d", dir + "/l")
        mkfifo(dir + "/p", 0o644)
        XCTAssertEqual(Files.kind(dir + "/f"), .file)
        XCTAssertEqual(Files.kind(dir + "/d"), .folder)
        XCTAssertEqual(Files.kind(dir + "/l"), .symlink)
        XCTAssertEqual(Files.kind(dir + "/p"), .fifo)
        XCTAssertEqual(Files.kind("/dev/null"), .characterDevice)
        XCTAssertNil(Files.kind(dir + "/none"))
        XCTAssertEqual(FileKind.fifo.description, "FIFO")
    }

    func testRenameNoReplaceRefusesATakenName() throws {
        try AtomicFile.write("a", to: dir + "/a")
        try AtomicFile.write("b", to: dir + "/b")
        XCTAssertEqual(Files.renameNoReplace(dir + "/a", dir + "/b"), EEXIST)
        XCTAssertEqual(try String(contentsOfFile: dir + "/b", encoding: .utf8), "b")
        XCTAssertEqual(Files.renameNoReplace(dir + "/a", dir + "/c"), 0)
        XCTAssertEqual(Files.renameNoReplace(dir + "/a", dir + "/d"), ENOENT)
    }

    func testCheckedCallsReportWhatFailed() throws {
        XCTAssertNoThrow(try Files.removeFile(dir + "/gone"))  // already gone is fine
        XCTAssertThrowsError(try Files.rename(dir + "/gone", dir + "/x")) { e in
            XCTAssertEqual((e as! SystemError).errno, ENOENT)
            XCTAssertTrue("\(e)".hasPrefix("cannot move \(dir!)/gone"), "\(e)")
        }
        try Files.makeFolder(dir + "/d")
        XCTAssertThrowsError(try Files.removeFile(dir + "/d"))  // a folder is never unlinked
    }

    func testRemoveTreeDoesNotFollowLinks() throws {
        try Files.makeFolder(dir + "/keep")
        try AtomicFile.write("precious", to: dir + "/keep/file")
        try Files.makeFolders(dir + "/tree/a/b")
        try AtomicFile.write("x", to: dir + "/tree/a/b/f")
        symlink(dir + "/keep", dir + "/tree/link")
        try Files.removeTree(dir + "/tree")
        XCTAssertNil(Files.kind(dir + "/tree"))
        XCTAssertEqual(try String(contentsOfFile: dir + "/keep/file", encoding: .utf8), "precious")
    }
}

final class ClockAndMemoryTests: XCTestCase {
    func testMonotonicClockAdvances() {
        let a = Clock.monotonicSeconds()
        usleep(20_000)
        let b = Clock.monotonicSeconds()
        XCTAssertGreaterThanOrEqual(b - a, 0.019)
        XCTAssertGreaterThan(Clock.wallSeconds(), 1.7e9)
    }

    func testPeakFollowsWhatThisProcessTouched() throws {
        // The peak is read second: it is at least what was resident a moment before.
        guard let now = Memory.residentBytes(), let before = Memory.peakResidentBytes() else {
            throw XCTSkip("/proc is not available")
        }
        XCTAssertGreaterThanOrEqual(before, now)
        let n = 64 << 20
        let p = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 4096)
        defer { p.deallocate() }
        memset(p, 1, n)
        let resident = try XCTUnwrap(Memory.residentBytes())
        let after = try XCTUnwrap(Memory.peakResidentBytes())
        XCTAssertGreaterThanOrEqual(after, resident)
        XCTAssertGreaterThan(after, n)
        XCTAssertNotNil(Memory.residentBytes(pid: getpid()))
        XCTAssertNotNil(Memory.anonymousResidentBytes())
    }
}

final class StandardErrorTests: XCTestCase {
    /// A message on a standard error that cannot take it is lost, and the process goes on.
    func testWriteToAFullDeviceDoesNotTrap() throws {
        let full = open("/dev/full", O_WRONLY | O_CLOEXEC)
        guard full >= 0 else { throw XCTSkip("/dev/full is not available") }
        let saved = dup(2)
        XCTAssertGreaterThanOrEqual(saved, 0)
        dup2(full, 2)
        close(full)
        StandardError.line("this line goes nowhere")
        StandardError.write(String(repeating: "x", count: 100_000))
        dup2(saved, 2)
        close(saved)
        // Standard output on /dev/full: the same.
        let full1 = open("/dev/full", O_WRONLY | O_CLOEXEC)
        let saved1 = dup(1)
        dup2(full1, 1)
        close(full1)
        StandardOutput.line("lost too")
        dup2(saved1, 1)
        close(saved1)
        // Closed standard error: EBADF, also ignored.
        let saved2 = dup(2)
        close(2)
        StandardError.line("nowhere either")
        dup2(saved2, 2)
        close(saved2)
    }
}
