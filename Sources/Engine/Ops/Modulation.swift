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
        parallelFor(C, grain: 32) { cols in
            for b in 0..<B {
                let sc = scale + b * stride
                if !accumulate {
                    if let dshift { (dshift + b * stride + cols.lowerBound).update(repeating: 0, count: cols.count) }
                    if let dscale { (dscale + b * stride + cols.lowerBound).update(repeating: 0, count: cols.count) }
                }
                for t in 0..<T {
                    let r = b * T + t
                    let g = dout + r * C, x = inp + r * C
                    if let dinp {
                        let d = dinp + r * C
                        if accumulate { for c in cols { d[c] += g[c] * (1 + sc[c]) } } else { for c in cols { d[c] = g[c] * (1 + sc[c]) } }
                    }
                    if let dshift { let d = dshift + b * stride; for c in cols { d[c] += g[c] } }
                    if let dscale { let d = dscale + b * stride; for c in cols { d[c] += g[c] * x[c] } }
                }
            }
        }
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
        parallelFor(C, grain: 32) { cols in
            for b in 0..<B {
                let ga = gate + b * stride
                if !accumulate, let dgate { (dgate + b * stride + cols.lowerBound).update(repeating: 0, count: cols.count) }
                for t in 0..<T {
                    let r = b * T + t
                    let g = dout + r * C
                    if let dresidual {
                        let d = dresidual + r * C
                        if accumulateResidual { for c in cols { d[c] += g[c] } } else { for c in cols { d[c] = g[c] } }
                    }
                    if let dinp {
                        let d = dinp + r * C
                        if accumulate { for c in cols { d[c] += g[c] * ga[c] } } else { for c in cols { d[c] = g[c] * ga[c] } }
                    }
                    if let dgate { let d = dgate + b * stride, x = inp + r * C; for c in cols { d[c] += g[c] * x[c] } }
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
