import Basics
@testable import Adaptation
import Foundation
import Engine
import Media
import Reasoner
import TaskFolder
import Tasks
import Teacher
import XCTest

final class StrategyTests: XCTestCase {
    /// A held-out task with its scene and rules, as `tutor run` builds them (first frame through JPEG).
    func task(_ family: Family, _ seed: UInt64, tokenizer: PromptTokenizer) throws -> (Scene, RuleFile, RGBImage) {
        let t = Families.generate(family: family, seed: seed)
        let first = try JPEG.decode(JPEG.encode(t.firstFrame, quality: 95, subsample444: true))
        return (Scene(prompt: t.prompt, firstFrame: first, tokenizer: tokenizer), try RuleFile.parse(Array(t.rulesJSON.utf8)), first)
    }

    /// On a task the base video fails, teacher-guided adaptation lowers the teacher's loss, the
    /// step losses are recorded, only the LoRA changes, and the cost counts every pass.
    func testTeacherLoRALowersTheLossWhereTheBaseMisses() throws {
        let r = Reasoner.makeTinyRandom()
        let baseWeights = r.store.array("final.head.weight")
        let (scene, rules, first) = try task(.obstacles, 1_000_002, tokenizer: r.tokenizer)
        var job = JobSettings()
        job.strategy = .teacherLoRA
        job.maxSteps = 6
        job.stopLoss = 0          // never stop early: measure the descent
        job.learningRate = 3e-2
        job.rank = 4
        job.alpha = 4
        job.sampleSteps = 2
        for gradient in GradientPath.allCases {
            var settings = StrategySettings(job: job, gradient: gradient)
            settings.staticPrior = false  // the teacher's loss alone
            let runner = StrategyRunner(reasoner: r, scene: scene, rules: rules, firstFrame: first, settings: settings)
            var steps = 0
            runner.progress = { if case .step = $0 { steps += 1 } }
            let result = runner.run()
            XCTAssertFalse(result.base.passed, "the tiny random model should miss this task")
            let o = try XCTUnwrap(result.optimization)
            XCTAssertEqual(o.losses.count, 6)
            XCTAssertEqual(o.steps, 6)
            XCTAssertEqual(steps, 6)
            XCTAssertEqual(o.stopped, "budget")
            XCTAssertLessThan(o.losses.last!, o.losses.first!, "\(gradient): losses \(o.losses)")
            for k in 1..<o.losses.count {
                XCTAssertLessThanOrEqual(o.losses[k], o.losses[k - 1] + 1e-4, "\(gradient): every step descends: \(o.losses)")
            }
            XCTAssertNotNil(result.adapter)
            // base video 2 + per step (forward g + backward 2g) + final video 2
            let g = gradient == .oneStep ? 1 : 2
            XCTAssertEqual(result.evaluations, 2 + 6 * 3 * g + 2)
            r.detachLoRA()
        }
        XCTAssertEqual(r.store.array("final.head.weight"), baseWeights, "the base model is frozen")
    }

    /// best-of-n keeps a passing video over a failing one, then the lowest loss; its first
    /// sample is the base strategy's video (same noise).
    func testBestOfNKeepsTheBestAndStartsFromTheBaseNoise() throws {
        let r = Reasoner.makeTinyRandom(seed: 5)
        let (scene, rules, first) = try task(.align, 1_000_004, tokenizer: r.tokenizer)
        var job = JobSettings()
        job.sampleSteps = 2
        job.strategy = .base
        let base = StrategyRunner(reasoner: r, scene: scene, rules: rules, firstFrame: first, settings: StrategySettings(job: job)).run()
        job.strategy = .bestOfN
        job.samples = 5
        let best = StrategyRunner(reasoner: r, scene: scene, rules: rules, firstFrame: first, settings: StrategySettings(job: job)).run()
        XCTAssertEqual(best.samples.count, 5)
        XCTAssertEqual(best.samples[0].loss, base.final.loss)
        XCTAssertEqual(best.base.video, base.final.video)
        XCTAssertEqual(best.evaluations, 5 * 2)
        let kept = best.samples.min { a, b in a.passed != b.passed ? a.passed : a.loss < b.loss }!
        XCTAssertEqual(best.final.loss, kept.loss)
        XCTAssertNil(best.adapter)
        XCTAssertNil(best.optimization)
    }

    /// The default strategy spends its `samples` budget only until a batch holds a passing video
    /// (the shipped model passes this order task from its first noises); a task no sample passes
    /// gets every sample; best-of-n always samples `samples`.
    func testSampleThenAdaptStopsSamplingAfterAPassingBatch() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shipped = try Reasoner.load(from: root.appendingPathComponent("models/reasoner").path)
        var job = JobSettings()
        job.samples = 40
        let (scene, rules, first) = try task(.order, 1_000_001, tokenizer: shipped.tokenizer)
        job.strategy = .sampleThenAdapt
        let easy = StrategyRunner(reasoner: shipped, scene: scene, rules: rules, firstFrame: first, settings: StrategySettings(job: job)).run()
        XCTAssertTrue(easy.final.passed)
        XCTAssertEqual(easy.samples.count, 8, "one batch of 8, one of which passed")
        XCTAssertEqual(easy.evaluations, 8 * job.sampleSteps)
        XCTAssertNil(easy.optimization)
        job.strategy = .bestOfN
        let all = StrategyRunner(reasoner: shipped, scene: scene, rules: rules, firstFrame: first, settings: StrategySettings(job: job)).run()
        XCTAssertEqual(all.samples.count, 40)

