import Basics
import Engine

extension Reasoner {
    /// Deterministic standard normal noise for one trajectory, `[maxLayers, frames, 2]`: the same
    /// seed gives the same noise on every machine.
    public static func noise(seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed ^ 0x6E6F_6973_6521)
        return (0..<Trajectory.count).map { _ in rng.normal() }
    }

    /// The Euler times: step i goes from `times[i]` to `times[i + 1]`, from 1 (noise) to 0.
    public static func times(steps: Int) -> [Float] {
        (0...steps).map { 1 - Float($0) / Float(steps) }
    }

    /// Calls `body` with the index of every free value of a trajectory of `layerCount` layers:
    /// the x and y offsets of frames 1 and later of the real layers. Frame 0 is at offset 0 by
    /// definition and padding slots are zero, so they are constants.
    public func forEachFreeIndex(layerCount: Int, _ body: (Int) -> Void) {
        let F = config.frames
        for l in 0..<min(layerCount, config.maxLayers) {
            for f in 1..<F {
                let i = (l * F + f) * 2
                body(i)
                body(i + 1)
            }
        }
    }

    /// Turns the model's normalised trajectory into pixels for `scene`: frame 0 is at offset 0 by
    /// definition and padding slots are zero.
    func pixels(_ x: UnsafePointer<Float>, layerCount: Int) -> Trajectory {
        var t = Trajectory.zero
        forEachFreeIndex(layerCount: layerCount) { t.offsets[$0] = x[$0] * config.trajectoryScale }
        return t
    }

    /// Samples one trajectory for `scene` by `steps` Euler steps from `noise`.
    ///
    /// - Parameters:
    ///   - noise: `[maxLayers * frames * 2]` standard normal (`Reasoner.noise(seed:)`).
    ///   - steps: 1 is the one-step prediction `z - v(z, 1)`; 4 is the default few-step sampler.
    ///   - lora: the adapter currently attached (`attachLoRA`), or nil for the base model (then
    ///     none may be attached). The adapter changes the model while it is attached; this
    ///     argument states which model the caller means.
    /// - Returns: offsets in pixels.
    public func sample(_ scene: Scene, noise: [Float], steps: Int = 4, lora: ReasonerLoRA? = nil) -> Trajectory {
        sample([scene], noises: [noise], steps: steps, lora: lora)[0]
    }

    /// Samples several at once (one sequence each; the batch runs as one forward per step).
    public func sample(_ scenes: [Scene], noises: [[Float]], steps: Int, lora: ReasonerLoRA? = nil,
                       activations: Activations? = nil) -> [Trajectory] {
        checkAdapter(lora)
        precondition(scenes.count == noises.count && steps >= 1, "Reasoner.sample: one noise per scene, steps >= 1")
        let B = scenes.count, n = config.trajectoryCount
        for noise in noises {
            precondition(noise.count == n, "Reasoner.sample: noise has \(noise.count) values, expected \(n)")
        }
        let acts = activations.flatMap { $0.maxBatch >= B ? $0 : nil } ?? makeActivations(maxBatch: B)
        load(scenes, into: acts)
        let x = sampleRaw(acts, noise: noises.flatMap { $0 }, steps: steps)
        return (0..<B).map { b in x.withUnsafeBufferPointer { pixels($0.baseAddress! + b * n, layerCount: scenes[b].layerCount) } }
    }

    /// Samples in normalised units without any post-processing, `[B, K * frames * 2]` (reflow
    /// pairs are made of these).
    public func sampleRaw(_ acts: Activations, noise: [Float], steps: Int) -> [Float] {
        let B = acts.batch, n = config.trajectoryCount
        var x = noise
        let ts = Reasoner.times(steps: steps)
        for i in 0..<steps {
            let tt = [Float](repeating: ts[i], count: B), dt = ts[i] - ts[i + 1]
            x.withUnsafeBufferPointer { xp in tt.withUnsafeBufferPointer { forward(acts, xt: xp.baseAddress!, t: $0.baseAddress!) } }
            eulerStep(&x, acts.v, t: ts[i], dt: dt, count: B * n)
        }
        return x
    }

    /// One Euler step from t to t - dt given the head's output: `x -= dt v`, with
    /// `v = (x - x1_hat) / t` when the head predicts the clean trajectory.
    func eulerStep(_ x: inout [Float], _ out: UnsafePointer<Float>, t: Float, dt: Float, count: Int) {
        if config.predictsClean {
            let k = dt / t
            for j in 0..<count { x[j] += k * (out[j] - x[j]) }
        } else {
            for j in 0..<count { x[j] -= dt * out[j] }
        }
    }

    func checkAdapter(_ lora: ReasonerLoRA?) {
        if let lora {
            precondition(stack.lora === lora.store, "Reasoner: this LoRA is not the adapter attached to the model; attach it first")
        } else {
            precondition(stack.lora == nil, "Reasoner: an adapter is attached; pass it as `lora`, or detach it to use the base model")
        }
    }
}

