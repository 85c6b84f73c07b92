import Basics
import Engine
import Media
import Reasoner
import Teacher
import TaskFolder

/// What a strategy reports while it runs, for `progress.json` and the terminal's progress line.
public enum ProgressEvent: Sendable {
    /// Video `index` (0-based) of `count` sampled from the base model and judged.
    case sampled(index: Int, count: Int, loss: Float, passed: Bool)
    /// Adaptation step `step` (1-based) of at most `maxSteps`: the loss the step scored and the
    /// p_yes of every question (goal first).
    case step(step: Int, maxSteps: Int, loss: Float, pYes: [Float])
}

/// The record of one adaptation (teacher-lora, or the adapting phase of sample-then-adapt).
public struct OptimizationRecord: Sendable {
    /// Optimiser updates made.
    public var steps: Int
    /// "early" (the final video passed) or "budget" (max_steps reached).
    public var stopped: String
    /// The loss each step scored, before its update.
    public var losses: [Float]
    /// Final videos sampled and judged to decide whether to stop.
    public var finalChecks: Int
    /// Which noise the adaptation started from (an index into the strategy's noises).
    public var noiseIndex: Int
    public var gradient: GradientPath
    public var loss: LossTerms
    public var learningRate: Float
}

/// What one sampled base video scored, for the verdict's `samples`.
public struct SampleRecord: Sendable {
    public var noiseIndex: Int
    public var loss: Float
    public var passed: Bool
}

/// The outcome of a strategy on one task.
public struct StrategyResult {
    /// The video kept: its frames as written and their judgment.
    public var final: JudgedVideo
    /// The unadapted model's video from the noise the kept video came from (or, for sampling,
    /// from the first noise): what the task looked like before the teacher changed anything.
    public var base: JudgedVideo
    /// Base videos sampled (best-of-n, sample-then-adapt).
    public var samples: [SampleRecord]
    public var optimization: OptimizationRecord?
    /// The adapter, still attached to the Reasoner, when adaptation ran; the caller saves it
    /// and then detaches it.
    public var adapter: ReasonerLoRA?
    /// Model evaluations: one per forward pass of the transformer; a backward pass counts two.
    public var evaluations: Int
}

/// Runs the strategies of `StrategySettings` for one task: samples from the base model, the
/// teacher-guided adaptation of a LoRA, and the combination of both.
///
/// Noises: video `i` of a task starts from `Reasoner.noise(seed: StrategyRunner.noiseSeed(seed, i))`,
/// so every strategy's first video (base, best-of-n's first sample, teacher-lora's fixed z) starts
/// from the same noise and the strategies can be compared task by task.
public final class StrategyRunner {
    public let reasoner: Reasoner
    public let scene: Scene
    /// The judge: the task's rule file as written.
    public let teacher: Teacher
    /// The teacher whose loss is optimised (the judge's, or an ablation's goal-only / process-only).
    public let trainingTeacher: Teacher
    public let settings: StrategySettings
    /// Layers of the scene that a `static` question says must stay, with that question's
    /// weight in the loss: `(layer, coefficient)`.
    let staticLayers: [(layer: Int, coefficient: Float)]
    public var progress: (ProgressEvent) -> Void = { _ in }

    /// - Parameters:
    ///   - firstFrame: the task's first frame at any size (the teachers judge the scene's
    ///     working frame, cut from it).
    public init(reasoner: Reasoner, scene: Scene, rules: RuleFile, firstFrame: RGBImage, settings: StrategySettings) {
        self.reasoner = reasoner
        self.scene = scene
        self.settings = settings
        // The teachers judge at the scene's working size, on the first frame the layers were cut from.
        let w = scene.working
        teacher = Teacher(rules: rules, nativeFirstFrame: w.frame, width: w.width, height: w.height)
        var training = rules
        switch settings.loss {
        case .both: break
        case .goalOnly: training.lambda = 1
        case .processOnly: training.lambda = 0
        }
        trainingTeacher = settings.loss == .both ? teacher
            : Teacher(rules: training, nativeFirstFrame: w.frame, width: w.width, height: w.height)
        staticLayers = settings.staticPrior ? StrategyRunner.staticLayers(rules: training, scene: scene) : []
    }

    /// The layers whose colour is within tolerance of an object that a `static` question names,
    /// each with that question's coefficient in the loss (as the teacher weighs it).
    public static func staticLayers(rules: RuleFile, scene: Scene) -> [(layer: Int, coefficient: Float)] {
        let wsum = rules.process.reduce(Float(0)) { $0 + $1.weight }
        var out: [(Int, Float)] = []
        for q in rules.process {
            guard case let .static(name, _) = q.check, let o = rules.object(named: name), wsum > 0 else { continue }
            let c = (1 - rules.lambda) * q.weight / wsum
            for (l, layer) in scene.layered.layers.enumerated() {
                let d = layer.color * 255 - o.color
                if (d * d).sum().squareRoot() <= o.tolerance { out.append((l, c)) }
            }
        }
        return out
    }

