import Basics
import Engine
import Foundation
import Media
import Reasoner
import Tasks
@testable import Training
import TestSupport
import XCTest

/// Training examples from the generated families, and the trainer's loss on a tiny model.
final class TrainerTests: XCTestCase {
    func testTrainingExamplesFromGeneratedTasks() {
        let cfg = ReasonerConfig.tiny
        // slots: identical pieces share one colour and one colour layer (see GeneratedTaskTests).
        for family in Family.allCases where family != .slots {
            let task = Families.generate(family: family, seed: 11)
            guard let e = TrainingExample(task: task, config: cfg) else { return XCTFail("\(family): no example") }
            // Movers weigh more than static layers; padding weighs nothing.
            XCTAssertTrue(e.weight.contains(TrainingExample.moverWeight), "\(family)")
            XCTAssertEqual(e.weight.last, 0)
            XCTAssertTrue(e.scene.tokens.count > 5)
        }
    }

    /// The shipped recipe trains on the canonical look of the four first families and writes no
    /// `looks` key (so its state.json is what it was); `--look varied --look canonical` is
    /// saved and read back, and its training tasks are the varied drawings.
    func testTheRecipeKeepsTheCanonicalLookAndVariedIsSaved() throws {
        let recipe = TrainingRun.Options()
        XCTAssertEqual(recipe.families, Family.original)
        XCTAssertNil(recipe.looks)
        let json = String(decoding: try JSONEncoder().encode(recipe), as: UTF8.self)
        XCTAssertFalse(json.contains("\"looks\""), json)
        var varied = recipe
        varied.looks = [.varied, .canonical]
        let back = try JSONDecoder().decode(TrainingRun.Options.self, from: JSONEncoder().encode(varied))
        XCTAssertEqual(back.looks, [.varied, .canonical])
        let a = Families.generate(family: .maze, seed: 4, look: .varied), b = Families.generate(family: .maze, seed: 4)
        XCTAssertNotEqual(a.prompt + a.rulesJSON, b.prompt + b.rulesJSON)
        XCTAssertNotNil(TrainingExample(task: a, config: .tiny), "a varied maze makes a training example")
    }

    func testTinyModelTrainingLossFalls() {
        let r = Reasoner.makeTiny(seed: 17)
        let scenes = [smallScene(), smallScene(bx: 40, by: 50, prompt: "Move the yellow ball up.")]
        // Targets: the ball moves right in the first, up in the second.
        var examples: [TrainingExample] = []
        for (k, s) in scenes.enumerated() {
            var t = [Float](repeating: 0, count: Trajectory.count)
            let ball = s.layered.layers.firstIndex { $0.color.x > 0.9 && $0.color.y > 0.6 }!
            for f in 0..<Trajectory.frames {
                t[(ball * Trajectory.frames + f) * 2 + k] = (k == 0 ? 1 : -1) * Float(f) * 2 / r.config.trajectoryScale
            }
            examples.append(TrainingExample(scene: s, target: t))
        }
        let trainer = Trainer(r, batch: 2, learningRate: 3e-3, warmupSteps: 5, totalSteps: 50)
        // The same draws of t and noise before and after.
        func evalLoss() -> Float {
            var rng = SplitMix64(seed: 1)
            return (0..<4).map { _ in trainer.loss(examples, rng: &rng) }.reduce(0, +) / 4
        }
        let before = evalLoss()
        for s in 0..<50 {
            var rng = Trainer.rng(seed: 3, step: s)
            trainer.step(examples, stepIndex: s, rng: &rng)
        }
        let after = evalLoss()
        XCTAssertLessThan(after, before * 0.85, "loss \(before) -> \(after)")
    }
}

final class TrainingRunTests: XCTestCase {
    /// A run small enough for a test: a tiny model on 2 tasks per family.
    func tinyRun(steps: Int, reflowSteps: Int) -> TrainingRun.Options {
        Threads.set(1)
        var o = TrainingRun.Options()
        o.width = 32; o.depth = 1; o.heads = 2; o.mlpRatio = 2
        o.tasksPerFamily = 2; o.steps = steps; o.batch = 2; o.warmupSteps = 2
        o.reflowSteps = reflowSteps; o.reflowPairs = 4; o.reflowSampleSteps = 2
        return o
    }