/// A sample that keeps what its backward pass needs: the test-time adaptation's forward path.
///
/// `steps` Euler steps from a fixed noise; `steps == 1` is the paper's one-step prediction
/// `z - v(z, 1)`, larger values backpropagate through every sampling step. `backward` adds into
/// the attached LoRA's gradients only (the base model is frozen).
public final class DifferentiableSample {
    public let reasoner: Reasoner
    public let scene: Scene
    public let steps: Int
    /// The sampled offsets in pixels.
    public private(set) var trajectory: Trajectory
    /// Per step: its activations (batch 1), which keep the step's input x_t.
    let acts: [Reasoner.Activations]

    /// Runs the forward pass. The adapter to be trained must be attached (`attachLoRA`).
    ///
    /// - Parameter activations: reuse these (one per step, batch >= 1) across iterations.
    public init(_ reasoner: Reasoner, scene: Scene, noise: [Float], steps: Int,
                activations: [Reasoner.Activations]? = nil) {
        precondition(steps >= 1, "DifferentiableSample: steps must be at least 1")
        self.reasoner = reasoner
        self.scene = scene
        self.steps = steps
        let acts = activations.flatMap { $0.count >= steps ? Array($0.prefix(steps)) : nil }
            ?? (0..<steps).map { _ in reasoner.makeActivations(maxBatch: 1) }
        self.acts = acts
        let n = reasoner.config.trajectoryCount
        precondition(noise.count == n, "DifferentiableSample: noise has \(noise.count) values, expected \(n)")
        var x = noise
        let ts = Reasoner.times(steps: steps)
        for i in 0..<steps {
            reasoner.load([scene], into: acts[i])
            let tt: [Float] = [ts[i]], dt = ts[i] - ts[i + 1]
            x.withUnsafeBufferPointer { xp in tt.withUnsafeBufferPointer { reasoner.forward(acts[i], xt: xp.baseAddress!, t: $0.baseAddress!) } }
            reasoner.eulerStep(&x, acts[i].v, t: ts[i], dt: dt, count: n)
        }
        self.trajectory = x.withUnsafeBufferPointer { reasoner.pixels($0.baseAddress!, layerCount: scene.layerCount) }
    }

    /// Adds the gradient of a loss into the attached LoRA's gradients.
    ///
    /// - Parameter dTrajectory: gradient with respect to `trajectory.offsets` (pixels),
    ///   `[maxLayers, frames, 2]`, e.g. `Compositor.renderBackward`'s result.
    public func backward(dTrajectory: [Float]) {
        let c = reasoner.config, n = c.trajectoryCount
        precondition(dTrajectory.count == n, "DifferentiableSample.backward: \(dTrajectory.count) values, expected \(n)")
        // d x_final: through the pixel conversion (frame 0 and padding are constants).
        var dx = [Float](repeating: 0, count: n)
        reasoner.forEachFreeIndex(layerCount: scene.layerCount) { dx[$0] = dTrajectory[$0] * c.trajectoryScale }
        let ts = Reasoner.times(steps: steps)
        var dv = [Float](repeating: 0, count: n)
        for i in stride(from: steps - 1, through: 0, by: -1) {
            let dt = ts[i] - ts[i + 1]
            // v-prediction: x_{i+1} = x_i - dt o(x_i), so do = -dt dx_{i+1}, dx_i = dx_{i+1} + J^T do.
            // x-prediction: x_{i+1} = x_i + (dt / t)(o(x_i) - x_i), so do = (dt / t) dx_{i+1},
            // dx_i = (1 - dt / t) dx_{i+1} + J^T do. x_0 = z is fixed.
            if c.predictsClean {
                let k = dt / ts[i]
                for j in 0..<n { dv[j] = k * dx[j]; dx[j] *= 1 - k }
            } else {
                for j in 0..<n { dv[j] = -dt * dx[j] }
            }
            if i > 0 {
                dx.withUnsafeMutableBufferPointer { d in
                    dv.withUnsafeBufferPointer { reasoner.backward(acts[i], dv: $0.baseAddress!, mode: .loraOnly, dxt: d.baseAddress!) }
                }
            } else {
                dv.withUnsafeBufferPointer { reasoner.backward(acts[i], dv: $0.baseAddress!, mode: .loraOnly) }
            }
        }
    }

    /// Model evaluations the forward pass cost (one per step).
    public var evaluations: Int { steps }
}
