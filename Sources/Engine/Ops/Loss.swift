/// Mean squared error, optionally weighted per element (zero weight masks padded entries):
/// `loss = Σ w (pred - target)² / Σ w` (with w = 1 when no weights are given).
public enum MSE {
    /// pred, target, weight: `[n]`. Returns the loss (accumulated in Double, in index order).
    public static func forward(pred: ConstFloatPointer, target: ConstFloatPointer, weight: ConstFloatPointer?,
                               n: Int) -> Float {
        var s = 0.0, wsum = 0.0
        for i in 0..<n {
            let d = Double(pred[i] - target[i])
            let w = Double(weight?[i] ?? 1)
            s += w * d * d
            wsum += w
        }
        return wsum > 0 ? Float(s / wsum) : 0
    }

    /// dpred += dloss · 2 w (pred - target) / Σ w.
    public static func backward(dpred: FloatPointer, pred: ConstFloatPointer, target: ConstFloatPointer,
                                weight: ConstFloatPointer?, n: Int, dloss: Float = 1) {
        var wsum = 0.0
        if let weight { for i in 0..<n { wsum += Double(weight[i]) } } else { wsum = Double(n) }
        if wsum <= 0 { return }
        let k = Float(2 / wsum) * dloss
        parallelFor(n, grain: 4096) { r in
            for i in r { dpred[i] += k * (weight?[i] ?? 1) * (pred[i] - target[i]) }
        }
    }
}

/// Masked mean over the tokens of each sequence (pooling, e.g. of prompt tokens):
/// `out[b, :] = Σ_t m[b,t] inp[b,t,:] / Σ_t m[b,t]`; a sequence with no valid token gets zeros.
public enum MeanPool {
    /// out: `[B, C]`; inp: `[B, T, C]`; valid: `[B, T]` or nil (all tokens).
    public static func forward(out: FloatPointer, inp: ConstFloatPointer, valid: UnsafePointer<Bool>?,
                               b B: Int, t T: Int, c C: Int) {
        for b in 0..<B {
            let o = out + b * C
            o.update(repeating: 0, count: C)
            var n = 0
            for t in 0..<T where valid?[b * T + t] ?? true {
                let x = inp + (b * T + t) * C
                for c in 0..<C { o[c] += x[c] }
                n += 1
            }
            if n > 0 { let inv = 1 / Float(n); for c in 0..<C { o[c] *= inv } }
        }
    }

    /// dinp[b,t,:] += dout[b,:] / count for valid tokens.
    public static func backward(dinp: FloatPointer, dout: ConstFloatPointer, valid: UnsafePointer<Bool>?,
                                b B: Int, t T: Int, c C: Int) {
        for b in 0..<B {
            var n = 0
            for t in 0..<T where valid?[b * T + t] ?? true { n += 1 }
            if n == 0 { continue }
            let inv = 1 / Float(n), g = dout + b * C
            for t in 0..<T where valid?[b * T + t] ?? true {
                let d = dinp + (b * T + t) * C
                for c in 0..<C { d[c] += g[c] * inv }
            }
        }
    }
}

/// Sum and mean of a buffer, in Double, in index order.
public enum Reduce {
    public static func sum(_ x: ConstFloatPointer, n: Int) -> Float {
        var s = 0.0
        for i in 0..<n { s += Double(x[i]) }
        return Float(s)
    }

    public static func mean(_ x: ConstFloatPointer, n: Int) -> Float { n > 0 ? sum(x, n: n) / Float(n) : 0 }

    /// Backward of `sum` (`dx += dsum`) and of `mean` (`dx += dmean / n`).
    public static func sumBackward(dx: FloatPointer, n: Int, dsum: Float) { for i in 0..<n { dx[i] += dsum } }
    public static func meanBackward(dx: FloatPointer, n: Int, dmean: Float) {
        if n > 0 { sumBackward(dx: dx, n: n, dsum: dmean / Float(n)) }
    }
}
