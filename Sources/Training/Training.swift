import Basics
import Engine
import Foundation
import Reasoner
import Tasks

/// One training sequence: a scene and the trajectory the model should produce for it.
public struct TrainingExample: Sendable {
    public var scene: Scene
    /// The clean trajectory x1 in normalised units, `[K, frames, 2]`.
    public var target: [Float]
    /// Loss weight per value, `[K, frames, 2]`: zero on padding slots, larger on moving layers.
    public var weight: [Float]
    /// Reflow pairs fix the noise the target was sampled from; nil draws fresh noise each time.
    public var noise: [Float]?

    /// Loss weight of a moving layer (one whose target leaves zero by more than 0.05, about a
    /// pixel) relative to a static one: the few values that move carry the task, the many that
    /// stay at zero are learned quickly.
    public static let moverWeight: Float = 3

    public init(scene: Scene, target: [Float], noise: [Float]? = nil) {
        self.scene = scene
        self.target = target
        self.noise = noise
        let n = Trajectory.count, per = Trajectory.frames * 2
        var w = [Float](repeating: 0, count: n)
        for l in 0..<min(scene.layerCount, Trajectory.maxLayers) {
            let moves = target[(l * per)..<((l + 1) * per)].contains { abs($0) > 0.05 }
            for j in 0..<per { w[l * per + j] = moves ? TrainingExample.moverWeight : 1 }
        }
        weight = w
    }

    /// The example of a generated task: layers cut from its first frame, each track's offsets on
    /// the layer of its colour. Nil when a moving object has no layer (too small, or more than
    /// `LayerCut.maxLayers` colours), so that no example teaches the model to move the wrong thing.
    public init?(task: GeneratedTask, config: ReasonerConfig) {
        let scene = Scene(prompt: task.prompt, firstFrame: task.firstFrame)
        guard let traj = scene.trajectory(from: task.layerTracks) else { return nil }
        self.init(scene: scene, target: traj.offsets.map { $0 / config.trajectoryScale })
    }
}

/// Flow-matching training of the Reasoner: AdamW with warm-up and cosine decay, global-norm
/// clipping, deterministic for a seed and a thread count.
///
/// Each step draws `batch` examples, a time t per example and (unless the example fixes it) a
/// noise z, forms `x_t = (1 - t) x1 + t z` and regresses the clean trajectory x1 (or, for a
/// v-prediction model, the velocity `z - x1`) with a weighted mean squared error.
public final class Trainer {
    public let reasoner: Reasoner
    public let batch: Int
    public let optimizer: AdamW
    public var peakLearningRate: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    /// Fraction of each batch trained at exactly t = 1 (the one-step prediction), on top of the
    /// uniform draw; the reflow phase raises it.
    public var oneStepFraction: Float = 0
    let acts: Reasoner.Activations
    var xt: [Float], tv: [Float], target: [Float], weight: [Float], dv: [Float]

    public init(_ reasoner: Reasoner, batch: Int, learningRate: Float, warmupSteps: Int, totalSteps: Int,
                weightDecay: Float = 0.01, maxGradNorm: Float = 1) {
        self.reasoner = reasoner
        self.batch = batch
        peakLearningRate = learningRate
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        reasoner.store.allocateGradients()
        optimizer = AdamW(ParameterSubset(all: reasoner.store), learningRate: learningRate, beta1: 0.9, beta2: 0.99,
                          weightDecay: weightDecay, maxGradNorm: maxGradNorm)
        acts = reasoner.makeActivations(maxBatch: batch)
        let n = reasoner.config.trajectoryCount
        xt = [Float](repeating: 0, count: batch * n); target = xt; weight = xt; dv = xt
        tv = [Float](repeating: 0, count: batch)
    }

