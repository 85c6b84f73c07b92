/// Layer normalisation over the last axis, with or without an affine weight and bias:
/// `out = (inp - mean) · rstd · weight + bias`, `rstd = 1 / sqrt(var + eps)`.
public enum LayerNorm {
    /// - Parameters:
    ///   - out: `[N, C]`; mean, rstd: `[N]` (kept for the backward pass).
    ///   - inp: `[N, C]`; weight, bias: `[C]` or nil (no affine: DiT's norms before modulation).
    public static func forward(out: FloatPointer, mean: FloatPointer, rstd: FloatPointer,
                               inp: ConstFloatPointer, weight: ConstFloatPointer?, bias: ConstFloatPointer?,
                               n N: Int, c C: Int, eps: Float = 1e-6) {
        parallelFor(N, grain: 16) { rows in
            for r in rows {
                let x = inp + r * C
                var s: Float = 0
                for c in 0..<C { s += x[c] }
                let m = s / Float(C)
                var v: Float = 0
                for c in 0..<C { let d = x[c] - m; v += d * d }
                let rs = 1 / (v / Float(C) + eps).squareRoot()
                let o = out + r * C
                for c in 0..<C {
                    var y = (x[c] - m) * rs
                    if let weight { y *= weight[c] }
                    if let bias { y += bias[c] }
                    o[c] = y
                }
                mean[r] = m
                rstd[r] = rs
            }
        }
    }

    /// Adds the gradients of `forward`.
    /// - Parameters:
    ///   - dinp: `[N, C]` or nil; dweight, dbias: `[C]` or nil; dout: `[N, C]`.
    public static func backward(dinp: FloatPointer?, dweight: FloatPointer?, dbias: FloatPointer?,
                                dout: ConstFloatPointer, inp: ConstFloatPointer, weight: ConstFloatPointer?,
                                mean: ConstFloatPointer, rstd: ConstFloatPointer, n N: Int, c C: Int) {
        if let dinp {
            parallelFor(N, grain: 16) { rows in
                for r in rows {
                    let x = inp + r * C, g = dout + r * C, d = dinp + r * C
                    let m = mean[r], rs = rstd[r]
                    var gMean: Float = 0, gxMean: Float = 0
                    for c in 0..<C {
                        let gn = weight.map { $0[c] * g[c] } ?? g[c]
                        gMean += gn
                        gxMean += gn * (x[c] - m) * rs
                    }
                    gMean /= Float(C); gxMean /= Float(C)
                    for c in 0..<C {
                        let gn = weight.map { $0[c] * g[c] } ?? g[c]
                        d[c] += (gn - gMean - (x[c] - m) * rs * gxMean) * rs
                    }
                }
            }
        }
        if dweight != nil || dbias != nil {
            parallelFor(C, grain: 64) { cols in
                for r in 0..<N {
                    let x = inp + r * C, g = dout + r * C
                    let m = mean[r], rs = rstd[r]
                    for c in cols {
                        dbias?[c] += g[c]
                        dweight?[c] += (x[c] - m) * rs * g[c]
                    }
                }
            }
        }
    }

    /// Naive reference for `forward` (two passes in Double).
    public static func forwardReference(out: FloatPointer, mean: FloatPointer, rstd: FloatPointer,
                                        inp: ConstFloatPointer, weight: ConstFloatPointer?, bias: ConstFloatPointer?,
                                        n N: Int, c C: Int, eps: Float = 1e-6) {
        for r in 0..<N {
            var s = 0.0
            for c in 0..<C { s += Double(inp[r * C + c]) }
            let m = s / Double(C)
            var v = 0.0
            for c in 0..<C { let d = Double(inp[r * C + c]) - m; v += d * d }
            let rs = 1 / (v / Double(C) + Double(eps)).squareRoot()
            for c in 0..<C {
                let y = (Double(inp[r * C + c]) - m) * rs
                out[r * C + c] = Float(y * Double(weight?[c] ?? 1) + Double(bias?[c] ?? 0))
            }
            mean[r] = Float(m); rstd[r] = Float(rs)
        }
    }
}
