import Basics
import Engine
import Foundation
import Media
import ModelFiles
@testable import Reasoner
import TestSupport
import XCTest

private func tempDir(_ name: String) -> String {
    let p = NSTemporaryDirectory() + "tutor-reasoner-tests-\(getpid())-\(name)"
    try? FileManager.default.removeItem(atPath: p)
    try! FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

final class ModelTests: XCTestCase {
    func testSamplingIsDeterministicAndNoiseDependent() {
        let r = Reasoner.makeTiny(seed: 5)
        // Give the head weights so that the output depends on the input.
        let head = r.store.value("final.head.weight")
        var rng = SplitMix64(seed: 9)
        for i in 0..<r.store.entry("final.head.weight")!.count { head[i] = rng.normal() * 0.1 }
        let scene = smallScene()
        XCTAssertEqual(scene.layerCount, 3)
        let a = r.sample(scene, noise: Reasoner.noise(seed: 1), steps: 4)
        let b = r.sample(scene, noise: Reasoner.noise(seed: 1), steps: 4)
        let c = r.sample(scene, noise: Reasoner.noise(seed: 2), steps: 4)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(Reasoner.noise(seed: 3), Reasoner.noise(seed: 3))
        // Frame 0 and padding slots are zero.
        XCTAssertEqual(a.offset(layer: 1, frame: 0), .zero)
        XCTAssertTrue(a.offsets[(3 * Trajectory.frames * 2)...].allSatisfy { $0 == 0 })
        XCTAssertTrue(a.offsets.contains { $0 != 0 })
        // A batch gives what single samples give.
        let batch = r.sample([scene, smallScene(bx: 40)], noises: [Reasoner.noise(seed: 1), Reasoner.noise(seed: 4)], steps: 4)
        for i in 0..<Trajectory.count { XCTAssertEqual(batch[0].offsets[i], a.offsets[i], accuracy: 1e-4) }
    }

    func testCheckpointRoundTrip() throws {
        let r = Reasoner.makeTiny(seed: 7)
        let dir = tempDir("ckpt")
        try r.saveCheckpoint(to: dir)
        let back = try Reasoner.load(from: dir)
        XCTAssertEqual(back.config, r.config)
        for e in r.store.entries { XCTAssertEqual(back.store.array(e.name), r.store.array(e.name), e.name) }
        // Python's safetensors layout: names are the parameter table's.
        let file = try SafetensorsFile(path: dir + "/model.safetensors")
        XCTAssertNotNil(file.info("blocks.0.attn.q.weight"))
        XCTAssertNotNil(file.info("final.head.weight"))
        // A checkpoint trained with fewer layer slots (the shipped one has 16) runs with this
        // build's; one with more than this build renders is refused.
        let text = try String(contentsOfFile: dir + "/config.json", encoding: .utf8)
        let fewer = text.replacingOccurrences(of: "\"max_layers\" : \(Trajectory.maxLayers)", with: "\"max_layers\" : 16")
        XCTAssertNotEqual(fewer, text)
        try fewer.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(try Reasoner.load(from: dir).config.maxLayers, Trajectory.maxLayers)
        try text.replacingOccurrences(of: "\"max_layers\" : \(Trajectory.maxLayers)", with: "\"max_layers\" : 99")
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Reasoner.load(from: dir)) { XCTAssertTrue("\($0)".contains("up to \(Trajectory.maxLayers) layers"), "\($0)") }
        // A damaged config names the problem.
        try "{\"width\": 33}".write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Reasoner.load(from: dir)) { XCTAssertTrue("\($0)".contains("config.json")) }
        XCTAssertThrowsError(try Reasoner.load(from: dir + "/nothing")) { XCTAssertTrue("\($0)".contains("tutor train")) }
    }

    /// config.json's values are checked against their ranges before any size is computed from
    /// them: the values that once asked for 52 GB, overflowed or ran for minutes are refused,
    /// each naming its key; a file that is not an object says what it should be.
    func testConfigValuesOutOfRangeAreRefusedBeforeAnythingIsAllocated() throws {
        let good = Array(try JSONEncoder().encode(ReasonerConfig.standard))
        XCTAssertEqual(try ReasonerConfig.parse(good), .standard)
        func with(_ key: String, _ value: String) -> [UInt8] {
            var o = try! JSONSerialization.jsonObject(with: Data(good)) as! [String: Any]
            o[key] = "@@"
            let s = String(decoding: try! JSONSerialization.data(withJSONObject: o), as: UTF8.self)
            return Array(s.replacingOccurrences(of: "\"@@\"", with: value).utf8)
        }
        let cases: [([UInt8], String)] = [
            (with("width", "1000000"), "width is 1000000; it must be 8 to 1024"),
            (with("width", "4611686018427387904"), "width is 4611686018427387904; it must be 8 to 1024"),
            (with("mlp_ratio", "100000"), "mlp_ratio is 100000; it must be 1 to 8"),
            (with("mlp_ratio", "1152921504606846976"), "mlp_ratio is 1152921504606846976; it must be 1 to 8"),
            (with("time_embedding", "1000000000"), "time_embedding is 1000000000; it must be 2 to 2048"),
            (with("time_embedding", "2305843009213693952"), "time_embedding is 2305843009213693952; it must be 2 to 2048"),
            (with("depth", "1000000"), "depth is 1000000; it must be 1 to 32"),
            (with("heads", "0"), "heads is 0; it must be 1 to 32"),
            (with("heads", "3"), "width 128 is not divisible by heads 3"),
            (with("time_embedding", "127"), "time_embedding 127 must be even (sines and cosines in pairs)"),
            (with("width", "1e30"), "\"width\" is 1e+30, not a whole number in range"),
            (with("width", "true"), "\"width\" must be a whole number"),
            (with("trajectory_scale", "1e39"), "trajectory_scale is inf; it must be 0.001 to 1024.0"),
            (with("trajectory_scale", "\"16\""), "\"trajectory_scale\" must be a number"),
            (with("name", "7"), "\"name\" must be a string"),
            (with("name", "\"\""), "name must be 1 to 200 characters, not 0"),
            (Array("[]".utf8), "it must be a JSON object of the model's settings (width, depth, heads, ...), not an array"),
            (Array("7".utf8), "it must be a JSON object of the model's settings (width, depth, heads, ...), not a number"),
            (Array("{\"width\": ".utf8), "not valid JSON"),
        ]
        for (bytes, message) in cases {
            XCTAssertThrowsError(try ReasonerConfig.parse(bytes), message) {
                XCTAssertEqual(($0 as? ReasonerConfig.Problem)?.reason, message)
            }
        }
        // The parameter limit: width 1024, depth 12, MLP 4 fits; depth 32 with MLP 8 does not.
        var big = ReasonerConfig(width: 1024, depth: 12, heads: 16, mlpRatio: 4)
        XCTAssertNil(big.validationProblem)
        big.depth = 32; big.mlpRatio = 8
        XCTAssertEqual(big.validationProblem, "the model would have \(big.parameterCount!) parameters, over the limit of 268435456 (1 GiB of weights)")
    }

    /// The parameter count a config is judged by is the one the model declares.
    func testConfigParameterCountIsTheModels() {
        for c in [ReasonerConfig.tiny, .standard, ReasonerConfig(width: 48, depth: 3, heads: 3, mlpRatio: 3, timeEmbedding: 10)] {
            XCTAssertEqual(c.parameterCount, Reasoner(config: c).parameterCount, "\(c)")
        }
        XCTAssertEqual(ReasonerConfig.standard.parameterCount, 1_308_064, "the model card's figure")
    }

    /// Weights that are NaN, infinite or beyond any trained model are refused at load, naming
    /// the tensor; a config that does not match the weights is refused before allocating.
    func testDamagedWeightsAreRefusedNamingTheTensor() throws {
        for (value, words) in [(Float.nan, "holds NaN at index 5"), (.infinity, "holds +infinity at index 5"),
                               (-.infinity, "holds -infinity at index 5"),
                               (3e38, "holds 3e+38 at index 5 (a weight may be at most 10000 in magnitude)")] {
            let r = Reasoner.makeTiny(seed: 7)
            r.store.value("blocks.0.attn.k.weight")[5] = value
            let dir = tempDir("damaged")
            try r.saveCheckpoint(to: dir)
            XCTAssertThrowsError(try Reasoner.load(from: dir)) {
                XCTAssertEqual("\($0)", "\(dir)/model.safetensors: tensor \"blocks.0.attn.k.weight\" \(words): the weights are damaged; restore the model folder from a good copy, or train one with `tutor train --out DIR`")
            }
        }
        let dir = tempDir("mismatch")
        try Reasoner.makeTiny(seed: 7).saveCheckpoint(to: dir)
        var other = ReasonerConfig.tiny
        other.depth = 32
        try Data(try JSONEncoder().encode(other)).write(to: URL(fileURLWithPath: dir + "/config.json"))
        XCTAssertThrowsError(try Reasoner.load(from: dir)) {
            XCTAssertTrue("\($0)".contains("holds \(ReasonerConfig.tiny.parameterCount!) values but config.json describes a model of \(other.parameterCount!) parameters"), "\($0)")
        }
    }

    func testLoRASaveLoadAndFusedMatchesUnfused() throws {
        let r = Reasoner.makeTiny(seed: 11)
        let head = r.store.value("final.head.weight")
        var rng = SplitMix64(seed: 2)
        for i in 0..<r.store.entry("final.head.weight")!.count { head[i] = rng.normal() * 0.2 }
        let lora = r.attachLoRA(rank: 4, alpha: 8, seed: 3)
        // Give B non-zero values, as training would.
        for e in lora.store.entries where e.name.hasSuffix("lora_B.weight") {
            let p = lora.store.value(e.name)
            for i in 0..<e.count { p[i] = rng.normal() * 0.05 }
        }
        let scene = smallScene()
        let noise = Reasoner.noise(seed: 8)
        let unfused = r.sample(scene, noise: noise, steps: 2, lora: lora)
        let dir = tempDir("lora")
        try lora.save(to: dir)
        r.fuseLoRA()
        let fused = r.sample(scene, noise: noise, steps: 2, lora: lora)
        r.unfuseLoRA()
        for i in 0..<Trajectory.count { XCTAssertEqual(fused.offsets[i], unfused.offsets[i], accuracy: 1e-3) }
        let vf = Compositor.render(scene.layered, fused), vu = Compositor.render(scene.layered, unfused)
        var maxDiff: Float = 0
        for i in 0..<vf.pixels.count { maxDiff = max(maxDiff, abs(vf.pixels[i] - vu.pixels[i])) }
        XCTAssertLessThan(maxDiff, 1e-3)

        let saved = lora.store.entries.map { lora.store.array($0.name) }
        r.detachLoRA()
        let back = try r.loadLoRA(from: dir)
        XCTAssertEqual(back.store.entries.map(\.name), lora.store.entries.map(\.name))
        XCTAssertEqual(back.store.entries.map { back.store.array($0.name) }, saved, "bit-identical")
        XCTAssertEqual(back.config.rank, 4)
        XCTAssertEqual(back.config.alpha, 8)
        let again = r.sample(scene, noise: noise, steps: 2, lora: back)
        XCTAssertEqual(again, unfused)
        let peft = try PEFTAdapter.load(from: dir)
        XCTAssertNotNil(peft.layer("blocks.0.attn.q"))
        XCTAssertEqual(peft.config.targetModules, ["attn.q", "attn.k", "attn.v", "attn.o", "mlp.fc1", "mlp.fc2"])
    }

    /// The LoRA gradient through the sampler (1 and 3 steps) against finite differences.
    func testDifferentiableSampleGradientMatchesFiniteDifferences() {
        for prediction in ["x", "v"] {
            var cfg = ReasonerConfig.tiny
            cfg.prediction = prediction
            let r = Reasoner(config: cfg)
            r.initialize(seed: 13)
            checkSamplerGradient(r)
        }
    }

    func checkSamplerGradient(_ r: Reasoner) {
        var rng = SplitMix64(seed: 4)
        let head = r.store.value("final.head.weight")
        for i in 0..<r.store.entry("final.head.weight")!.count { head[i] = rng.normal() * 0.3 }
        let lora = r.attachLoRA(rank: 2, alpha: 2, seed: 5)
        for e in lora.store.entries where e.name.hasSuffix("lora_B.weight") {
            let p = lora.store.value(e.name)
            for i in 0..<e.count { p[i] = rng.normal() * 0.1 }
        }
        let scene = smallScene()
        let noise = Reasoner.noise(seed: 21)
        let w = (0..<Trajectory.count).map { _ in rng.normal() }
        func loss(_ t: Trajectory) -> Double { zip(t.offsets, w).reduce(0.0) { $0 + Double($1.0 * $1.1) } }
        for steps in [1, 3] {
            lora.zeroGradients()
            let ds = DifferentiableSample(r, scene: scene, noise: noise, steps: steps)
            ds.backward(dTrajectory: w)
            for name in ["blocks.0.attn.q.lora_B.weight", "blocks.0.mlp.fc1.lora_A.weight"] {
                let p = lora.store.value(name), gp = lora.store.grad(lora.store.index(of: name)!)!
                for j in [0, 3] {
                    let old = p[j]
                    p[j] = old + 1e-2; let lp = loss(r.sample(scene, noise: noise, steps: steps, lora: lora))
                    p[j] = old - 1e-2; let lm = loss(r.sample(scene, noise: noise, steps: steps, lora: lora))
                    p[j] = old
                    let fd = (lp - lm) / 2e-2
                    XCTAssertEqual(Double(gp[j]), fd, accuracy: 0.03 * max(1, abs(fd)), "\(r.config.prediction): \(name)[\(j)] steps \(steps)")
                }
            }
        }
    }
}
