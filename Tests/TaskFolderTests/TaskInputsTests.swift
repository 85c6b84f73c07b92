import Foundation
import Media
import XCTest
@testable import TaskFolder

final class TaskInputsTests: XCTestCase {
    var dir: URL!

    static let rules = """
    {"version": 1,
     "objects": {"ball": {"color": "#c81e1e"}},
     "goal": {"question": "Does the ball reach the corner?",
              "check": {"type": "reach", "object": "ball", "target": {"box": [0.8, 0.8, 1, 1]}}},
     "process": [{"question": "Does the ball stay intact?", "check": {"type": "intact", "object": "ball"}}]}
    """

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-inputs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "Move the yellow ball to the red square.".write(to: dir.appendingPathComponent("prompt.txt"), atomically: true, encoding: .utf8)
        try Self.rules.write(to: dir.appendingPathComponent("rules.json"), atomically: true, encoding: .utf8)
        let image = RGBImage(width: 32, height: 24, fill: (200, 30, 30))
        try Data(JPEG.encode(image)).write(to: dir.appendingPathComponent("first_frame.jpg"))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func testValidFolder() {
        let r = TaskInputs.validate(folder: dir)
        XCTAssertEqual(r.problems, [])
        XCTAssertEqual(r.inputs?.firstFrame.width, 32)
        XCTAssertEqual(r.inputs?.job, JobSettings())
    }

    func testPNGFirstFrame() throws {
        try FileManager.default.removeItem(at: dir.appendingPathComponent("first_frame.jpg"))
        var image = RGBImage(width: 30, height: 20, fill: (240, 240, 240))
        image.pixels[0] = 7
        for y in 5..<12 { for x in 8..<15 { image.pixels[3 * (y * 30 + x)] = 200; image.pixels[3 * (y * 30 + x) + 1] = 30; image.pixels[3 * (y * 30 + x) + 2] = 30 } }
        try Data(PNG.encode(image)).write(to: dir.appendingPathComponent("first_frame.png"))
        let r = TaskInputs.validate(folder: dir)
        XCTAssertEqual(r.problems, [])
        XCTAssertEqual(r.inputs?.firstFrame.pixels, image.pixels, "a PNG first frame is read exactly")
    }

    func testBothFirstFramesOrABadPNGAreErrors() throws {
        let png = dir.appendingPathComponent("first_frame.png")
        try Data(PNG.encode(RGBImage(width: 8, height: 8, fill: (1, 2, 3)))).write(to: png)
        var r = TaskInputs.validate(folder: dir)
        XCTAssertEqual(r.problems, ["both first_frame.jpg and first_frame.png are present: keep exactly one first frame"])
        XCTAssertNil(r.inputs)
        // A JPEG under the PNG's name.
        try FileManager.default.removeItem(at: png)
        try FileManager.default.moveItem(at: dir.appendingPathComponent("first_frame.jpg"), to: png)
        r = TaskInputs.validate(folder: dir)
        XCTAssertEqual(r.problems.count, 1)
        XCTAssertTrue(r.problems[0].hasPrefix("first_frame.png: not a PNG file"), "\(r.problems)")
        try FileManager.default.removeItem(at: png)
        r = TaskInputs.validate(folder: dir)
        XCTAssertEqual(r.problems, ["first_frame.jpg (or first_frame.png) is missing"])
    }

