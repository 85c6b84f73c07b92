import Foundation
import XCTest

/// `tutor train --tasks` as a user runs it: a training folder written by `make-task --layout
/// training`, with an unusable example, fine-tuned into a model folder `tutor run` takes.
extension RunTests {
    func testTrainOnATrainingFolderThenRunWithTheResult() throws {
        let train = root.appendingPathComponent("train")
        var r = try run(["make-task", "align", "--seed", "10", "--count", "10", "--layout", "training", "--final-only", "--png", "--out", train.path])
        XCTAssertEqual(r.status, 0, r.output)
        r = try run(["make-task", "order", "--seed", "3", "--count", "2", "--layout", "training", "--out", train.path])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: train.appendingPathComponent("order-4/frames/15.jpg").path))
        try FileManager.default.createDirectory(at: train.appendingPathComponent("broken"), withIntermediateDirectories: true)
        let out = root.appendingPathComponent("ft")
        r = try run(["train", "--tasks", train.path, "--init", try tinyModel(), "--out", out.path, "--steps", "3", "--batch", "2",
                     "--reflow-steps", "1", "--reflow-pairs", "2", "--held-out", "30", "--eval-count", "3", "--judge-count", "1", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("10 interpolated from a final frame alone, 1 unusable"), r.output)
        XCTAssertTrue(r.output.contains("broken: no first_frame.png or first_frame.jpg"), r.output)
        XCTAssertTrue(r.output.contains("before: final position error"), r.output)
        XCTAssertTrue(r.output.contains("after:  final position error"), r.output)
        let card = try String(contentsOf: out.appendingPathComponent("MODEL_CARD.md"), encoding: .utf8)
        XCTAssertTrue(card.contains("| after |"), card)
        // The result is a model folder as it is.
        let task = try makeTask("task", family: "align", seed: 1_000_001, job: #"{"strategy": "base"}"#)
        r = try run(["run", task.path, "--model", out.path, "--quiet"])
        XCTAssertTrue(r.status == 0 || r.status == 1, r.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: task.appendingPathComponent("verdict.json").path))
    }

    func testATrainingFolderWithNothingUsableIsAnError() throws {
        let train = root.appendingPathComponent("train")
        for name in ["a", "b"] { try FileManager.default.createDirectory(at: train.appendingPathComponent(name), withIntermediateDirectories: true) }
        let r = try run(["train", "--tasks", train.path, "--init", try tinyModel(), "--out", root.appendingPathComponent("ft").path])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("yields no usable example: 2 entries (2 no first frame)"), r.output)
    }
}
