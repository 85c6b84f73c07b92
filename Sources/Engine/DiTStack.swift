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
    public private(set) var lora: ParameterStore?
    public private(set) var loraConfig: LoRAConfig?
    /// True while the LoRA product is merged into the base weights.
    public private(set) var loraFused = false
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

    // MARK: LoRA

    /// Attaches a LoRA adapter to the configured targets of every block and returns its store
    /// (allocated; A uniform in ±1/sqrt(in) as PEFT does, B zero, so nothing changes yet).
    /// Replaces any adapter attached before.
    @discardableResult
    public func attachLoRA(_ config: LoRAConfig, seed: UInt64) -> ParameterStore {
        if loraFused { unfuseLoRA() }
        let s = ParameterStore()
        var slotsAll = linears
        for l in 0..<slotsAll.count {
            for (ki, kind) in LinearKind.allCases.enumerated() where config.targets.contains(kind) {
                let slot = slotsAll[l][ki]
                slotsAll[l][ki].loraA = s.add(slot.name + ".lora_A.weight", [config.rank, slot.inC])
                slotsAll[l][ki].loraB = s.add(slot.name + ".lora_B.weight", [slot.outC, config.rank])
            }
        }
        s.allocate()
        var rng = SplitMix64(seed: seed)
        for slots in slotsAll {
            for slot in slots {
                guard let a = slot.loraA else { continue }
                let p = s.value(a), bound = 1 / Float(slot.inC).squareRoot()
                for i in 0..<(config.rank * slot.inC) { p[i] = (2 * rng.uniform() - 1) * bound }
            }
        }
        loraSlots = slotsAll
        lora = s
        loraConfig = config
        return s
    }

    /// Removes the adapter (taking it out of the weights first if it was fused).
    public func detachLoRA() {
        if loraFused { unfuseLoRA() }
        lora = nil
        loraConfig = nil
        loraSlots = nil
    }

    /// Merges `scale · B · A` into each adapted weight; forward then skips the low-rank path.
    public func fuseLoRA() {
        guard let lora, let cfg = loraConfig, let slots = loraSlots, !loraFused else { return }
        mergeLoRA(lora, cfg, slots, sign: 1)
        loraFused = true
    }

    /// Takes the merged product out of the weights again (exact up to float rounding).
    public func unfuseLoRA() {
        guard let lora, let cfg = loraConfig, let slots = loraSlots, loraFused else { return }
        mergeLoRA(lora, cfg, slots, sign: -1)
        loraFused = false
    }

    private var loraSlots: [[LinearSlot]]?

    private func mergeLoRA(_ lora: ParameterStore, _ cfg: LoRAConfig, _ slots: [[LinearSlot]], sign: Float) {
        for block in slots {
            for s in block {
                guard let a = s.loraA, let b = s.loraB else { continue }
                LoRA.merge(weight: store.value(s.weight), a: lora.value(a), b: lora.value(b), scale: cfg.scale,
                           sign: sign, inC: s.inC, outC: s.outC, rank: cfg.rank)
            }
        }
    }

    // MARK: Workspace

    /// Allocates the activations and backward scratch for up to `maxBatch` sequences of up to
    /// `maxTokens` tokens, in one allocation (plus one for LoRA intermediates once an adapter is
    /// attached). Create it once and pass it to every forward and backward.
    public func makeWorkspace(maxBatch: Int, maxTokens: Int) -> Workspace {
        Workspace(config, maxBatch: maxBatch, maxTokens: maxTokens)
    }

    /// Activations of one forward pass, kept for backward, and the backward pass's scratch.
    public final class Workspace {
        public let maxBatch: Int
        public let maxTokens: Int
        let config: DiTConfig
        let memory: FloatPointer
        public let floats: Int
        /// Per block: activation buffers (capacity for maxBatch × maxTokens).
        struct Block {
            var mod, ln1, mean1, rstd1, h1, qkv, att, y, ao, xMid, ln2, mean2, rstd2, h2, fc1, gel, mo, xOut: FloatPointer
        }
        var blocks: [Block] = []
        var siluCond: FloatPointer
        // backward scratch, shared by all blocks
        var dResA, dResB, dMid, dmo, dh2, dln2, dao, dy, dh1, dln1, dqkv, dAtt, dfc1, dgel, dmod, dsilu: FloatPointer
        // LoRA intermediates u = inp · Aᵀ per block and linear: [B, T, R] (or [B, R] for adaLN)
        var loraMemory: FloatPointer?
        var loraRank = 0
        var loraU: [[FloatPointer]] = []
        var loraDU: FloatPointer?
        // the last forward pass's inputs
        var batch = 0, tokens = 0
        var inp: ConstFloatPointer?
        var cond: ConstFloatPointer?
        var keyValid: UnsafePointer<Bool>?

        init(_ config: DiTConfig, maxBatch: Int, maxTokens: Int) {
            self.config = config
            self.maxBatch = maxBatch
            self.maxTokens = maxTokens
            let B = maxBatch, T = maxTokens, C = config.width, H = config.hidden
            let NH = config.heads, CC = config.condWidth
            let N = B * T
            let perBlock = B * 6 * C + 12 * N * C + 4 * N + B * NH * T * T + 2 * N * H
            let scratch = 10 * N * C + N * 3 * C + B * NH * T * T + 2 * N * H + B * 6 * C + B * CC
            floats = config.blocks * perBlock + B * CC + scratch
            memory = FloatPointer.allocate(capacity: floats)
            memory.initialize(repeating: 0, count: floats)
            var cursor = memory
            func take(_ n: Int) -> FloatPointer { defer { cursor += n }; return cursor }
            for _ in 0..<config.blocks {
                blocks.append(Block(
                    mod: take(B * 6 * C), ln1: take(N * C), mean1: take(N), rstd1: take(N), h1: take(N * C),
                    qkv: take(N * 3 * C), att: take(B * NH * T * T), y: take(N * C), ao: take(N * C),
                    xMid: take(N * C), ln2: take(N * C), mean2: take(N), rstd2: take(N), h2: take(N * C),
                    fc1: take(N * H), gel: take(N * H), mo: take(N * C), xOut: take(N * C)))
            }
            siluCond = take(B * CC)
            dResA = take(N * C); dResB = take(N * C); dMid = take(N * C)
            dmo = take(N * C); dh2 = take(N * C); dln2 = take(N * C); dao = take(N * C)
            dy = take(N * C); dh1 = take(N * C); dln1 = take(N * C)
            dqkv = take(N * 3 * C); dAtt = take(B * NH * T * T)
            dfc1 = take(N * H); dgel = take(N * H); dmod = take(B * 6 * C); dsilu = take(B * CC)
            precondition(cursor - memory == floats, "DiTStack.Workspace: layout arithmetic is off")
        }

        deinit {
            memory.deallocate()
            loraMemory?.deallocate()
        }

        /// Sizes the LoRA intermediates for `rank` (allocates only when the rank grows).
        func prepareLoRA(rank R: Int) {
            if loraMemory != nil && loraRank >= R { return }
            loraMemory?.deallocate()
            let N = maxBatch * maxTokens, L = config.blocks, K = LinearKind.allCases.count
            let n = L * K * N * R + N * R
            let p = FloatPointer.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            loraMemory = p
            loraRank = R
            loraU = (0..<L).map { l in (0..<K).map { k in p + (l * K + k) * N * R } }
            loraDU = p + L * K * N * R
        }

        /// Bytes held by the workspace.
        public var bytes: Int { 4 * (floats + (loraMemory != nil ? (config.blocks * LinearKind.allCases.count + 1) * maxBatch * maxTokens * loraRank : 0)) }
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
        let C = config.width, H = config.hidden, NH = config.heads, CC = config.condWidth
        let N = B * T, C6 = 6 * C
        let useLoRA = lora != nil && !loraFused
        if useLoRA, let cfg = loraConfig { ws.prepareLoRA(rank: cfg.rank) }
        ws.batch = B; ws.tokens = T; ws.inp = inp; ws.cond = cond; ws.keyValid = keyValid

        timed(.silu) { SiLU.forward(out: ws.siluCond, inp: cond, n: B * CC) }
        for l in 0..<config.blocks {
            let a = ws.blocks[l], s = linears[l]
            let x = l == 0 ? inp : ConstFloatPointer(ws.blocks[l - 1].xOut)
            let xOut = l == config.blocks - 1 ? out : a.xOut
            linearForward(l, .adaLN, out: a.mod, inp: ws.siluCond, n: B, ws: ws, useLoRA: useLoRA)
            // attention half
            timed(.layerNorm) {
                LayerNorm.forward(out: a.ln1, mean: a.mean1, rstd: a.rstd1, inp: x, weight: nil, bias: nil,
                                  n: N, c: C, eps: config.eps)
            }
            timed(.modulation) {
                Modulation.forward(out: a.h1, inp: a.ln1, shift: a.mod, scale: a.mod + C, b: B, t: T, c: C, stride: C6)
            }
            timed(.linear) {
                Linear.forward(out: a.qkv, inp: a.h1, weight: store.value(s[0].weight), bias: store.value(s[0].bias),
                               n: N, inC: C, outC: 3 * C)
            }
            if useLoRA {
                for kind in [LinearKind.q, .k, .v] {
                    loraForward(l, kind, out: a.qkv + kind.rawValue * C, inp: a.h1, n: N, ws: ws, outStride: 3 * C)
                }
            }
            timed(.attention) {
                Attention.forward(out: a.y, att: a.att, qkv: a.qkv, keyValid: keyValid, b: B, t: T, c: C, heads: NH)
            }
            linearForward(l, .o, out: a.ao, inp: a.y, n: N, ws: ws, useLoRA: useLoRA)
            timed(.modulation) {
                GatedResidual.forward(out: a.xMid, residual: x, inp: a.ao, gate: a.mod + 2 * C, b: B, t: T, c: C, stride: C6)
            }
            // MLP half
            timed(.layerNorm) {
                LayerNorm.forward(out: a.ln2, mean: a.mean2, rstd: a.rstd2, inp: a.xMid, weight: nil, bias: nil,
                                  n: N, c: C, eps: config.eps)
            }
            timed(.modulation) {
                Modulation.forward(out: a.h2, inp: a.ln2, shift: a.mod + 3 * C, scale: a.mod + 4 * C,
                                   b: B, t: T, c: C, stride: C6)
            }
            linearForward(l, .fc1, out: a.fc1, inp: a.h2, n: N, ws: ws, useLoRA: useLoRA)
            timed(.gelu) { GELU.forward(out: a.gel, inp: a.fc1, n: N * H) }
            linearForward(l, .fc2, out: a.mo, inp: a.gel, n: N, ws: ws, useLoRA: useLoRA)
            timed(.modulation) {
                GatedResidual.forward(out: xOut, residual: a.xMid, inp: a.mo, gate: a.mod + 5 * C, b: B, t: T, c: C, stride: C6)
            }
        }
    }

    private func linearForward(_ l: Int, _ kind: LinearKind, out: FloatPointer, inp: ConstFloatPointer, n: Int,
                               ws: Workspace, useLoRA: Bool) {
        let s = linears[l][kind.rawValue]
        timed(.linear) {
            Linear.forward(out: out, inp: inp, weight: store.value(s.weight), bias: store.value(s.bias),
                           n: n, inC: s.inC, outC: s.outC)
        }
        if useLoRA { loraForward(l, kind, out: out, inp: inp, n: n, ws: ws, outStride: nil) }
    }

    private func loraForward(_ l: Int, _ kind: LinearKind, out: FloatPointer, inp: ConstFloatPointer, n: Int,
                             ws: Workspace, outStride: Int?) {
        guard let lora, let cfg = loraConfig, let slot = loraSlots?[l][kind.rawValue],
              let a = slot.loraA, let b = slot.loraB else { return }
        timed(.lora) {
            LoRA.forward(out: out, u: ws.loraU[l][kind.rawValue], inp: inp, a: lora.value(a), b: lora.value(b),
                         scale: cfg.scale, n: n, inC: slot.inC, outC: slot.outC, rank: cfg.rank, outStride: outStride)
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
        let B = ws.batch, T = ws.tokens
        let C = config.width, H = config.hidden, NH = config.heads, CC = config.condWidth
        let N = B * T, C6 = 6 * C
        let useLoRA = lora != nil && !loraFused
        precondition(!(mode == .loraOnly && !useLoRA),
                     "DiTStack.backward(.loraOnly): no unfused LoRA adapter is attached; attach one (and unfuse it) to train it")
        if mode == .full {
            precondition(store.grads != nil, "DiTStack.backward(.full): call store.allocateGradients() first")
        }
        if useLoRA { lora!.allocateGradients() }
        let baseGrads = mode == .full
        // adaLN's gradient is needed for its own weights, for a LoRA on it, or for dcond.
        let adaLNLoRA = useLoRA && loraConfig!.targets.contains(.adaLN)
        let needMod = baseGrads || adaLNLoRA || dcond != nil

        if needMod { timed(.zero) { ws.dsilu.update(repeating: 0, count: B * CC) } }
        var dCur = dout  // gradient with respect to the current block's output
        for l in stride(from: config.blocks - 1, through: 0, by: -1) {
            let a = ws.blocks[l]
            let x = l == 0 ? inp : ConstFloatPointer(ws.blocks[l - 1].xOut)
            // where this block's input gradient goes: the caller's dinp for block 0
            let dx: FloatPointer? = l == 0 ? dinp : (l % 2 == 0 ? ws.dResA : ws.dResB)
            let wantDx = dx != nil
            timed(.zero) {
                if l > 0 { dx!.update(repeating: 0, count: N * C) }
                // dMid, dmo, dh2, dln2, dao, dy, dh1, dln1 lie one after another, each with room
                // for maxBatch × maxTokens rows
                let room = ws.maxBatch * ws.maxTokens * C
                for i in 0..<8 { (ws.dMid + i * room).update(repeating: 0, count: N * C) }
                ws.dqkv.update(repeating: 0, count: N * 3 * C)
                ws.dfc1.update(repeating: 0, count: N * H)
                ws.dgel.update(repeating: 0, count: N * H)
                if needMod { ws.dmod.update(repeating: 0, count: B * C6) }
            }
            let dmod: FloatPointer? = needMod ? ws.dmod : nil

            // x_out = x_mid + gate2 · mo
            timed(.modulation) {
                GatedResidual.backward(dresidual: ws.dMid, dinp: ws.dmo, dgate: dmod.map { $0 + 5 * C },
                                       dout: dCur, inp: a.mo, gate: a.mod + 5 * C, b: B, t: T, c: C, stride: C6)
            }
            linearBackward(l, .fc2, dinp: ws.dgel, dout: ws.dmo, inp: a.gel, n: N, ws: ws,
                           baseGrads: baseGrads, useLoRA: useLoRA)
            timed(.gelu) { GELU.backward(dinp: ws.dfc1, dout: ws.dgel, inp: a.fc1, n: N * H) }
            linearBackward(l, .fc1, dinp: ws.dh2, dout: ws.dfc1, inp: a.h2, n: N, ws: ws,
                           baseGrads: baseGrads, useLoRA: useLoRA)
            timed(.modulation) {
                Modulation.backward(dinp: ws.dln2, dshift: dmod.map { $0 + 3 * C }, dscale: dmod.map { $0 + 4 * C },
                                    dout: ws.dh2, inp: a.ln2, scale: a.mod + 4 * C, b: B, t: T, c: C, stride: C6)
            }
            timed(.layerNorm) {
                LayerNorm.backward(dinp: ws.dMid, dweight: nil, dbias: nil, dout: ws.dln2, inp: a.xMid, weight: nil,
                                   mean: a.mean2, rstd: a.rstd2, n: N, c: C)
            }
            // x_mid = x + gate1 · ao
            timed(.modulation) {
                GatedResidual.backward(dresidual: dx, dinp: ws.dao, dgate: dmod.map { $0 + 2 * C },
                                       dout: ws.dMid, inp: a.ao, gate: a.mod + 2 * C, b: B, t: T, c: C, stride: C6)
            }
            linearBackward(l, .o, dinp: ws.dy, dout: ws.dao, inp: a.y, n: N, ws: ws,
                           baseGrads: baseGrads, useLoRA: useLoRA)
            timed(.attention) {
                Attention.backward(dqkv: ws.dqkv, scratch: ws.dAtt, dout: ws.dy, qkv: a.qkv, att: a.att,
                                   b: B, t: T, c: C, heads: NH)
            }
            // q, k, v: one product for the base maps, one LoRA per adapted map
            let s = linears[l]
            let needH1 = wantDx || needMod
            timed(.linear) {
                Linear.backward(dinp: needH1 ? ws.dh1 : nil,
                                dweight: baseGrads ? store.grad(s[0].weight) : nil,
                                dbias: baseGrads ? store.grad(s[0].bias) : nil,
                                dout: ws.dqkv, inp: a.h1, weight: store.value(s[0].weight), n: N, inC: C, outC: 3 * C)
            }
            if useLoRA {
                for kind in [LinearKind.q, .k, .v] {
                    loraBackward(l, kind, dinp: needH1 ? ws.dh1 : nil, dout: ws.dqkv + kind.rawValue * C, inp: a.h1,
                                 n: N, ws: ws, outStride: 3 * C)
                }
            }
            if needH1 {
                timed(.modulation) {
                    Modulation.backward(dinp: wantDx ? ws.dln1 : nil, dshift: dmod, dscale: dmod.map { $0 + C },
                                        dout: ws.dh1, inp: a.ln1, scale: a.mod + C, b: B, t: T, c: C, stride: C6)
                }
            }
            if let dx {
                timed(.layerNorm) {
                    LayerNorm.backward(dinp: dx, dweight: nil, dbias: nil, dout: ws.dln1, inp: x, weight: nil,
                                       mean: a.mean1, rstd: a.rstd1, n: N, c: C)
                }
            }
            // mod = adaLN_modulation(silu(cond))
            if needMod {
                linearBackward(l, .adaLN, dinp: dcond != nil ? ws.dsilu : nil, dout: ws.dmod, inp: ws.siluCond, n: B,
                               ws: ws, baseGrads: baseGrads, useLoRA: useLoRA)
            }
            if let dx { dCur = ConstFloatPointer(dx) }
        }
        if let dcond, needMod {
            timed(.silu) { SiLU.backward(dinp: dcond, dout: ws.dsilu, inp: cond, n: B * CC) }
        }
    }

    private func linearBackward(_ l: Int, _ kind: LinearKind, dinp: FloatPointer?, dout: ConstFloatPointer,
                                inp: ConstFloatPointer, n: Int, ws: Workspace, baseGrads: Bool, useLoRA: Bool) {
        let s = linears[l][kind.rawValue]
        timed(.linear) {
            Linear.backward(dinp: dinp, dweight: baseGrads ? store.grad(s.weight) : nil,
                            dbias: baseGrads ? store.grad(s.bias) : nil, dout: dout, inp: inp,
                            weight: store.value(s.weight), n: n, inC: s.inC, outC: s.outC)
        }
        if useLoRA { loraBackward(l, kind, dinp: dinp, dout: dout, inp: inp, n: n, ws: ws, outStride: nil) }
    }

    private func loraBackward(_ l: Int, _ kind: LinearKind, dinp: FloatPointer?, dout: ConstFloatPointer,
                              inp: ConstFloatPointer, n: Int, ws: Workspace, outStride: Int?) {
        guard let lora, let cfg = loraConfig, let slot = loraSlots?[l][kind.rawValue],
              let a = slot.loraA, let b = slot.loraB, let du = ws.loraDU else { return }
        timed(.lora) {
            LoRA.backward(dinp: dinp, da: lora.grad(a), db: lora.grad(b), du: du, dout: dout, inp: inp,
                          u: ws.loraU[l][kind.rawValue], a: lora.value(a), b: lora.value(b), scale: cfg.scale,
                          n: n, inC: slot.inC, outC: slot.outC, rank: cfg.rank, outStride: outStride)
        }
    }

    @inline(__always)
    private func timed(_ op: OpProfile.Op, _ body: () -> Void) {
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

/// The shape of a DiT stack.
public struct DiTConfig: Codable, Sendable, Equatable {
    /// Number of transformer blocks.
    public var blocks: Int
    /// Token width C.
    public var width: Int
    /// Attention heads; width must be divisible by it.
    public var heads: Int
    /// MLP hidden width H (DiT: 4 C).
    public var hidden: Int
    /// Width CC of the conditioning vector.
    public var condWidth: Int
    /// Layer norm epsilon.
    public var eps: Float

    public init(blocks: Int, width: Int, heads: Int, hidden: Int? = nil, condWidth: Int, eps: Float = 1e-6) {
        self.blocks = blocks
        self.width = width
        self.heads = heads
        self.hidden = hidden ?? 4 * width
        self.condWidth = condWidth
        self.eps = eps
    }

    enum CodingKeys: String, CodingKey {
        case blocks, width, heads, hidden, eps
        case condWidth = "cond_width"
    }
}

/// A LoRA adapter's shape: rank R, alpha (the low-rank path is scaled by alpha / R) and which
/// linear maps of each block it adapts.
public struct LoRAConfig: Sendable, Equatable {
    public var rank: Int
    public var alpha: Float
    public var targets: [DiTStack.LinearKind]

    /// The attention projections and the MLP (q, k, v, o, fc1, fc2).
    public static let defaultTargets: [DiTStack.LinearKind] = [.q, .k, .v, .o, .fc1, .fc2]

    public init(rank: Int, alpha: Float, targets: [DiTStack.LinearKind] = LoRAConfig.defaultTargets) {
        precondition(rank >= 1, "LoRAConfig: rank must be at least 1")
        self.rank = rank
        self.alpha = alpha
        self.targets = targets
    }

    public var scale: Float { alpha / Float(rank) }

    /// PEFT's `target_modules` for this adapter (module paths inside a block, e.g. "attn.q").
    public var targetModules: [String] { targets.map(\.path) }
}

/// Seconds spent per kind of op, summed over calls (the benchmark's breakdown).
public final class OpProfile {
    public enum Op: String, CaseIterable, Sendable {
        case linear, lora, attention, layerNorm = "layernorm", modulation, gelu, silu, zero
    }
    public private(set) var seconds: [Op: Double] = [:]
    public init() {}
    public func add(_ op: Op, _ s: Double) { seconds[op, default: 0] += s }
    public func reset() { seconds = [:] }
    public var total: Double { seconds.values.reduce(0, +) }
}