    func testMissingFilesAreEachNamed() throws {
        try FileManager.default.removeItem(at: dir.appendingPathComponent("prompt.txt"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("rules.json"))
        let r = TaskInputs.validate(folder: dir)
        XCTAssertTrue(r.problems.contains("prompt.txt is missing"), "\(r.problems)")
        XCTAssertTrue(r.problems.contains("rules.json is missing"), "\(r.problems)")
        XCTAssertNil(r.inputs)
    }

    func testSymlinkIsRefusedNotFollowed() throws {
        let jpg = dir.appendingPathComponent("first_frame.jpg")
        try FileManager.default.removeItem(at: jpg)
        try FileManager.default.createSymbolicLink(atPath: jpg.path, withDestinationPath: "/etc/passwd")
        let r = TaskInputs.validate(folder: dir)
        XCTAssertTrue(r.problems.contains { $0.contains("first_frame.jpg is a symbolic link") }, "\(r.problems)")
    }

    func testFIFOAndFolderAreRefused() throws {
        let p = dir.appendingPathComponent("prompt.txt")
        try FileManager.default.removeItem(at: p)
        XCTAssertEqual(mkfifo(p.path, 0o644), 0)
        let rules = dir.appendingPathComponent("rules.json")
        try FileManager.default.removeItem(at: rules)
        try FileManager.default.createDirectory(at: rules, withIntermediateDirectories: false)
        let r = TaskInputs.validate(folder: dir)
        XCTAssertTrue(r.problems.contains { $0.contains("prompt.txt is a FIFO") }, "\(r.problems)")
        XCTAssertTrue(r.problems.contains { $0.contains("rules.json is a folder") }, "\(r.problems)")
    }

    func testPromptMustBeUTF8AndNotEmpty() throws {
        let p = dir.appendingPathComponent("prompt.txt")
        try Data([0x66, 0xFF, 0xFE, 0x00]).write(to: p)
        XCTAssertTrue(TaskInputs.validate(folder: dir).problems.contains("prompt.txt is not valid UTF-8 text"))
        try Data("  \n".utf8).write(to: p)
        XCTAssertTrue(TaskInputs.validate(folder: dir).problems.contains { $0.hasPrefix("prompt.txt is empty") })
    }

    func testZeroByteAndHugeJPEG() throws {
        let jpg = dir.appendingPathComponent("first_frame.jpg")
        try Data().write(to: jpg)
        XCTAssertTrue(TaskInputs.validate(folder: dir).problems.contains { $0.contains("empty") })
        // A valid JPEG whose SOF claims 30000 x 30000 is refused from the header alone.
        var bytes = try JPEG.encode(RGBImage(width: 8, height: 8, fill: (1, 2, 3)))
        let sof = (0..<bytes.count - 1).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 }!
        bytes[sof + 5] = 0x75; bytes[sof + 6] = 0x30; bytes[sof + 7] = 0x75; bytes[sof + 8] = 0x30
        try Data(bytes).write(to: jpg)
        let r = TaskInputs.validate(folder: dir)
        XCTAssertTrue(r.problems.contains { $0.contains("30000 x 30000") }, "\(r.problems)")
    }

    func testJobJSONUnknownKeyAndRanges() throws {
        let job = dir.appendingPathComponent("job.json")
        try #"{"strategy": "teacher-lora", "seed": 7, "max_step": 3, "rank": 0, "learning_rate": -1, "stop_loss": "x"}"#
            .write(to: job, atomically: true, encoding: .utf8)
        let p = TaskInputs.validate(folder: dir).problems.joined(separator: "\n")
        XCTAssertTrue(p.contains("job.json: max_step: unknown key"), p)
        XCTAssertTrue(p.contains("job.json: rank: must be a whole number from 1 to 256"), p)
        XCTAssertTrue(p.contains("job.json: learning_rate: must be above 0"), p)
        XCTAssertTrue(p.contains("job.json: stop_loss: must be a number"), p)
        try #"{"restarts": 0}"#.write(to: job, atomically: true, encoding: .utf8)
        XCTAssertEqual(TaskInputs.validate(folder: dir).problems, ["job.json: restarts: must be a whole number from 1 to 64, got 0"])
        try #"{"strategy": "best-of-n", "seed": 7, "samples": 3, "restarts": 2}"#.write(to: job, atomically: true, encoding: .utf8)
        let ok = TaskInputs.validate(folder: dir)
        XCTAssertEqual(ok.inputs?.job.restarts, 2)
        XCTAssertEqual(ok.problems, [])
        XCTAssertEqual(ok.inputs?.job.strategy, .bestOfN)
        XCTAssertEqual(ok.inputs?.job.samples, 3)
        XCTAssertEqual(ok.inputs?.job.seed, 7)
        try #"{"strategy": "magic"}"#.write(to: job, atomically: true, encoding: .utf8)
        XCTAssertTrue(TaskInputs.validate(folder: dir).problems.contains { $0.hasPrefix("job.json: strategy: must be one of") })
    }

