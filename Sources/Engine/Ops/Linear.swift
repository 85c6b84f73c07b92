/// Linear map with optional bias: `out = inp · weightᵀ + bias`, one sgemm over all rows.
public enum Linear {
    /// - Parameters:
    ///   - out: `[N, OC]`, overwritten (or added to, with `accumulate`).
    ///   - inp: `[N, IC]`.
    ///   - weight: `[OC, IC]`.
    ///   - bias: `[OC]` or nil.
    public static func forward(out: FloatPointer, inp: ConstFloatPointer, weight: ConstFloatPointer,
                               bias: ConstFloatPointer?, n N: Int, inC IC: Int, outC OC: Int,
                               accumulate: Bool = false) {
        if N == 0 { return }
        var beta: Float = accumulate ? 1 : 0
        if let bias {
            parallelFor(N, grain: 64) { rows in
                for r in rows {
                    let o = out + r * OC
                    if accumulate {
                        for c in 0..<OC { o[c] += bias[c] }
                    } else {
                        o.update(from: bias, count: OC)
                    }
                }
            }
            beta = 1
        }
        gemm(transA: false, transB: true, m: N, n: OC, k: IC, alpha: 1,
             a: inp, lda: IC, b: weight, ldb: IC, beta: beta, c: out, ldc: OC)
    }

    /// Adds the gradients of `forward`. Any gradient may be nil (not wanted: no work is done).
    /// - Parameters:
    ///   - dinp: `[N, IC]` += dout · weight (`=` when not `accumulateInput`).
    ///   - dweight: `[OC, IC]` += doutᵀ · inp.
    ///   - dbias: `[OC]` += column sums of dout.
    ///   - dout: `[N, OC]`.
    public static func backward(dinp: FloatPointer?, dweight: FloatPointer?, dbias: FloatPointer?,
                                dout: ConstFloatPointer, inp: ConstFloatPointer, weight: ConstFloatPointer,
                                n N: Int, inC IC: Int, outC OC: Int, accumulateInput: Bool = true) {
        if N == 0 { return }
        if let dinp {
            gemm(transA: false, transB: false, m: N, n: IC, k: OC, alpha: 1,
                 a: dout, lda: OC, b: weight, ldb: IC, beta: accumulateInput ? 1 : 0, c: dinp, ldc: IC)
        }
        if let dweight {
            gemm(transA: true, transB: false, m: OC, n: IC, k: N, alpha: 1,
                 a: dout, lda: OC, b: inp, ldb: IC, beta: 1, c: dweight, ldc: IC)
        }
        if let dbias { columnSums(into: dbias, dout, rows: N, cols: OC) }
    }

    /// Naive reference for `forward` (triple loop, Double accumulation).
    public static func forwardReference(out: FloatPointer, inp: ConstFloatPointer, weight: ConstFloatPointer,
                                        bias: ConstFloatPointer?, n N: Int, inC IC: Int, outC OC: Int) {
        for r in 0..<N {
            for o in 0..<OC {
                var s = Double(bias?[o] ?? 0)
                for i in 0..<IC { s += Double(inp[r * IC + i]) * Double(weight[o * IC + i]) }
                out[r * OC + o] = Float(s)
            }
        }
    }

    /// Naive reference for `backward`.
    public static func backwardReference(dinp: FloatPointer?, dweight: FloatPointer?, dbias: FloatPointer?,
                                         dout: ConstFloatPointer, inp: ConstFloatPointer, weight: ConstFloatPointer,
                                         n N: Int, inC IC: Int, outC OC: Int) {
        for r in 0..<N {
            for o in 0..<OC {
                let d = dout[r * OC + o]
                dbias?[o] += d
                for i in 0..<IC {
                    dinp?[r * IC + i] += d * weight[o * IC + i]
                    dweight?[o * IC + i] += d * inp[r * IC + i]
                }
            }
        }
    }
}

/// `sums[c] += Σ_r m[r, c]` for `m: [rows, cols]`, split over column ranges so each thread
/// owns its outputs and the order of additions does not depend on the thread count.
func columnSums(into sums: FloatPointer, _ m: ConstFloatPointer, rows: Int, cols: Int) {
    parallelFor(cols, grain: 64) { range in
        for r in 0..<rows {
            let row = m + r * cols
            for c in range { sums[c] += row[c] }
        }
    }
}
