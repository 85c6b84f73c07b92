extension DiTStack {
    /// One forward or backward pass over a workspace: the shapes of the batch, whether the LoRA
    /// path runs and whether base weights get gradients, and one method per op that runs it on
    /// a block's buffers and times it for the profile. With these, `forward` and `backward`
    /// read as lists of ops, the backward one the forward one reversed.
    ///
    /// Buffers are `[N, C]` (N = B·T rows) unless said otherwise; `mod` is a block's `[B, 6C]`
    /// modulation, and `shift`, `scale`, `gate` name which of its six C-wide parts to use.
    struct Pass {
        let stack: DiTStack
        let ws: Workspace
        let B: Int, T: Int, N: Int, C: Int, H: Int
        /// The LoRA path runs (an adapter is attached and not fused).
        let useLoRA: Bool
        /// Base weights get gradients (`.full`).
        let baseGrads: Bool

        init(_ stack: DiTStack, _ ws: Workspace, baseGrads: Bool) {
            self.stack = stack
            self.ws = ws
            B = ws.batch; T = ws.tokens; N = B * T
            C = stack.config.width; H = stack.config.hidden
            useLoRA = stack.adapter.map { !$0.fused } ?? false
            self.baseGrads = baseGrads
        }

        private var C6: Int { 6 * C }

        // MARK: forward ops

        /// `out = inp · Wᵀ + b` (+ the LoRA path) for block `l`'s map `kind`; `rows` defaults to N.
        func linear(_ l: Int, _ kind: LinearKind, out: FloatPointer, inp: ConstFloatPointer, rows: Int? = nil) {
            let s = stack.linears[l][kind.rawValue], n = rows ?? N
            stack.timed(.linear) {
                Linear.forward(out: out, inp: inp, weight: stack.store.value(s.weight), bias: stack.store.value(s.bias),
                               n: n, inC: s.inC, outC: s.outC)
            }
            if useLoRA { loraForward(l, kind, out: out, inp: inp, rows: n, outStride: nil) }
        }

        /// q, k, v in one product into `out: [N, 3C]`, then each map's LoRA path into its columns.
        func qkv(_ l: Int, out: FloatPointer, inp: ConstFloatPointer) {
            let s = stack.linears[l]
            stack.timed(.linear) {
                Linear.forward(out: out, inp: inp, weight: stack.store.value(s[0].weight), bias: stack.store.value(s[0].bias),
                               n: N, inC: C, outC: 3 * C)
            }
            if useLoRA {
                for kind in [LinearKind.q, .k, .v] {
                    loraForward(l, kind, out: out + kind.rawValue * C, inp: inp, rows: N, outStride: 3 * C)
                }
            }
        }

        private func loraForward(_ l: Int, _ kind: LinearKind, out: FloatPointer, inp: ConstFloatPointer, rows: Int,
                                 outStride: Int?) {
            guard let ad = stack.adapter, let (slot, a, b) = ad.slot(l, kind) else { return }
            stack.timed(.lora) {
                LoRA.forward(out: out, u: ws.loraU[l][kind.rawValue], inp: inp, a: ad.store.value(a), b: ad.store.value(b),
                             scale: ad.config.scale, n: rows, inC: slot.inC, outC: slot.outC, rank: ad.config.rank,
                             outStride: outStride)
            }
        }

        func layerNorm(out: FloatPointer, mean: FloatPointer, rstd: FloatPointer, inp: ConstFloatPointer) {
            stack.timed(.layerNorm) {
                LayerNorm.forward(out: out, mean: mean, rstd: rstd, inp: inp, weight: nil, bias: nil,
                                  n: N, c: C, eps: stack.config.eps)
            }
        }

        /// `out = inp · (1 + mod[scale]) + mod[shift]`
        func modulate(out: FloatPointer, inp: ConstFloatPointer, mod: FloatPointer, shift: Int, scale: Int) {
            stack.timed(.modulation) {
                Modulation.forward(out: out, inp: inp, shift: mod + shift * C, scale: mod + scale * C,
                                   b: B, t: T, c: C, stride: C6)
            }
        }

        /// `out = residual + mod[gate] · inp`
        func gatedResidual(out: FloatPointer, residual: ConstFloatPointer, inp: ConstFloatPointer, mod: FloatPointer, gate: Int) {
            stack.timed(.modulation) {
                GatedResidual.forward(out: out, residual: residual, inp: inp, gate: mod + gate * C, b: B, t: T, c: C, stride: C6)
            }
        }

        /// `out: [N, C]` from `qkv: [N, 3C]`, keeping the probabilities in `att: [B, NH, T, T]`.
        func attention(out: FloatPointer, att: FloatPointer, qkv: ConstFloatPointer) {
            stack.timed(.attention) {
                Attention.forward(out: out, att: att, qkv: qkv, keyValid: ws.keyValid, b: B, t: T, c: C,
                                  heads: stack.config.heads)
            }
        }

        /// `out = gelu(x)` over `[N, H]`, leaving gelu'(x) in place of x for the backward.
        func gelu(out: FloatPointer, inputThenGradient: FloatPointer) {
            stack.timed(.gelu) { GELU.forwardKeepingGradient(out: out, inputThenGradient: inputThenGradient, n: N * H) }
        }

        // MARK: backward ops
        //
        // A block's backward scratch is not zeroed: the first op to reach each buffer writes it
        // (`accumulate: false`) and later ones add. Weight gradients are always added to.

        /// `accumulate`: add into `dinp` (false: the base product writes it, the LoRA path adds).
        func linearBackward(_ l: Int, _ kind: LinearKind, dinp: FloatPointer?, dout: ConstFloatPointer,
                            inp: ConstFloatPointer, rows: Int? = nil, accumulate: Bool = false) {
            let s = stack.linears[l][kind.rawValue], n = rows ?? N
            stack.timed(.linear) {
                Linear.backward(dinp: dinp, dweight: baseGrads ? stack.store.grad(s.weight) : nil,
                                dbias: baseGrads ? stack.store.grad(s.bias) : nil, dout: dout, inp: inp,
                                weight: stack.store.value(s.weight), n: n, inC: s.inC, outC: s.outC,
                                accumulateInput: accumulate)
            }
            if useLoRA { loraBackward(l, kind, dinp: dinp, dout: dout, inp: inp, rows: n, outStride: nil) }
        }

        func qkvBackward(_ l: Int, dinp: FloatPointer?, dout: ConstFloatPointer, inp: ConstFloatPointer) {
            let s = stack.linears[l]
            stack.timed(.linear) {
                Linear.backward(dinp: dinp, dweight: baseGrads ? stack.store.grad(s[0].weight) : nil,
                                dbias: baseGrads ? stack.store.grad(s[0].bias) : nil,
                                dout: dout, inp: inp, weight: stack.store.value(s[0].weight), n: N, inC: C, outC: 3 * C,
                                accumulateInput: false)
            }
            if useLoRA {
                for kind in [LinearKind.q, .k, .v] {
                    loraBackward(l, kind, dinp: dinp, dout: dout + kind.rawValue * C, inp: inp, rows: N, outStride: 3 * C)
                }
            }
        }

        private func loraBackward(_ l: Int, _ kind: LinearKind, dinp: FloatPointer?, dout: ConstFloatPointer,
                                  inp: ConstFloatPointer, rows: Int, outStride: Int?) {
            guard let ad = stack.adapter, let (slot, a, b) = ad.slot(l, kind), let du = ws.loraDU else { return }
            stack.timed(.lora) {
                LoRA.backward(dinp: dinp, da: ad.store.grad(a), db: ad.store.grad(b), du: du, dout: dout, inp: inp,
                              u: ws.loraU[l][kind.rawValue], a: ad.store.value(a), b: ad.store.value(b),
                              scale: ad.config.scale, n: rows, inC: slot.inC, outC: slot.outC, rank: ad.config.rank,
                              outStride: outStride)
            }
        }

        /// Adds into `dinp` (the residual path's gradient is there already).
        func layerNormBackward(dinp: FloatPointer, dout: ConstFloatPointer, inp: ConstFloatPointer,
                               mean: ConstFloatPointer, rstd: ConstFloatPointer) {
            stack.timed(.layerNorm) {
                LayerNorm.backward(dinp: dinp, dweight: nil, dbias: nil, dout: dout, inp: inp, weight: nil,
                                   mean: mean, rstd: rstd, n: N, c: C)
            }
        }

        func modulateBackward(dinp: FloatPointer?, dmod: FloatPointer?, dout: ConstFloatPointer, inp: ConstFloatPointer,
                              mod: FloatPointer, shift: Int, scale: Int) {
            stack.timed(.modulation) {
                Modulation.backward(dinp: dinp, dshift: dmod.map { $0 + shift * C }, dscale: dmod.map { $0 + scale * C },
                                    dout: dout, inp: inp, scale: mod + scale * C, b: B, t: T, c: C, stride: C6,
                                    accumulate: false)
            }
        }

        /// Writes `dinp` and the gate's gradient; `dresidual` is added to when `accumulateResidual`
        /// (the caller's input gradient), else written.
        func gatedResidualBackward(dresidual: FloatPointer?, dinp: FloatPointer, dmod: FloatPointer?, dout: ConstFloatPointer,
                                   inp: ConstFloatPointer, mod: FloatPointer, gate: Int, accumulateResidual: Bool = false) {
            stack.timed(.modulation) {
                GatedResidual.backward(dresidual: dresidual, dinp: dinp, dgate: dmod.map { $0 + gate * C },
                                       dout: dout, inp: inp, gate: mod + gate * C, b: B, t: T, c: C, stride: C6,
                                       accumulate: false, accumulateResidual: accumulateResidual)
            }
        }

        func attentionBackward(dqkv: FloatPointer, dout: ConstFloatPointer, qkv: ConstFloatPointer, att: ConstFloatPointer) {
            stack.timed(.attention) {
                Attention.backward(dqkv: dqkv, scratch: ws.dAtt, dout: dout, qkv: qkv, att: att,
                                   b: B, t: T, c: C, heads: stack.config.heads, accumulate: false)
            }
        }

        func geluBackward(dinp: FloatPointer, dout: ConstFloatPointer, gradient: ConstFloatPointer) {
            stack.timed(.gelu) { GELU.backward(dinp: dinp, dout: dout, gradient: gradient, n: N * H) }
        }
    }
}
