import Basics

/// A stack of DiT transformer blocks (Peebles and Xie, "Scalable Diffusion Models with
/// Transformers", 2023) with adaLN-Zero conditioning, a key padding mask and optional LoRA on
/// its linear maps: the body of tutor's Reasoner.
///
/// API in short:
///
///     let store = ParameterStore()                    // the whole model's parameters
///     let stack = DiTStack(DiTConfig(blocks: 6, width: 256, heads: 4, condWidth: 256), store: store)
///     store.allocate(); stack.initialize(seed: 1)     // DiT init: xavier, adaLN zero
///     let ws = stack.makeWorkspace(maxBatch: 64, maxTokens: 96)   // once; reused every step
///     stack.forward(out: y, inp: x, cond: c, keyValid: mask, batch: B, tokens: T, workspace: ws)
///     store.zeroGradients()                           // (allocateGradients() once before)
///     stack.backward(dinp: dx, dcond: dc, dout: dy, workspace: ws, mode: .full)
///
///     // test time: frozen base, LoRA only
///     let lora = stack.attachLoRA(LoRAConfig(rank: 16, alpha: 16), seed: 7)   // its own store
///     let opt = AdamW(ParameterSubset(all: lora), learningRate: 1e-3)
///     lora.zeroGradients(); stack.forward(...); stack.backward(..., mode: .loraOnly); opt.update()
///     stack.fuseLoRA() / stack.unfuseLoRA(); stack.detachLoRA()
///
///     Threads.set(2)                                  // once per process (default 1)
///
/// One workspace holds one forward pass's activations: to backpropagate through several passes
/// (the few sampling steps of a video), give each pass its own workspace and call backward on
/// them in reverse order.
///
/// Shapes: x, y, dx, dy `[B, T, C]`; cond, dcond `[B, CC]`; keyValid `[B, T]` (true = real
/// token; nil = all real). `forward` keeps pointers to `inp`, `cond` and `keyValid` in the
/// workspace for `backward`: keep those buffers unchanged in between. `backward` ADDS into dinp,
/// dcond and the parameter gradients; either input gradient may be nil.
///
/// Each block (DiTBlock with adaLN-Zero):
///
///     mod = adaLN_modulation(silu(cond))                 [B, 6C]: shift1 scale1 gate1 shift2 scale2 gate2
///     h1  = layernorm(x) · (1 + scale1) + shift1         (no affine, eps 1e-6)
///     x   = x + gate1 · o(attention(q(h1), k(h1), v(h1), keyValid))
///     h2  = layernorm(x) · (1 + scale2) + shift2
///     x   = x + gate2 · fc2(gelu(fc1(h2)))
///
/// Parameter names (PEFT module names are these without `.weight`/`.bias`), prefixed by `prefix`:
/// `blocks.{l}.attn.{q,k,v,o}.{weight,bias}` (`[C, C]`, `[C]`), `blocks.{l}.mlp.fc1.*`
/// (`[H, C]`, `[H]`), `blocks.{l}.mlp.fc2.*` (`[C, H]`, `[C]`), `blocks.{l}.adaLN_modulation.*`
/// (`[6C, CC]`, `[6C]`). LoRA tensors: `<module>.lora_A.weight` `[R, in]` and
/// `<module>.lora_B.weight` `[out, R]`, in the store `attachLoRA` returns.
public final class DiTStack {
    public let config: DiTConfig
    public let store: ParameterStore
    public let prefix: String
    /// The linear maps of each block, in the order of `LinearKind`.
    let linears: [[LinearSlot]]
    /// The attached LoRA adapter (DiTStack+LoRA.swift).
    var adapter: Adapter?
    /// When set, forward and backward add the seconds spent in each kind of op.
    public var profile: OpProfile?

    /// Which parameters `backward` computes gradients for.
    public enum GradientMode: Sendable {
        /// Every base parameter (and the LoRA parameters, when an adapter is attached).
        case full
        /// The LoRA parameters only; the base weights get no gradient work at all.
        case loraOnly
    }

    /// The linear maps of a block.
    public enum LinearKind: Int, CaseIterable, Sendable {
        case q, k, v, o, fc1, fc2, adaLN
        /// Module path inside a block, as in `blocks.3.<path>`.
        public var path: String {
            switch self {
            case .q: return "attn.q"
            case .k: return "attn.k"
            case .v: return "attn.v"
            case .o: return "attn.o"
            case .fc1: return "mlp.fc1"
            case .fc2: return "mlp.fc2"
            case .adaLN: return "adaLN_modulation"
            }
        }
    }