    /// job.json is read as strictly as rules.json: no trailing comma, UTF-8 only, each key once.
    func testJobJSONIsStrict() throws {
        let job = dir.appendingPathComponent("job.json")
        func problems(_ bytes: [UInt8]) throws -> [String] {
            try Data(bytes).write(to: job)
            return TaskInputs.validate(folder: dir).problems
        }
        let twice = try problems(Array(#"{"seed": 1, "seed": 2}"#.utf8))
        XCTAssertEqual(twice.count, 1, "\(twice)")
        XCTAssertTrue(twice[0].hasPrefix("job.json: seed: appears twice"), "\(twice)")
        let comma = try problems(Array("{\"seed\": 1,\n}".utf8))
        XCTAssertEqual(comma, ["job.json: not valid JSON (line 2, column 1: a trailing comma before '}'; remove it)"])
        let utf16 = try problems([0xFF, 0xFE] + Array(#"{"seed": 1}"#.utf8).flatMap { [$0, 0] })
        XCTAssertTrue(utf16.first?.contains("UTF-16") == true && utf16.first?.contains("save it as UTF-8") == true, "\(utf16)")
        let utf16NoMark = try problems(Array(#"{"seed": 1}"#.utf8).flatMap { [$0, 0] })
        XCTAssertTrue(utf16NoMark.first?.contains("save it as UTF-8") == true, "\(utf16NoMark)")
        XCTAssertEqual(try problems(Array("[1]".utf8)), ["job.json: must be a JSON object, not an array"])
    }

    /// The seed's range in the message is the range the check accepts.
    func testSeedRangeMessageAgreesWithTheCheck() throws {
        let top = JobSettings.maxSeed
        XCTAssertEqual(top, 9_007_199_254_740_991)
        let (ok, none) = JobSettings.parse(Array("{\"seed\": \(top)}".utf8))
        XCTAssertEqual(none, [])
        XCTAssertEqual(ok.seed, top, "the largest seed is kept exactly")
        XCTAssertEqual(JobSettings.parse(Array(#"{"seed": 7.0}"#.utf8)).0.seed, 7)
        for bad in ["\(top + 1)", "-1", "0.5", "1e300", "\"7\""] {
            let (_, p) = JobSettings.parse(Array("{\"seed\": \(bad)}".utf8))
            XCTAssertEqual(p.count, 1, bad)
            let message = p.first?.description ?? ""
            if bad.hasPrefix("\"") { XCTAssertEqual(message, "job.json: seed: must be a number, not a string"); continue }
            XCTAssertTrue(message.hasPrefix("job.json: seed: must be a whole number from 0 to \(top) (2^53 - 1), got "), message)
        }
    }

    func testTooManyEntries() throws {
        let extra = dir.appendingPathComponent("extra")
        try FileManager.default.createDirectory(at: extra, withIntermediateDirectories: true)
        for i in 0..<(TaskInputs.maxEntries + 1) {
            _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("x\(i)").path, contents: nil)
        }
        XCTAssertTrue(TaskInputs.validate(folder: dir).problems.contains { $0.contains("more than the limit") })
    }
}

final class RuleCheckTests: XCTestCase {
    func testRuleProblemsNameTheirPath() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "Move the ball.".write(to: dir.appendingPathComponent("prompt.txt"), atomically: true, encoding: .utf8)
        try Data(JPEG.encode(RGBImage(width: 16, height: 16, fill: (200, 30, 30)))).write(to: dir.appendingPathComponent("first_frame.jpg"))
        let bad = TaskInputsTests.rules.replacingOccurrences(of: #""type": "intact""#, with: #""type": "intact", "area_tolerance": "wide""#)
        try bad.write(to: dir.appendingPathComponent("rules.json"), atomically: true, encoding: .utf8)
        let r = TaskInputs.validate(folder: dir)
        XCTAssertTrue(r.problems.contains { $0.contains("process[0].check.area_tolerance") }, "\(r.problems)")
    }

    func testJobSlurmObjectIsCheckedKeyByKey() {
        let (ok, none) = JobSettings.parse(Array(#"{"slurm": {"cpus": 4, "memory_mb": 2000, "time_minutes": 30, "partition": "long", "account": "lab-1"}}"#.utf8))
        XCTAssertEqual(none, [])
        XCTAssertEqual(ok.slurm.cpus, 4)
        XCTAssertEqual(ok.slurm.partition, "long")
        let (_, problems) = JobSettings.parse(Array(#"{"slurm": {"cpus": 0, "gpus": 1, "partition": "a b"}}"#.utf8))
        XCTAssertEqual(Set(problems.map(\.key)), ["slurm.cpus", "slurm.gpus", "slurm.partition"])
        let (_, notObject) = JobSettings.parse(Array(#"{"slurm": 3}"#.utf8))
        XCTAssertEqual(notObject.map(\.key), ["slurm"])
    }
}