    /// Scale of the static prior, pixels: a layer `staticScale` pixels off its place in one
    /// frame costs its question's coefficient.
    static let staticScale: Float = 0.5

    /// The static prior: `sum_q c_q * sum_frames |offset / staticScale|^2` over the layers of
    /// static objects; adds its gradient into `dTraj` (`[maxLayers, frames, 2]`, pixels).
    func staticPrior(_ traj: Trajectory, _ dTraj: inout [Float]) -> Float {
        var loss: Float = 0
        let F = Trajectory.frames, s2 = StrategyRunner.staticScale * StrategyRunner.staticScale
        for (l, c) in staticLayers {
            for f in 0..<F {
                let i = (l * F + f) * 2
                let ox = traj.offsets[i], oy = traj.offsets[i + 1]
                loss += c * (ox * ox + oy * oy) / s2
                dTraj[i] += c * 2 * ox / s2
                dTraj[i + 1] += c * 2 * oy / s2
            }
        }
        return loss
    }

    /// The seed of the noise of video `index` of a task with `seed`.
    public static func noiseSeed(_ seed: UInt64, _ index: Int) -> UInt64 {
        var g = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ (UInt64(index) &+ 0x5eed))
        return g.next()
    }

    public func noise(_ index: Int) -> [Float] { Reasoner.noise(seed: StrategyRunner.noiseSeed(settings.seed, index)) }

    /// Runs the strategy of `settings`.
    public func run() -> StrategyResult {
        switch settings.strategy {
        case .base: return sampleBest(count: 1, adaptIfNone: false)
        case .bestOfN: return sampleBest(count: settings.samples, adaptIfNone: false)
        case .sampleThenAdapt: return sampleBest(count: settings.samples, adaptIfNone: true)
        case .teacherLoRA: return teacherLoRA()
        }
    }

    // MARK: Sampling

    /// The final video of a trajectory, rendered as it will be written, and judged.
    func judged(_ trajectory: Trajectory) -> JudgedVideo {
        JudgedVideo(teacher: teacher, video: Compositor.render(scene.working, trajectory, final: true), trajectory: trajectory)
    }

    /// `count` base videos from noises 0..<count (sampled in batches), judged; keeps the best
    /// (a passing video before a failing one, then the lowest loss, then the earliest). When
    /// none passes and `adaptIfNone`, adapts a LoRA from the best video's noise.
    ///
    /// With `adaptIfNone` (the default strategy) sampling stops after the batch in which a video
    /// passes: `samples` is then a budget, spent in full only on tasks the base model rarely
    /// gets right. best-of-n always samples `count`.
    func sampleBest(count: Int, adaptIfNone: Bool) -> StrategyResult {
        let batch = 8
        let acts = reasoner.makeActivations(maxBatch: min(batch, count))
        var records: [SampleRecord] = []
        /// The best few samples, best first (the earliest among equals), to adapt from:
        /// `(noise index, video)`; the first is the best of all.
        var candidates: [(Int, JudgedVideo)] = []
        let keep = adaptIfNone ? max(1, settings.restarts) : 1
        var first: JudgedVideo?
        var evaluations = 0
        var start = 0
        while start < count {
            let n = min(batch, count - start)
            let noises = (start..<(start + n)).map(noise)
            let trajs = reasoner.sample([Scene](repeating: scene, count: n), noises: noises, steps: settings.sampleSteps,
                                        activations: acts)
            evaluations += n * settings.sampleCost
            for (j, traj) in trajs.enumerated() {
                let i = start + j
                let v = judged(traj)
                records.append(SampleRecord(noiseIndex: i, loss: v.loss, passed: v.passed))
                if i == 0 { first = v }
                let at = candidates.firstIndex { v.isBetter(than: $0.1) } ?? candidates.count
                if at < keep { candidates.insert((i, v), at: at); if candidates.count > keep { candidates.removeLast() } }
                progress(.sampled(index: i, count: count, loss: v.loss, passed: v.passed))
            }
            start += n
            if adaptIfNone && candidates[0].1.passed { break }
        }
        let best = candidates[0].1
        var result = StrategyResult(final: best, base: first!, samples: records, optimization: nil, adapter: nil,
                                    evaluations: evaluations)
        if adaptIfNone && !best.passed && settings.maxSteps > 0 {
            // The budget of steps is split over the best few samples' noises (`restarts`): a
            // fresh LoRA from each in turn, until one passes. The last one tried is kept.
            var left = settings.maxSteps
            for (k, (index, video)) in candidates.enumerated() {
                let steps = k == candidates.count - 1 ? left : settings.maxSteps / candidates.count
                left -= steps
                let a = adapt(noiseIndex: index, unadapted: video, steps: steps)
                result.final = a.final
                result.base = video
                result.optimization = a.record
                result.adapter = a.lora
                result.evaluations += a.evaluations
                if a.final.passed { break }
            }
        }
        return result
    }

    // MARK: Adaptation

    /// The paper's method from noise 0: the base video from z is judged first (if it passes,
    /// no update is made), then the LoRA is adapted.
    func teacherLoRA() -> StrategyResult {
        let z = noise(0)
        let base = judged(reasoner.sample(scene, noise: z, steps: settings.sampleSteps))
        let a = adapt(noiseIndex: 0, unadapted: base, steps: settings.maxSteps)
        return StrategyResult(final: a.final, base: base, samples: [], optimization: a.record, adapter: a.lora,
                              evaluations: settings.sampleCost + a.evaluations)
    }

    /// Adapts a fresh LoRA so that the video from noise `noiseIndex` satisfies the teacher.
    ///
    /// Each step: a differentiable sample from the fixed z (one step, or every sampling step),
    /// rendered, scored with gradient by the training teacher, the gradient carried back through
    /// the compositor and the sampler into the LoRA, one AdamW update. Before each update the
    /// final video is checked when the loss is at most `stop_loss`, and at every step when the
    /// gradient runs through all sampling steps (the video scored then is the final video's
    /// trajectory, so the check costs no model evaluation); a passing final video stops the
    /// adaptation. `unadapted` is the final video of the base model from z, already judged:
    /// when it passes, no update is made.
    func adapt(noiseIndex: Int, unadapted: JudgedVideo, steps maxSteps: Int) -> (final: JudgedVideo, record: OptimizationRecord, lora: ReasonerLoRA, evaluations: Int) {
        let z = noise(noiseIndex)
        let s = settings
        let lora = reasoner.attachLoRA(rank: s.rank, alpha: s.alpha, seed: StrategyRunner.noiseSeed(s.seed, 1_000_000 + noiseIndex))
        var record = OptimizationRecord(steps: 0, stopped: "budget", losses: [], finalChecks: 0, noiseIndex: noiseIndex,
                                        gradient: s.gradient, loss: s.loss, learningRate: s.learningRate)
        if unadapted.passed {
            record.stopped = "early"
            return (unadapted, record, lora, 0)
        }
        let optimizer = AdamW(lora.parameters, learningRate: s.learningRate, beta1: 0.9, beta2: 0.999,
                              weightDecay: 0, maxGradNorm: s.maxGradNorm)
        let gradSteps = s.gradientSteps
        let acts = (0..<gradSteps).map { _ in reasoner.makeActivations(maxBatch: 1) }
        let sampleActs = reasoner.makeActivations(maxBatch: 1)
        // With the gradient through every sampling step, the scored trajectory is the final
        // video's, so checking it costs no model evaluation.
        let checkFree = s.gradient == .allSteps && s.sampleSteps == gradSteps
        var evaluations = 0
        let frameFloats = Trajectory.frames * scene.working.width * scene.working.height * 3
        var dVideo = [Float](repeating: 0, count: frameFloats)
        var final: JudgedVideo?
        for step in stride(from: 1, through: maxSteps, by: 1) {
            lora.zeroGradients()
            let sample = DifferentiableSample(reasoner, scene: scene, noise: z, steps: gradSteps, activations: acts)
            evaluations += gradSteps
            let video = Compositor.render(scene.working, sample.trajectory)
            for i in 0..<frameFloats { dVideo[i] = 0 }
            let scored = dVideo.withUnsafeMutableBufferPointer { trainingTeacher.score(video, gradient: $0.baseAddress!) }
            record.losses.append(scored.loss)
            progress(.step(step: step, maxSteps: maxSteps, loss: scored.loss, pYes: scored.pYes))
            // Step 1 scores the unadapted model (B = 0), already judged.
            if step > 1 && (scored.loss <= s.stopLoss || checkFree) {
                let traj: Trajectory
                if checkFree { traj = sample.trajectory } else {
                    traj = reasoner.sample([scene], noises: [z], steps: s.sampleSteps, lora: lora, activations: sampleActs)[0]
                    evaluations += s.sampleCost
                }
                record.finalChecks += 1
                let v = judged(traj)
                if v.passed {
                    record.stopped = "early"
                    final = v
                    break
                }
            }
            var dTraj = Compositor.renderBackward(scene.working, sample.trajectory, dVideo: dVideo)
            _ = staticPrior(sample.trajectory, &dTraj)
            sample.backward(dTrajectory: dTraj)
            evaluations += 2 * gradSteps
            optimizer.update()
            record.steps += 1
        }
        if final == nil {
            final = judged(reasoner.sample([scene], noises: [z], steps: s.sampleSteps, lora: lora, activations: sampleActs)[0])
            evaluations += s.sampleCost
        }
        return (final!, record, lora, evaluations)
    }
}


extension Scene {
    /// A task's scene at the working size its rule file needs (`WorkingSize`), the first frame
    /// shrunk once for both the choice and the layer cut; and that size.
    static func judged(prompt: String, firstFrame: RGBImage, rules: RuleFile,
                       tokenizer: PromptTokenizer) -> (scene: Scene, working: WorkingSize) {
        let (working, frame) = WorkingSize.chooseWithFrame(rules: rules, firstFrame: firstFrame)
        let picture = Picture(frame: frame, width: working.width, height: working.height)
        return (Scene(prompt: prompt, layered: picture.view, working: picture.working, tokenizer: tokenizer), working)
    }
}