    struct LinearSlot {
        let name: String        // module name, e.g. "blocks.3.attn.q"
        let inC: Int
        let outC: Int
        let weight: Int         // index in store
        let bias: Int
        var loraA: Int? = nil   // indices in the LoRA store
        var loraB: Int? = nil
    }

    /// Declares the stack's parameters in `store` (which must not be allocated yet).
    public init(_ config: DiTConfig, store: ParameterStore, prefix: String = "") {
        precondition(config.width % config.heads == 0,
                     "DiTStack: width \(config.width) must be divisible by heads \(config.heads)")
        self.config = config
        self.store = store
        self.prefix = prefix
        let C = config.width, H = config.hidden, CC = config.condWidth
        var all: [[LinearSlot]] = []
        for l in 0..<config.blocks {
            let base = "\(prefix)blocks.\(l)."
            // q, k, v weights then q, k, v biases, so that each triple is one contiguous
            // [3C, C] matrix and [3C] bias for a single matrix product.
            var w: [Int] = [], b: [Int] = []
            for kind in [LinearKind.q, .k, .v] { w.append(store.add(base + kind.path + ".weight", [C, C])) }
            for kind in [LinearKind.q, .k, .v] { b.append(store.add(base + kind.path + ".bias", [C])) }
            var slots: [LinearSlot] = []
            for (i, kind) in [LinearKind.q, .k, .v].enumerated() {
                slots.append(LinearSlot(name: base + kind.path, inC: C, outC: C, weight: w[i], bias: b[i]))
            }
            func add(_ kind: LinearKind, _ inC: Int, _ outC: Int) {
                let wi = store.add(base + kind.path + ".weight", [outC, inC])
                let bi = store.add(base + kind.path + ".bias", [outC])
                slots.append(LinearSlot(name: base + kind.path, inC: inC, outC: outC, weight: wi, bias: bi))
            }
            add(.o, C, C)
            add(.fc1, C, H)
            add(.fc2, H, C)
            add(.adaLN, CC, 6 * C)
            all.append(slots)
        }
        linears = all
    }

    /// Every parameter name of the stack, in store order.
    public var parameterNames: [String] {
        store.entries.filter { $0.name.hasPrefix(prefix + "blocks.") }.map(\.name)
    }