    /// A loss log that cannot be written (here the run folder's loss.csv leads to /dev/full,
    /// which answers every write with ENOSPC, as a full disk does) ends the run with an error
    /// naming the file, not a trap.
    func testALossLogThatCannotBeWrittenEndsTheRunWithAnError() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-fulllog-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/loss.csv", withDestinationPath: "/dev/full")
        let run = try TrainingRun(folder: root, options: tinyRun(steps: 2, reflowSteps: 0), resume: false)
        run.log = { _ in }
        XCTAssertThrowsError(try run.run()) { error in
            XCTAssertTrue("\(error)".contains("loss.csv"), "\(error)")
            XCTAssertTrue("\(error)".contains("No space left"), "\(error)")
        }
    }

    /// A run stopped twice (once in the base phase, once in reflow) and resumed each time ends
    /// with the same bytes as the same run done in one go: weights, base weights, moments, and
    /// the loss log, even when the stopped process logged steps after its last checkpoint.
    func testResumedRunEqualsUninterruptedRun() throws {
        let o = tinyRun(steps: 6, reflowSteps: 4)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-resume-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let quiet: (String) -> Void = { _ in }

        let whole = try TrainingRun(folder: root + "/whole", options: o, resume: false)
        whole.log = quiet
        XCTAssertTrue(try whole.run())

        var finished = false, parts = 0
        while !finished {
            let part = try TrainingRun(folder: root + "/parts", options: o, resume: parts > 0)
            part.log = quiet
            part.stopAfterSteps = 4
            finished = try part.run()
            parts += 1
            XCTAssertLessThan(parts, 5)
            if parts == 1 {
                // A process that dies between checkpoints has logged steps the resumption redoes.
                let log = try FileHandle(forWritingTo: URL(fileURLWithPath: root + "/parts/loss.csv"))
                log.seekToEndOfFile()
                log.write(Data("base,5,9,9,9,9\nbase,6,9,9,9,9\n".utf8))
                try log.close()
            }
        }
        XCTAssertEqual(parts, 3)   // base 4 | base 2 + reflow 2 | reflow 2
        // The log holds each step once, with the uninterrupted run's values (all but the clock).
        func steps(_ run: String) throws -> [String] {
            try String(contentsOfFile: root + "/\(run)/loss.csv", encoding: .utf8).split(separator: "\n")
                .map { $0.split(separator: ",").prefix(5).joined(separator: ",") }
        }
        XCTAssertEqual(try steps("parts"), try steps("whole"))
        XCTAssertEqual(try steps("whole").count, 1 + 6 + 4)
        for file in ["model.safetensors", "base/model.safetensors", "optimizer.safetensors"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: root + "/whole/" + file))
            let b = try Data(contentsOf: URL(fileURLWithPath: root + "/parts/" + file))
            XCTAssertEqual(a, b, file)
        }
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/parts/state.json"))) as? [String: Any]
        XCTAssertEqual(state?["phase"] as? String, "done")
    }

    /// `--family-tasks maze=5`: mazes get their own count in every look (look n from seed
    /// n x 5), the others keep `tasksPerFamily`, and the map survives state.json.
    func testFamilyTasksWeightsOneFamily() throws {
        var o = tinyRun(steps: 1, reflowSteps: 0)
        o.families = [.maze, .obstacles]
        o.looks = [.varied, .canonical]
        o.familyTasks = ["maze": 5]
        XCTAssertEqual(o.tasksCount(of: .maze), 5)
        XCTAssertEqual(o.tasksCount(of: .obstacles), 2)
        let back = try JSONDecoder().decode(TrainingRun.Options.self, from: JSONEncoder().encode(o))
        XCTAssertEqual(back.familyTasks, ["maze": 5])
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-familytasks-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let run = try TrainingRun(folder: root, options: o, resume: false)
        run.log = { _ in }
        run.prepareData()
        XCTAssertEqual(run.exampleCount, 2 * (5 + 2))
        // the canonical look's mazes are seeds 5 ..< 10
        let fifth = try XCTUnwrap(TrainingExample(task: Families.generate(family: .maze, seed: 5, look: .canonical),
                                                  config: run.reasoner.config))
        XCTAssertEqual(run.example(7).target, fifth.target)
    }

    /// `tutor train --resume --steps N`: a resumed run's base phase gets another length, the
    /// learning rate follows the new schedule from there, and a length not past the steps done,
    /// or a base phase already over, is refused.
    func testResumeWithAnotherBaseLength() throws {
        let o = tinyRun(steps: 8, reflowSteps: 2)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-relength-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let first = try TrainingRun(folder: root, options: o, resume: false)
        first.log = { _ in }
        first.stopAfterSteps = 4
        XCTAssertFalse(try first.run())
        let again = try TrainingRun(folder: root, options: o, resume: true)
        again.log = { _ in }
        XCTAssertThrowsError(try again.setBaseSteps(4))
        try again.setBaseSteps(6)
        XCTAssertEqual(again.trainer.learningRate(at: 6), again.trainer.peakLearningRate * 0.1, accuracy: 1e-9)
        XCTAssertTrue(try again.run())
        let rows = try String(contentsOfFile: root + "/loss.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.filter { $0.hasPrefix("base,") }.count, 6)
        XCTAssertThrowsError(try again.setBaseSteps(10), "the base phase is over")
    }

    /// `tutor train --init BASE --steps 0`: reflow alone, from a finished base phase, gives the
    /// same model as the reflow phase of the whole run, so reflow settings can be measured
    /// without retraining the base.
    func testReflowAloneFromABaseEqualsTheWholeRun() throws {
        let o = tinyRun(steps: 4, reflowSteps: 3)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-reflow-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let whole = try TrainingRun(folder: root + "/whole", options: o, resume: false)
        whole.log = { _ in }
        XCTAssertTrue(try whole.run())

        var r = o
        r.steps = 0; r.initFrom = root + "/whole/base"
        let alone = try TrainingRun(folder: root + "/alone", options: r, resume: false)
        alone.log = { _ in }
        XCTAssertTrue(try alone.run())
        for file in ["base/model.safetensors", "model.safetensors"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: root + "/whole/" + file))
            let b = try Data(contentsOf: URL(fileURLWithPath: root + "/alone/" + file))
            XCTAssertEqual(a, b, file)
        }
        // And the reflow did change the weights.
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: root + "/alone/model.safetensors")),
                          try Data(contentsOf: URL(fileURLWithPath: root + "/alone/base/model.safetensors")))
    }
}

