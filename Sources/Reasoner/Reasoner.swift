import Basics
import Engine
import Foundation
import Media

/// The Reasoner: a small image-and-text-to-video model over layers.
///
/// It sees the prompt and the first frame, cut into a plate and colour layers (`LayerCut`), and
/// generates every layer's offset in every frame (`Trajectory`) by flow matching; the
/// `Compositor` renders the video. A transformer (the engine's `DiTStack`, adaLN-Zero) runs over
///
///     tokens = 64 patch tokens (8 x 8 patches of the 64 x 64 first frame, + learned position)
///            + K = 32 layer tokens (colour, box, area, centroid, pooled alpha, present flag,
///              and the layer's noisy trajectory x_t, 16 frames x 2, in units of 16 px)
///            + up to 32 prompt tokens (learned word embedding + learned position)
///     cond   = MLP(sinusoid(1000 t)) + mean of the prompt embeddings
///
/// and a head on the layer tokens predicts each layer's clean trajectory `x1` (or, with
/// `prediction: "v"` in the config, the velocity `v = z - x1`); t = 1 is pure noise `z`, t = 0 the
/// clean trajectory, `x_t = (1 - t) x1 + t z`, and the velocity of a clean prediction is
/// `(x_t - x1) / t`. Sampling is Euler from t = 1 to 0; one step gives `z - v(z, 1)`, which is the
/// predicted `x1` itself. After reflow (docs/DESIGN.md, decision 3) that one-step output is a sample.
///
/// Use at test time (what `tutor run` does):
///
///     let r = try Reasoner.load(from: "models/reasoner")         // model.safetensors + config.json
///     let scene = r.prepare(prompt: prompt, firstFrame: image)     // layers, plate, tokens
///     let z = Reasoner.noise(seed: 7)                              // [K * frames * 2], fixed per task
///     let base = r.sample(scene, noise: z, steps: 4)               // Trajectory, pixels
///     let video = Compositor.render(scene.layered, base, final: true)   // Media.Video [16, 64, 64, 3]
///
///     let lora = r.attachLoRA(rank: 16, alpha: 16, seed: 7)        // B = 0: nothing changes yet
///     let opt = AdamW(lora.parameters, learningRate: 1e-3)
///     lora.zeroGradients()
///     let ds = DifferentiableSample(r, scene: scene, noise: z, steps: 1)   // or 4: through all steps
///     let v = Compositor.render(scene.layered, ds.trajectory)      // differentiable rendering
///     // dVideo = teacher gradient of v
///     ds.backward(dTrajectory: Compositor.renderBackward(scene.layered, ds.trajectory, dVideo: dVideo))
///     opt.update()
///     let final = r.sample(scene, noise: z, steps: 4, lora: lora)
///     try lora.save(to: folder + "/adapter")                       // PEFT layout
///
/// Parameter table (`model.safetensors`; the stack's names are the engine's, `blocks.{l}.attn.q`
/// and so on, which are also the PEFT module names of a LoRA):
///
///     patch_embed.weight [C, 192]   patch_embed.bias [C]    patch_pos [64, C]
///     layer_embed.weight [C, 75+32] layer_embed.bias [C]
///     prompt_embed.weight [V, C]    prompt_pos [P, C]
///     time_embed.fc1.weight [C, TE] time_embed.fc1.bias [C]
///     time_embed.fc2.weight [C, C]  time_embed.fc2.bias [C]
///     blocks.{l}.*                  (DiTStack, cond width C)
///     final.norm.weight [C]         final.norm.bias [C]
///     final.head.weight [32, C]     final.head.bias [32]
public final class Reasoner {
    public let config: ReasonerConfig
    public let store: ParameterStore
    public let stack: DiTStack
    public let tokenizer = PromptTokenizer()

    /// Indices of the model's own tensors in `store`.
    struct Slots {
        var patchW = 0, patchB = 0, patchPos = 0, layerW = 0, layerB = 0, promptE = 0, promptPos = 0
        var t1W = 0, t1B = 0, t2W = 0, t2B = 0, normW = 0, normB = 0, headW = 0, headB = 0
    }
    let slots: Slots