    /// Warm-up then cosine decay to a tenth of the peak.
    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps { return peakLearningRate * Float(step + 1) / Float(warmupSteps) }
        let p = min(1, Float(step - warmupSteps) / Float(max(1, totalSteps - warmupSteps)))
        return peakLearningRate * (0.1 + 0.9 * 0.5 * (1 + cosf(.pi * p)))
    }

    /// The random generator of step `step`: data order, times and noise depend only on the
    /// seed and the step, so a resumed run draws what the uninterrupted one would have.
    public static func rng(seed: UInt64, step: Int) -> SplitMix64 {
        var mix = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(step))
        return SplitMix64(seed: mix.next())
    }

    /// Loss of one batch without updating anything (for evaluation).
    public func loss(_ examples: [Example], rng: inout SplitMix64) -> Float {
        prepare(examples, rng: &rng)
        runForward(examples.count)
        return lossValue(examples.count)
    }

    public typealias Example = TrainingExample

    /// One optimisation step on `examples` (at most `batch`); returns the loss before the update.
    @discardableResult
    public func step(_ examples: [Example], stepIndex: Int, rng: inout SplitMix64) -> (loss: Float, gradNorm: Float) {
        let B = examples.count
        prepare(examples, rng: &rng)
        runForward(B)
        let loss = lossValue(B)
        let n = reasoner.config.trajectoryCount
        for i in 0..<(B * n) { dv[i] = 0 }
        let pv = UnsafePointer(acts.v)
        target.withUnsafeBufferPointer { tp in
            weight.withUnsafeBufferPointer { wp in
                dv.withUnsafeMutableBufferPointer { d in
                    MSE.backward(dpred: d.baseAddress!, pred: pv, target: tp.baseAddress!, weight: wp.baseAddress!, n: B * n)
                }
            }
        }
        reasoner.store.zeroGradients()
        dv.withUnsafeBufferPointer { reasoner.backward(acts, dv: $0.baseAddress!, mode: .full) }
        optimizer.learningRate = learningRate(at: stepIndex)
        let norm = optimizer.update()
        return (loss, norm)
    }

    func prepare(_ examples: [Example], rng: inout SplitMix64) {
        let B = examples.count, n = reasoner.config.trajectoryCount, clean = reasoner.config.predictsClean
        precondition(B >= 1 && B <= batch, "Trainer: \(B) examples for a batch of \(batch)")
        reasoner.load(examples.map(\.scene), into: acts)
        for (b, e) in examples.enumerated() {
            var t = rng.uniform()
            if oneStepFraction > 0 && rng.uniform() < oneStepFraction { t = 1 }
            tv[b] = t
            for i in 0..<n {
                let z = e.noise?[i] ?? rng.normal()
                let x1 = e.target[i]
                xt[b * n + i] = (1 - t) * x1 + t * z
                target[b * n + i] = clean ? x1 : z - x1
                weight[b * n + i] = e.weight[i]
            }
        }
    }

    func runForward(_ B: Int) {
        xt.withUnsafeBufferPointer { x in tv.withUnsafeBufferPointer { reasoner.forward(acts, xt: x.baseAddress!, t: $0.baseAddress!) } }
    }

    func lossValue(_ B: Int) -> Float {
        let n = reasoner.config.trajectoryCount
        return target.withUnsafeBufferPointer { tp in
            weight.withUnsafeBufferPointer { wp in
                MSE.forward(pred: acts.v, target: tp.baseAddress!, weight: wp.baseAddress!, n: B * n)
            }
        }
    }

    /// Reflow pairs: for each scene, the model's own `steps`-step sample from a fixed noise,
    /// as an example whose noise is that noise. Training on them straightens the flow so that one
    /// step reproduces what several steps sample (a sample, not the average of the samples).
    public func reflowPairs(_ scenes: [Scene], noiseSeed: UInt64, steps: Int) -> [Example] {
        var out: [Example] = []
        let n = reasoner.config.trajectoryCount
        var i = 0
        while i < scenes.count {
            let chunk = Array(scenes[i..<min(scenes.count, i + batch)])
            reasoner.load(chunk, into: acts)
            var noise: [Float] = []
            for j in 0..<chunk.count { noise += Reasoner.noise(seed: noiseSeed &+ UInt64(i + j)) }
            let x = reasoner.sampleRaw(acts, noise: noise, steps: steps)
            for (j, s) in chunk.enumerated() {
                // Keep padding and frame 0 exactly where the data has them (zero).
                var target = [Float](repeating: 0, count: n)
                reasoner.forEachFreeIndex(layerCount: s.layerCount) { target[$0] = x[j * n + $0] }
                out.append(Example(scene: s, target: target, noise: Array(noise[(j * n)..<((j + 1) * n)])))
            }
            i += chunk.count
        }
        return out
    }
}
