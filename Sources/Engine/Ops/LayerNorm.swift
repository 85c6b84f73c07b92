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
                let m = rowSum(x, C) { $0 } / Float(C)
                let v = rowSum(x, C) { ($0 - m) * ($0 - m) } / Float(C)
                let rs = 1 / (v + eps).squareRoot()
                let o = out + r * C
                // one loop per case, so that each vectorises (same arithmetic in every case)
                switch (weight, bias) {
                case let (w?, b?): for c in 0..<C { o[c] = (x[c] - m) * rs * w[c] + b[c] }
                case let (w?, nil): for c in 0..<C { o[c] = (x[c] - m) * rs * w[c] }
                case let (nil, b?): for c in 0..<C { o[c] = (x[c] - m) * rs + b[c] }
                case (nil, nil): for c in 0..<C { o[c] = (x[c] - m) * rs }
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
                    var gMean: Float, gxMean: Float
                    if let weight {
                        gMean = rowSum2(g, weight, C) { $0 * $1 }
                        gxMean = rowSum3(g, weight, x, C) { $0 * $1 * ($2 - m) * rs }
                        gMean /= Float(C); gxMean /= Float(C)
                        for c in 0..<C { d[c] += (weight[c] * g[c] - gMean - (x[c] - m) * rs * gxMean) * rs }
                    } else {
                        gMean = rowSum(g, C) { $0 }
                        gxMean = rowSum2(g, x, C) { $0 * ($1 - m) * rs }
                        gMean /= Float(C); gxMean /= Float(C)
                        for c in 0..<C { d[c] += (g[c] - gMean - (x[c] - m) * rs * gxMean) * rs }
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

// Row reductions with four running sums: a single sum is one long chain of dependent additions,
// four chains keep the adder busy. (The order is fixed, so results do not vary run to run.)

@inline(__always)
func rowSum(_ a: ConstFloatPointer, _ n: Int, _ f: (Float) -> Float) -> Float {
    var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
    var i = 0
    while i + 4 <= n { s0 += f(a[i]); s1 += f(a[i + 1]); s2 += f(a[i + 2]); s3 += f(a[i + 3]); i += 4 }
    while i < n { s0 += f(a[i]); i += 1 }
    return (s0 + s1) + (s2 + s3)
}

@inline(__always)
func rowSum2(_ a: ConstFloatPointer, _ b: ConstFloatPointer, _ n: Int, _ f: (Float, Float) -> Float) -> Float {
    var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
    var i = 0
    while i + 4 <= n {
        s0 += f(a[i], b[i]); s1 += f(a[i + 1], b[i + 1]); s2 += f(a[i + 2], b[i + 2]); s3 += f(a[i + 3], b[i + 3])
        i += 4
    }
    while i < n { s0 += f(a[i], b[i]); i += 1 }
    return (s0 + s1) + (s2 + s3)
}

@inline(__always)
func rowSum3(_ a: ConstFloatPointer, _ b: ConstFloatPointer, _ c: ConstFloatPointer, _ n: Int,
             _ f: (Float, Float, Float) -> Float) -> Float {
    var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
    var i = 0
    while i + 4 <= n {
        s0 += f(a[i], b[i], c[i]); s1 += f(a[i + 1], b[i + 1], c[i + 1])
        s2 += f(a[i + 2], b[i + 2], c[i + 2]); s3 += f(a[i + 3], b[i + 3], c[i + 3])
        i += 4
    }
    while i < n { s0 += f(a[i], b[i], c[i]); i += 1 }
    return (s0 + s1) + (s2 + s3)
}