    /// DiT's initialisation: xavier-uniform weights, zero biases, and zero adaLN modulation (so
    /// every block starts as the identity: adaLN-Zero).
    public func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for slots in linears {
            for (kind, s) in zip(LinearKind.allCases, slots) {
                let w = store.value(s.weight)
                let n = s.inC * s.outC
                if kind == .adaLN {
                    w.update(repeating: 0, count: n)
                } else {
                    let bound = (6 / Float(s.inC + s.outC)).squareRoot()
                    for i in 0..<n { w[i] = (2 * rng.uniform() - 1) * bound }
                }
                store.value(s.bias).update(repeating: 0, count: s.outC)
            }
        }
    }

    // MARK: Forward

    /// Runs the stack on `B` sequences of `T` tokens.
    /// - Parameters:
    ///   - out: `[B, T, C]` output tokens (may not alias `inp`).
    ///   - inp: `[B, T, C]` input tokens; kept unchanged until `backward`.
    ///   - cond: `[B, CC]` conditioning vector per sequence (time embedding + pooled prompt, ...).
    ///   - keyValid: `[B, T]`, true for real tokens; nil when all are real.
    public func forward(out: FloatPointer, inp: ConstFloatPointer, cond: ConstFloatPointer,
                        keyValid: UnsafePointer<Bool>?, batch B: Int, tokens T: Int, workspace ws: Workspace) {
        precondition(ws.config == config, "DiTStack.forward: the workspace was made for another stack shape; use this stack's makeWorkspace")
        precondition(B >= 1 && B <= ws.maxBatch && T >= 1 && T <= ws.maxTokens,
                     "DiTStack.forward: batch \(B) x tokens \(T) exceeds the workspace (\(ws.maxBatch) x \(ws.maxTokens))")
        if let ad = adapter, !ad.fused { ws.prepareLoRA(rank: ad.config.rank) }
        ws.batch = B; ws.tokens = T; ws.inp = inp; ws.cond = cond; ws.keyValid = keyValid
        let p = Pass(self, ws, baseGrads: false)

        timed(.silu) { SiLU.forward(out: ws.siluCond, inp: cond, n: B * config.condWidth) }
        for l in 0..<config.blocks {
            let a = ws.blocks[l]
            let x = l == 0 ? inp : ConstFloatPointer(ws.blocks[l - 1].xOut)
            let xOut = l == config.blocks - 1 ? out : a.xOut
            // mod = adaLN_modulation(silu(cond)): shift1 scale1 gate1 shift2 scale2 gate2
            p.linear(l, .adaLN, out: a.mod, inp: ws.siluCond, rows: B)
            // attention half: x_mid = x + gate1 · o(attention(qkv(modulate(layernorm(x)))))
            p.layerNorm(out: a.ln1, mean: a.mean1, rstd: a.rstd1, inp: x)
            p.modulate(out: a.h1, inp: a.ln1, mod: a.mod, shift: 0, scale: 1)
            p.qkv(l, out: a.qkv, inp: a.h1)
            p.attention(out: a.y, att: a.att, qkv: a.qkv)
            p.linear(l, .o, out: a.ao, inp: a.y)
            p.gatedResidual(out: a.xMid, residual: x, inp: a.ao, mod: a.mod, gate: 2)
            // MLP half: x_out = x_mid + gate2 · fc2(gelu(fc1(modulate(layernorm(x_mid)))))
            p.layerNorm(out: a.ln2, mean: a.mean2, rstd: a.rstd2, inp: a.xMid)
            p.modulate(out: a.h2, inp: a.ln2, mod: a.mod, shift: 3, scale: 4)
            p.linear(l, .fc1, out: a.fc1, inp: a.h2)
            p.gelu(out: a.gel, inputThenGradient: a.fc1)  // a.fc1 then holds gelu' for the backward
            p.linear(l, .fc2, out: a.mo, inp: a.gel)
            p.gatedResidual(out: xOut, residual: a.xMid, inp: a.mo, mod: a.mod, gate: 5)
        }
    }

    // MARK: Backward

    /// Adds the gradients of the last `forward` (same workspace).
    /// - Parameters:
    ///   - dinp: `[B, T, C]` or nil; dcond: `[B, CC]` or nil.
    ///   - dout: `[B, T, C]` gradient of the loss with respect to the output.
    ///   - mode: `.full` adds into the base store's gradients (allocate them first) and the LoRA
    ///     gradients if an adapter is attached; `.loraOnly` adds into the LoRA gradients only.
    public func backward(dinp: FloatPointer?, dcond: FloatPointer?, dout: ConstFloatPointer,
                         workspace ws: Workspace, mode: GradientMode) {
        guard let inp = ws.inp, let cond = ws.cond else {
            preconditionFailure("DiTStack.backward: no forward pass has run with this workspace")
        }
        let B = ws.batch, CC = config.condWidth
        let useLoRA = adapter.map { !$0.fused } ?? false
        precondition(!(mode == .loraOnly && !useLoRA),
                     "DiTStack.backward(.loraOnly): no unfused LoRA adapter is attached; attach one (and unfuse it) to train it")
        if mode == .full {
            precondition(store.grads != nil, "DiTStack.backward(.full): call store.allocateGradients() first")
        }
        if useLoRA { lora!.allocateGradients() }
        let p = Pass(self, ws, baseGrads: mode == .full)
        // adaLN's gradient is needed for its own weights, for a LoRA on it, or for dcond.
        let adaLNLoRA = useLoRA && loraConfig!.targets.contains(.adaLN)
        let needMod = p.baseGrads || adaLNLoRA || dcond != nil

        if needMod { timed(.zero) { ws.dsilu.update(repeating: 0, count: B * CC) } }
        var dCur = dout  // gradient with respect to the current block's output
        for l in stride(from: config.blocks - 1, through: 0, by: -1) {
            let a = ws.blocks[l]
            let x = l == 0 ? inp : ConstFloatPointer(ws.blocks[l - 1].xOut)
            // where this block's input gradient goes: the caller's dinp for block 0
            let dx: FloatPointer? = l == 0 ? dinp : (l % 2 == 0 ? ws.dResA : ws.dResB)
            let dmod: FloatPointer? = needMod ? ws.dmod : nil
            // q, k, v, and the modulation and layer norm before them, are needed only for what
            // reaches x or the modulation
            let needH1 = dx != nil || needMod

            // the forward's calls in reverse order
            p.gatedResidualBackward(dresidual: ws.dMid, dinp: ws.dmo, dmod: dmod, dout: dCur, inp: a.mo, mod: a.mod, gate: 5)
            p.linearBackward(l, .fc2, dinp: ws.dgel, dout: ws.dmo, inp: a.gel)
            p.geluBackward(dinp: ws.dfc1, dout: ws.dgel, gradient: a.fc1)
            p.linearBackward(l, .fc1, dinp: ws.dh2, dout: ws.dfc1, inp: a.h2)
            p.modulateBackward(dinp: ws.dln2, dmod: dmod, dout: ws.dh2, inp: a.ln2, mod: a.mod, shift: 3, scale: 4)
            p.layerNormBackward(dinp: ws.dMid, dout: ws.dln2, inp: a.xMid, mean: a.mean2, rstd: a.rstd2)
            // block 0's dx is the caller's dinp, added to; the others' are written here first
            p.gatedResidualBackward(dresidual: dx, dinp: ws.dao, dmod: dmod, dout: ws.dMid, inp: a.ao, mod: a.mod, gate: 2,
                                    accumulateResidual: l == 0)
            p.linearBackward(l, .o, dinp: ws.dy, dout: ws.dao, inp: a.y)
            p.attentionBackward(dqkv: ws.dqkv, dout: ws.dy, qkv: a.qkv, att: a.att)
            p.qkvBackward(l, dinp: needH1 ? ws.dh1 : nil, dout: ws.dqkv, inp: a.h1)
            if needH1 {
                p.modulateBackward(dinp: dx != nil ? ws.dln1 : nil, dmod: dmod, dout: ws.dh1, inp: a.ln1, mod: a.mod,
                                   shift: 0, scale: 1)
            }
            if let dx { p.layerNormBackward(dinp: dx, dout: ws.dln1, inp: x, mean: a.mean1, rstd: a.rstd1) }
            if needMod {
                p.linearBackward(l, .adaLN, dinp: dcond != nil ? ws.dsilu : nil, dout: ws.dmod, inp: ws.siluCond, rows: B,
                                 accumulate: true)
            }
            if let dx { dCur = ConstFloatPointer(dx) }
        }
        if let dcond, needMod {
            timed(.silu) { SiLU.backward(dinp: dcond, dout: ws.dsilu, inp: cond, n: B * CC) }
        }
    }

    @inline(__always)
    func timed(_ op: OpProfile.Op, _ body: () -> Void) {
        guard let profile else { body(); return }
        let t0 = monotonicSeconds()
        body()
        profile.add(op, monotonicSeconds() - t0)
    }

    /// FLOPs (2 × multiply-adds) of one forward pass over `B` sequences of `T` tokens, by kind:
    /// the token-wise linear maps, attention's two products, the adaLN modulation, and the LoRA
    /// paths (when an unfused adapter is attached). Elementwise ops are not counted.
    public func forwardFlops(batch B: Int, tokens T: Int) -> FlopCounts {
        let C = Double(config.width), H = Double(config.hidden), CC = Double(config.condWidth)
        let N = Double(B * T), L = Double(config.blocks)
        var lora = 0.0
        if let cfg = loraConfig, !loraFused {
            let R = Double(cfg.rank)
            for kind in cfg.targets {
                let s = linears[0][kind.rawValue]
                lora += 2 * (kind == .adaLN ? Double(B) : N) * R * Double(s.inC + s.outC)
            }
        }
        return FlopCounts(linear: L * 2 * N * (4 * C * C + 2 * C * H),
                          attention: L * 4 * Double(B) * Double(T) * Double(T) * C,
                          modulation: L * 2 * Double(B) * CC * 6 * C,
                          lora: L * lora)
    }

    /// FLOPs by kind (see `forwardFlops`).
    public struct FlopCounts: Sendable {
        public var linear, attention, modulation, lora: Double
        public var total: Double { linear + attention + modulation + lora }

        /// The backward pass in `mode`: twice the forward for everything that gets weight
        /// gradients; with `.loraOnly` the frozen linear maps cost only their input gradient and
        /// the modulation costs nothing (no gradient reaches the conditioning).
        public func backward(_ mode: GradientMode) -> Double {
            switch mode {
            case .full: return 2 * total
            case .loraOnly: return linear + 2 * attention + 2 * lora
            }
        }
    }
}