    /// Values per layer token input: features then the trajectory.
    public var layerInputWidth: Int { Scene.layerFeatures + config.frames * 2 }
    /// Values per layer of a trajectory (`frames * 2`).
    public var perLayer: Int { config.frames * 2 }

    /// Builds a model with zeroed parameters; call `initialize(seed:)` or load a checkpoint.
    public init(config: ReasonerConfig) {
        precondition(config.validationProblem == nil, "Reasoner: \(config.validationProblem!)")
        self.config = config
        let s = ParameterStore()
        let C = config.width, TE = config.timeEmbedding
        var k = Slots()
        k.patchW = s.add("patch_embed.weight", [C, Scene.patchFeatures])
        k.patchB = s.add("patch_embed.bias", [C])
        k.patchPos = s.add("patch_pos", [Scene.patches, C])
        k.layerW = s.add("layer_embed.weight", [C, Scene.layerFeatures + config.frames * 2])
        k.layerB = s.add("layer_embed.bias", [C])
        k.promptE = s.add("prompt_embed.weight", [config.vocabulary, C])
        k.promptPos = s.add("prompt_pos", [config.maxPromptTokens, C])
        k.t1W = s.add("time_embed.fc1.weight", [C, TE])
        k.t1B = s.add("time_embed.fc1.bias", [C])
        k.t2W = s.add("time_embed.fc2.weight", [C, C])
        k.t2B = s.add("time_embed.fc2.bias", [C])
        stack = DiTStack(DiTConfig(blocks: config.depth, width: C, heads: config.heads, hidden: config.mlpRatio * C,
                                   condWidth: C), store: s)
        k.normW = s.add("final.norm.weight", [C])
        k.normB = s.add("final.norm.bias", [C])
        k.headW = s.add("final.head.weight", [config.frames * 2, C])
        k.headB = s.add("final.head.bias", [config.frames * 2])
        s.allocate()
        store = s
        slots = k
    }