        let tiny = Reasoner.makeTinyRandom()
        let (s2, r2, f2) = try task(.obstacles, 1_000_002, tokenizer: tiny.tokenizer)
        job.strategy = .sampleThenAdapt
        job.samples = 12
        job.maxSteps = 0
        job.sampleSteps = 2
        let hard = StrategyRunner(reasoner: tiny, scene: s2, rules: r2, firstFrame: f2, settings: StrategySettings(job: job)).run()
        XCTAssertFalse(hard.final.passed)
        XCTAssertEqual(hard.samples.count, 12)
    }

    /// The static prior finds the walls' layer of a maze (and nothing else), and its gradient
    /// matches finite differences.
    func testStaticPriorPullsTheWallsLayerBack() throws {
        let r = Reasoner.makeTinyRandom()
        let (scene, rules, first) = try task(.maze, 1_000_005, tokenizer: r.tokenizer)
        let runner = StrategyRunner(reasoner: r, scene: scene, rules: rules, firstFrame: first, settings: StrategySettings(job: JobSettings()))
        let walls = try XCTUnwrap(rules.object(named: "walls"))
        XCTAssertFalse(runner.staticLayers.isEmpty)
        for (l, c) in runner.staticLayers {
            let d = scene.layered.layers[l].color * 255 - walls.color
            XCTAssertLessThanOrEqual((d * d).sum().squareRoot(), walls.tolerance)
            XCTAssertEqual(c, (1 - rules.lambda) / Float(rules.process.count), accuracy: 1e-6)
        }
        var traj = Trajectory.zero
        var g = SplitMix64(seed: 9)
        for i in 0..<Trajectory.count { traj.offsets[i] = g.normal() * 3 }
        var grad = [Float](repeating: 0, count: Trajectory.count)
        let loss = runner.staticPrior(traj, &grad)
        XCTAssertGreaterThan(loss, 0)
        let l = runner.staticLayers[0].layer
        for i in [(l * Trajectory.frames + 3) * 2, (l * Trajectory.frames + 9) * 2 + 1] {
            var plus = traj, minus = traj
            plus.offsets[i] += 1e-2; minus.offsets[i] -= 1e-2
            var scratch = grad
            let fd = (runner.staticPrior(plus, &scratch) - runner.staticPrior(minus, &scratch)) / 2e-2
            XCTAssertEqual(grad[i], fd, accuracy: 1e-2 * max(1, abs(fd)))
        }
        XCTAssertEqual(runner.staticPrior(Trajectory.zero, &grad), 0)
    }

    func testSHA256KnownDigests() {
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var d = SHA256()
        let a = [UInt8](repeating: 0x61, count: 1000)
        for _ in 0..<1000 { d.update(a) }
        XCTAssertEqual(d.finish(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testModelLocationOrder() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-model-\(getpid())")
        let model = tmp.appendingPathComponent("models/reasoner")
        try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: tmp.appendingPathComponent(".build/release"), withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: model.appendingPathComponent("config.json"))
        defer { try? FileManager.default.removeItem(at: tmp) }
        let exe = tmp.appendingPathComponent(".build/release/tutor").path
        XCTAssertEqual(try ModelLocation.resolve(option: "/x", environment: ["TUTOR_MODEL": "/y"], executable: exe).path, "/x")
        XCTAssertEqual(try ModelLocation.resolve(option: nil, environment: ["TUTOR_MODEL": "/y"], executable: exe).path, "/y")
        XCTAssertEqual(try ModelLocation.resolve(option: nil, environment: [:], executable: exe).path, model.path)
        XCTAssertThrowsError(try ModelLocation.resolve(option: nil, environment: [:], executable: "/nonexistent/bin/tutor")) {
            XCTAssertTrue("\($0)".contains("TUTOR_MODEL"))
        }
    }
}

final class StrategyBenchTests: XCTestCase {
    /// The bench's outcomes are in task order and do not depend on how many tasks run at once;
    /// sample-then-adapt adapts only where no sample passed, and costs what its parts cost.
    func testBenchIsIndependentOfSchedulingAndCountsCost() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-bench-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        try Reasoner.makeTinyRandom().saveCheckpoint(to: dir.path)
        var tasks: [BenchTask] = []
        for (f, seed) in [(Family.order, UInt64(1_000_001)), (.maze, 1_000_002), (.align, 1_000_003)] {
            let t = Families.generate(family: f, seed: seed)
            let first = try JPEG.decode(JPEG.encode(t.firstFrame, quality: 95, subsample444: true))
            var job = JobSettings()
            job.seed = seed
            tasks.append(BenchTask(family: f.rawValue, name: "\(f)-\(seed)", prompt: t.prompt,
                                   rules: try RuleFile.parse(Array(t.rulesJSON.utf8)), firstFrame: first, job: job))
        }
        func bench(_ jobs: Int) -> StrategyBench {
            StrategyBench(modelDirectory: dir, jobs: jobs) { s in
                s.maxSteps = 2; s.samples = 2; s.sampleSteps = 2; s.rank = 2; s.restarts = 1
            }
        }
        var seen = 0
        let one = try bench(1).run(.sampleThenAdapt, on: tasks) { _, _ in seen += 1 }
        let two = try bench(2).run(.sampleThenAdapt, on: tasks) { _, _ in }
        XCTAssertEqual(seen, 3)
        XCTAssertEqual(one.map(\.passed), two.map(\.passed))
        XCTAssertEqual(one.map(\.evaluations), two.map(\.evaluations))
        XCTAssertEqual(one.map(\.failedTypes), two.map(\.failedTypes))
        for o in one {
            // 2 samples of 2 steps; then, where none passed, 2 all-steps updates (2 + 4 each),
            // their final video checked for free, and the final video (2).
            XCTAssertEqual(o.evaluations, o.steps == 0 ? 4 : 4 + 2 * 6 + 2, "\(o)")
        }
    }
}
