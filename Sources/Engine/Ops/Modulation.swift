/// DiT's adaptive modulation (adaLN-Zero): per-sequence shift, scale and gate vectors, computed
/// from the conditioning vector, modulate every token of that sequence.
///
/// The shift, scale and gate rows are slices of one modulation buffer `[B, 6C]` (shift1, scale1,
/// gate1, shift2, scale2, gate2), so they are passed with a row stride `stride` (6C there).
public enum Modulation {
    /// `out[b,t,:] = inp[b,t,:] · (1 + scale[b,:]) + shift[b,:]`.
    /// - Parameters: out, inp: `[B, T, C]`; shift, scale: `[B, stride]`, first C used.
    public static func forward(out: FloatPointer, inp: ConstFloatPointer, shift: ConstFloatPointer,
                               scale: ConstFloatPointer, b B: Int, t T: Int, c C: Int, stride: Int) {
        parallelFor(B * T, grain: 16) { rows in
            for r in rows {
                let b = r / T
                let x = inp + r * C, o = out + r * C, sh = shift + b * stride, sc = scale + b * stride
                for c in 0..<C { o[c] = x[c] * (1 + sc[c]) + sh[c] }
            }
        }
    }

    /// Adds the gradients of `forward` (writes them when not `accumulate`). dinp: `[B, T, C]` or
    /// nil; dshift, dscale: `[B, stride]` or nil.
    public static func backward(dinp: FloatPointer?, dshift: FloatPointer?, dscale: FloatPointer?,
                                dout: ConstFloatPointer, inp: ConstFloatPointer, scale: ConstFloatPointer,
                                b B: Int, t T: Int, c C: Int, stride: Int, accumulate: Bool = true) {
        bySequenceOrColumns(b: B, c: C) { bs, cols in
            let n = cols.count
            for b in bs {
                let sc = scale + b * stride + cols.lowerBound
                let dsh = dshift.map { $0 + b * stride + cols.lowerBound }, dsc = dscale.map { $0 + b * stride + cols.lowerBound }
                if !accumulate {
                    dsh?.update(repeating: 0, count: n)
                    dsc?.update(repeating: 0, count: n)
                }
                for t in 0..<T {
                    let r = b * T + t
                    let g = dout + r * C + cols.lowerBound, x = inp + r * C + cols.lowerBound
                    if let dinp {
                        let d = dinp + r * C + cols.lowerBound
                        if accumulate { for c in 0..<n { d[c] += g[c] * (1 + sc[c]) } } else { for c in 0..<n { d[c] = g[c] * (1 + sc[c]) } }
                    }
                    if let dsh { for c in 0..<n { dsh[c] += g[c] } }
                    if let dsc { for c in 0..<n { dsc[c] += g[c] * x[c] } }
                }
            }
        }
    }
}

/// Runs `body(sequences, columns)` over disjoint parts of a `[B, T, C]` backward pass whose
/// per-sequence sums (modulation gradients) must each be owned by one thread: whole sequences
/// per thread when there are at least two (rows stay contiguous), else column ranges. Every
/// (sequence, column) sum adds its rows in the same order either way, so the results do not
/// depend on the split.
@inline(__always)
func bySequenceOrColumns(b B: Int, c C: Int, _ body: (Range<Int>, Range<Int>) -> Void) {
    if B >= 2 {
        parallelFor(B) { bs in body(bs, 0..<C) }
    } else {
        parallelFor(C, grain: 32) { cols in body(0..<B, cols) }
    }
}

/// Gated residual of adaLN-Zero: `out[b,t,:] = residual[b,t,:] + gate[b,:] · inp[b,t,:]`.
public enum GatedResidual {
    /// out, residual, inp: `[B, T, C]`; gate: `[B, stride]`, first C used. `out` may be `residual`.
    public static func forward(out: FloatPointer, residual: ConstFloatPointer, inp: ConstFloatPointer,
                               gate: ConstFloatPointer, b B: Int, t T: Int, c C: Int, stride: Int) {
        parallelFor(B * T, grain: 16) { rows in
            for r in rows {
                let g = gate + (r / T) * stride
                let o = out + r * C, x = inp + r * C, res = residual + r * C
                for c in 0..<C { o[c] = res[c] + g[c] * x[c] }
            }
        }
    }

    /// Adds the gradients (writes them when not `accumulate`; `dresidual` is written when not
    /// `accumulateResidual`). dresidual, dinp: `[B, T, C]` or nil; dgate: `[B, stride]` or nil.
    public static func backward(dresidual: FloatPointer?, dinp: FloatPointer?, dgate: FloatPointer?,
                                dout: ConstFloatPointer, inp: ConstFloatPointer, gate: ConstFloatPointer,
                                b B: Int, t T: Int, c C: Int, stride: Int,
                                accumulate: Bool = true, accumulateResidual: Bool = true) {
        bySequenceOrColumns(b: B, c: C) { bs, cols in
            let n = cols.count
            for b in bs {
                let ga = gate + b * stride + cols.lowerBound
                let dg = dgate.map { $0 + b * stride + cols.lowerBound }
                if !accumulate { dg?.update(repeating: 0, count: n) }
                for t in 0..<T {
                    let r = b * T + t
                    let g = dout + r * C + cols.lowerBound
                    if let dresidual {
                        let d = dresidual + r * C + cols.lowerBound
                        if accumulateResidual { for c in 0..<n { d[c] += g[c] } } else { d.update(from: g, count: n) }
                    }
                    if let dinp {
                        let d = dinp + r * C + cols.lowerBound
                        if accumulate { for c in 0..<n { d[c] += g[c] * ga[c] } } else { for c in 0..<n { d[c] = g[c] * ga[c] } }
                    }
                    if let dg { let x = inp + r * C + cols.lowerBound; for c in 0..<n { dg[c] += g[c] * x[c] } }
                }
            }
        }
    }
}

/// Elementwise sum of two buffers (residual connections).
public enum Residual {
    /// out = a + b, all `[n]`. `out` may be `a` or `b`.
    public static func forward(out: FloatPointer, a: ConstFloatPointer, b: ConstFloatPointer, n: Int) {
        parallelFor(n, grain: 4096) { r in for i in r { out[i] = a[i] + b[i] } }
    }

    /// da += dout, db += dout (either may be nil).
    public static func backward(da: FloatPointer?, db: FloatPointer?, dout: ConstFloatPointer, n: Int) {
        parallelFor(n, grain: 4096) { r in
            if let da { for i in r { da[i] += dout[i] } }
            if let db { for i in r { db[i] += dout[i] } }
        }
    }
}
