@testable import Adaptation
import System
import Foundation
import XCTest

final class TaskRunTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-taskrun-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The verdict's name is the one the command gives (the spool's), else the folder's.
    func testTheTasksNameComesFromTheCaller() throws {
        XCTAssertEqual(TaskRun(folder: dir).name, dir.lastPathComponent)
        let run = TaskRun(folder: dir, name: "from-the-spool", quiet: true)
        let v = try XCTUnwrap(run.finish(.failure(.invalidInput, "prompt.txt is missing"), nil, Outputs(folder: dir), 0))
        XCTAssertEqual(v.task, "from-the-spool")
        let written = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("verdict.json"))) as? [String: Any])
        XCTAssertEqual(written["task"] as? String, "from-the-spool")
        XCTAssertEqual((written["error"] as? [String: Any])?["code"] as? String, "invalid-input")
    }

    /// A verdict that cannot be written (here verdict.json became a folder during the run) is
    /// no verdict: `run` would return nil, and `tutor run` exits non-zero.
    func testAVerdictThatCannotBeWrittenIsNoVerdict() throws {
        let run = TaskRun(folder: dir, quiet: true)
        XCTAssertNil(TaskRun.folderProblem(dir))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("verdict.json"), withIntermediateDirectories: false)
        XCTAssertNil(run.finish(.failure(.invalidInput, "x"), nil, Outputs(folder: dir), 0))
        XCTAssertEqual(run.verdictWrite.failure?.isDiskFull, false)
        XCTAssertEqual(TaskRun.folderProblem(dir),
                       "cannot write \(dir.path)/verdict.json: it is a folder; tutor writes the task's verdict under that name: move it away, then run the task again")
        XCTAssertEqual(TaskRun.folderProblem(dir.appendingPathComponent("nothing")), "\(dir.path)/nothing does not exist: give the task folder")
    }

    /// Foundation's file errors reach the user as the errno's plain words.
    func testFoundationErrorsAreToldInPlainWords() {
        XCTAssertEqual(ErrorText.describe(CocoaError(.fileWriteOutOfSpace)), "the disk is full: free some space")
        let denied = NSError(domain: NSCocoaErrorDomain, code: 513,
                             userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(EACCES))])
        XCTAssertTrue(ErrorText.describe(denied).hasPrefix("permission denied for this user (uid \(getuid()))"))
        XCTAssertEqual(ErrorText.describe(POSIXError(.EISDIR)), "it is a folder, not a file")
        XCTAssertFalse(ErrorText.describe(NSError(domain: NSCocoaErrorDomain, code: 256)).contains("Error Domain"))
    }
}