    /// Random initialisation: the stack as DiT (adaLN-Zero), embeddings small normal, linear maps
    /// uniform in ±sqrt(6 / (in + out)), the output head zero (DiT's final layer starts at zero).
    public func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        func xavier(_ i: Int) {
            let e = store.entries[i], bound = (6 / Float(e.shape[0] + e.shape[1])).squareRoot()
            let p = store.value(i)
            for j in 0..<e.count { p[j] = (2 * rng.uniform() - 1) * bound }
        }
        func normal(_ i: Int, _ std: Float) {
            let p = store.value(i)
            for j in 0..<store.entries[i].count { p[j] = rng.normal() * std }
        }
        func fill(_ i: Int, _ v: Float) { store.value(i).update(repeating: v, count: store.entries[i].count) }
        xavier(slots.patchW); fill(slots.patchB, 0); normal(slots.patchPos, 0.02)
        xavier(slots.layerW); fill(slots.layerB, 0)
        normal(slots.promptE, 0.02); normal(slots.promptPos, 0.02)
        normal(slots.t1W, 0.02); fill(slots.t1B, 0); normal(slots.t2W, 0.02); fill(slots.t2B, 0)
        fill(slots.normW, 1); fill(slots.normB, 0); fill(slots.headW, 0); fill(slots.headB, 0)
        stack.initialize(seed: seed &+ 1)
    }

    /// Cuts the first frame into layers and tokenises the prompt: everything the model
    /// conditions on. The frame may have any size; the model sees it letterboxed into 64 x 64
    /// (`Picture`).
    public func prepare(prompt: String, firstFrame: RGBImage) -> Scene {
        Scene(prompt: prompt, firstFrame: firstFrame, tokenizer: tokenizer)
    }

    /// Number of parameters of the base model.
    public var parameterCount: Int { store.count }

    // MARK: Activations

    /// Inputs, activations and gradients of one forward pass over up to `maxBatch` sequences, in
    /// one allocation, plus the stack's workspace. Create once, reuse every step.
    public final class Activations {
        public let maxBatch: Int
        public internal(set) var batch = 0
        let ws: DiTStack.Workspace
        let memory: FloatPointer
        let ids: UnsafeMutablePointer<Int32>      // [B, P]
        let keyValid: UnsafeMutablePointer<Bool>  // [B, T]
        let promptValid: UnsafeMutablePointer<Bool> // [B, P]
        // inputs
        let patchIn: FloatPointer   // [B, 64, 192]
        let layerIn: FloatPointer   // [B, K, LI]
        let tIn: FloatPointer       // [B]  (1000 t)
        // forward
        let patchTok: FloatPointer  // [B, 64, C]
        let layerTok: FloatPointer  // [B, K, C]
        let promptTok: FloatPointer // [B, P, C]
        let x: FloatPointer         // [B, T, C]
        let temb: FloatPointer      // [B, TE]
        let th: FloatPointer        // [B, C]
        let ths: FloatPointer       // [B, C]
        let tc: FloatPointer        // [B, C]
        let pooled: FloatPointer    // [B, C]
        let cond: FloatPointer      // [B, C]
        let y: FloatPointer         // [B, T, C]
        let lay: FloatPointer       // [B, K, C]
        let ln: FloatPointer        // [B, K, C]
        let lnMean: FloatPointer    // [B, K]
        let lnRstd: FloatPointer    // [B, K]
        /// The predicted velocity, `[B, K, frames * 2]` (normalised units).
        public let v: FloatPointer
        // backward
        let dln: FloatPointer       // [B, K, C]
        let dlay: FloatPointer      // [B, K, C]
        let dy: FloatPointer        // [B, T, C]
        let dx: FloatPointer        // [B, T, C]
        let dcond: FloatPointer     // [B, C]
        let dths: FloatPointer      // [B, C]
        let dth: FloatPointer       // [B, C]
        let dtok: FloatPointer      // [B, 64, C] gathered token gradients (largest group)
        let dlayerIn: FloatPointer  // [B, K, LI]
        let floats: Int

        init(_ r: Reasoner, maxBatch B: Int) {
            maxBatch = B
            let c = r.config, C = c.width, K = c.maxLayers, P = c.maxPromptTokens, T = c.tokens
            let LI = r.layerInputWidth, TE = c.timeEmbedding, F2 = c.frames * 2
            ws = r.stack.makeWorkspace(maxBatch: B, maxTokens: T)
            let sizes = [B * Scene.patches * Scene.patchFeatures, B * K * LI, B,
                         B * Scene.patches * C, B * K * C, B * P * C, B * T * C, B * TE, B * C, B * C, B * C, B * C, B * C,
                         B * T * C, B * K * C, B * K * C, B * K, B * K, B * K * F2,
                         B * K * C, B * K * C, B * T * C, B * T * C, B * C, B * C, B * C, B * max(Scene.patches, P, K) * C,
                         B * K * LI]
            floats = sizes.reduce(0, +)
            memory = FloatPointer.allocate(capacity: floats)
            memory.initialize(repeating: 0, count: floats)
            var cur = memory
            func take(_ n: Int) -> FloatPointer { defer { cur += n }; return cur }
            patchIn = take(sizes[0]); layerIn = take(sizes[1]); tIn = take(sizes[2])
            patchTok = take(sizes[3]); layerTok = take(sizes[4]); promptTok = take(sizes[5]); x = take(sizes[6])
            temb = take(sizes[7]); th = take(sizes[8]); ths = take(sizes[9]); tc = take(sizes[10])
            pooled = take(sizes[11]); cond = take(sizes[12]); y = take(sizes[13]); lay = take(sizes[14])
            ln = take(sizes[15]); lnMean = take(sizes[16]); lnRstd = take(sizes[17]); v = take(sizes[18])
            dln = take(sizes[19]); dlay = take(sizes[20]); dy = take(sizes[21]); dx = take(sizes[22])
            dcond = take(sizes[23]); dths = take(sizes[24]); dth = take(sizes[25]); dtok = take(sizes[26])
            dlayerIn = take(sizes[27])
            ids = .allocate(capacity: B * P); ids.initialize(repeating: 0, count: B * P)
            keyValid = .allocate(capacity: B * T); keyValid.initialize(repeating: false, count: B * T)
            promptValid = .allocate(capacity: B * P); promptValid.initialize(repeating: false, count: B * P)
        }

        deinit {
            memory.deallocate(); ids.deallocate(); keyValid.deallocate(); promptValid.deallocate()
        }

        /// Bytes held, the stack's workspace included.
        public var bytes: Int { 4 * floats + ws.bytes }
    }

    public func makeActivations(maxBatch: Int) -> Activations { Activations(self, maxBatch: maxBatch) }

    // MARK: Forward

    /// Loads the conditioning of `scenes` (one per sequence) into `acts`. Scenes change less
    /// often than the noisy trajectory, so this is separate from `forward`.
    public func load(_ scenes: [Scene], into acts: Activations) {
        let B = scenes.count
        precondition(B >= 1 && B <= acts.maxBatch, "Reasoner.load: \(B) scenes for a batch of \(acts.maxBatch)")
        let K = config.maxLayers, P = config.maxPromptTokens, T = config.tokens, LI = layerInputWidth
        let LF = Scene.layerFeatures, np = Scene.patches
        for (b, s) in scenes.enumerated() {
            s.patchInputs.withUnsafeBufferPointer {
                (acts.patchIn + b * np * Scene.patchFeatures).update(from: $0.baseAddress!, count: np * Scene.patchFeatures)
            }
            for k in 0..<K {
                let dst = acts.layerIn + (b * K + k) * LI
                for j in 0..<LF { dst[j] = s.layerInputs[k * LF + j] }
            }
            for t in 0..<np { acts.keyValid[b * T + t] = true }
            for k in 0..<K { acts.keyValid[b * T + np + k] = k < s.layerCount }
            let toks = s.tokens.prefix(P)
            for j in 0..<P {
                let valid = j < toks.count
                acts.ids[b * P + j] = valid ? Int32(toks[toks.startIndex + j]) : 0
                acts.promptValid[b * P + j] = valid
                acts.keyValid[b * T + np + K + j] = valid
            }
        }
        acts.batch = B
    }

    /// Runs the model on the loaded scenes with noisy trajectories `xt` at times `t`.
    /// - Parameters:
    ///   - xt: `[B, K, frames, 2]` in normalised units (pixels / `trajectoryScale`).
    ///   - t: `[B]`, in [0, 1].
    /// - Returns: nothing; the velocity is in `acts.v`, `[B, K, frames * 2]`.
    public func forward(_ acts: Activations, xt: UnsafePointer<Float>, t: UnsafePointer<Float>) {
        let B = acts.batch, C = config.width, K = config.maxLayers, P = config.maxPromptTokens, T = config.tokens
        let LI = layerInputWidth, LF = Scene.layerFeatures, F2 = perLayer, np = Scene.patches, TE = config.timeEmbedding
        for b in 0..<B {
            for k in 0..<K {
                let dst = acts.layerIn + (b * K + k) * LI + LF, src = xt + (b * K + k) * F2
                dst.update(from: src, count: F2)
            }
            acts.tIn[b] = 1000 * t[b]
        }
        let s = slots, st = store
        Linear.forward(out: acts.patchTok, inp: acts.patchIn, weight: st.value(s.patchW), bias: st.value(s.patchB),
                       n: B * np, inC: Scene.patchFeatures, outC: C)
        Linear.forward(out: acts.layerTok, inp: acts.layerIn, weight: st.value(s.layerW), bias: st.value(s.layerB),
                       n: B * K, inC: LI, outC: C)
        Embedding.forward(out: acts.promptTok, ids: acts.ids, table: st.value(s.promptE), n: B * P, c: C,
                          vocabulary: config.vocabulary)
        let pos = st.value(s.patchPos), ppos = st.value(s.promptPos)
        for b in 0..<B {
            let xb = acts.x + b * T * C
            for i in 0..<np {
                let d = xb + i * C, a = acts.patchTok + (b * np + i) * C, p = pos + i * C
                for c in 0..<C { d[c] = a[c] + p[c] }
            }
            (xb + np * C).update(from: acts.layerTok + b * K * C, count: K * C)
            for j in 0..<P {
                let d = xb + (np + K + j) * C, a = acts.promptTok + (b * P + j) * C, p = ppos + j * C
                for c in 0..<C { d[c] = a[c] + p[c] }
            }
        }
        TimestepEmbedding.forward(out: acts.temb, t: acts.tIn, b: B, dim: TE)
        Linear.forward(out: acts.th, inp: acts.temb, weight: st.value(s.t1W), bias: st.value(s.t1B), n: B, inC: TE, outC: C)
        SiLU.forward(out: acts.ths, inp: acts.th, n: B * C)
        Linear.forward(out: acts.tc, inp: acts.ths, weight: st.value(s.t2W), bias: st.value(s.t2B), n: B, inC: C, outC: C)
        MeanPool.forward(out: acts.pooled, inp: acts.promptTok, valid: acts.promptValid, b: B, t: P, c: C)
        for i in 0..<(B * C) { acts.cond[i] = acts.tc[i] + acts.pooled[i] }
        stack.forward(out: acts.y, inp: acts.x, cond: acts.cond, keyValid: acts.keyValid, batch: B, tokens: T,
                      workspace: acts.ws)
        for b in 0..<B { (acts.lay + b * K * C).update(from: acts.y + (b * T + np) * C, count: K * C) }
        LayerNorm.forward(out: acts.ln, mean: acts.lnMean, rstd: acts.lnRstd, inp: acts.lay, weight: st.value(s.normW),
                          bias: st.value(s.normB), n: B * K, c: C)
        Linear.forward(out: acts.v, inp: acts.ln, weight: st.value(s.headW), bias: st.value(s.headB),
                       n: B * K, inC: C, outC: F2)
    }

    /// What `backward` computes gradients for.
    public enum GradientMode: Sendable {
        /// Every base parameter (training); `store.allocateGradients()` first.
        case full
        /// The attached LoRA's parameters only (test-time adaptation).
        case loraOnly
    }

    /// Adds the gradients of the last `forward` on `acts`, given `dv` (`[B, K, frames * 2]`).
    ///
    /// - Parameters:
    ///   - dxt: when given, `[B, K, frames * 2]`, ADDS the gradient with respect to the noisy
    ///     trajectory input (for backpropagating through several sampling steps).
    public func backward(_ acts: Activations, dv: UnsafePointer<Float>, mode: GradientMode, dxt: FloatPointer? = nil) {
        let B = acts.batch, C = config.width, K = config.maxLayers, P = config.maxPromptTokens, T = config.tokens
        let LI = layerInputWidth, LF = Scene.layerFeatures, F2 = perLayer, np = Scene.patches, TE = config.timeEmbedding
        let s = slots, st = store
        let full = mode == .full
        func g(_ i: Int) -> FloatPointer? { full ? st.grad(i) : nil }
        if full { precondition(st.grads != nil, "Reasoner.backward(.full): call store.allocateGradients() first") }

        acts.dln.update(repeating: 0, count: B * K * C)
        Linear.backward(dinp: acts.dln, dweight: g(s.headW), dbias: g(s.headB), dout: dv, inp: acts.ln,
                        weight: st.value(s.headW), n: B * K, inC: C, outC: F2)
        acts.dlay.update(repeating: 0, count: B * K * C)
        LayerNorm.backward(dinp: acts.dlay, dweight: g(s.normW), dbias: g(s.normB), dout: acts.dln, inp: acts.lay,
                           weight: st.value(s.normW), mean: acts.lnMean, rstd: acts.lnRstd, n: B * K, c: C)
        acts.dy.update(repeating: 0, count: B * T * C)
        for b in 0..<B { (acts.dy + (b * T + np) * C).update(from: acts.dlay + b * K * C, count: K * C) }
        let wantDx = full || dxt != nil
        if wantDx { acts.dx.update(repeating: 0, count: B * T * C) }
        if full { acts.dcond.update(repeating: 0, count: B * C) }
        stack.backward(dinp: wantDx ? acts.dx : nil, dcond: full ? acts.dcond : nil, dout: acts.dy,
                       workspace: acts.ws, mode: full ? .full : .loraOnly)

        // Layer tokens: the embedding's weights, and the gradient to x_t.
        if wantDx {
            for b in 0..<B { (acts.dtok + b * K * C).update(from: acts.dx + (b * T + np) * C, count: K * C) }
            if let dxt {
                acts.dlayerIn.update(repeating: 0, count: B * K * LI)
                Linear.backward(dinp: acts.dlayerIn, dweight: g(s.layerW), dbias: g(s.layerB), dout: acts.dtok,
                                inp: acts.layerIn, weight: st.value(s.layerW), n: B * K, inC: LI, outC: C)
                for r in 0..<(B * K) {
                    let d = dxt + r * F2, src = acts.dlayerIn + r * LI + LF
                    for j in 0..<F2 { d[j] += src[j] }
                }
            } else {
                Linear.backward(dinp: nil, dweight: g(s.layerW), dbias: g(s.layerB), dout: acts.dtok,
                                inp: acts.layerIn, weight: st.value(s.layerW), n: B * K, inC: LI, outC: C)
            }
        }
        guard full else { return }
        // Patch tokens.
        for b in 0..<B { (acts.dtok + b * np * C).update(from: acts.dx + b * T * C, count: np * C) }
        Linear.backward(dinp: nil, dweight: g(s.patchW), dbias: g(s.patchB), dout: acts.dtok, inp: acts.patchIn,
                        weight: st.value(s.patchW), n: B * np, inC: Scene.patchFeatures, outC: C)
        let dpos = st.grad(s.patchPos)!
        for b in 0..<B { for i in 0..<(np * C) { dpos[i] += acts.dtok[b * np * C + i] } }
        // Prompt tokens: position, pooled conditioning, embedding.
        for b in 0..<B { (acts.dtok + b * P * C).update(from: acts.dx + (b * T + np + K) * C, count: P * C) }
        let dppos = st.grad(s.promptPos)!
        for b in 0..<B {
            for j in 0..<P where acts.promptValid[b * P + j] {
                for c in 0..<C { dppos[j * C + c] += acts.dtok[(b * P + j) * C + c] }
            }
        }
        MeanPool.backward(dinp: acts.dtok, dout: acts.dcond, valid: acts.promptValid, b: B, t: P, c: C)
        for r in 0..<(B * P) where !acts.promptValid[r] { (acts.dtok + r * C).update(repeating: 0, count: C) }
        Embedding.backward(dtable: st.grad(s.promptE)!, dout: acts.dtok, ids: acts.ids, n: B * P, c: C)
        // Time embedding MLP.
        acts.dths.update(repeating: 0, count: B * C)
        Linear.backward(dinp: acts.dths, dweight: g(s.t2W), dbias: g(s.t2B), dout: acts.dcond, inp: acts.ths,
                        weight: st.value(s.t2W), n: B, inC: C, outC: C)
        acts.dth.update(repeating: 0, count: B * C)
        SiLU.backward(dinp: acts.dth, dout: acts.dths, inp: acts.th, n: B * C)
        Linear.backward(dinp: nil, dweight: g(s.t1W), dbias: g(s.t1B), dout: acts.dth, inp: acts.temb,
                        weight: st.value(s.t1W), n: B, inC: TE, outC: C)
    }
}
