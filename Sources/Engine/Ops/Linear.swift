import CBLAS

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
            for r in 0..<N {
                let o = out + r * OC
                if accumulate {
                    for c in 0..<OC { o[c] += bias[c] }
                } else {
                    o.update(from: bias, count: OC)
                }
            }
            beta = 1
        }
        Threads.blasParallel()
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(N), Int32(OC), Int32(IC),
                    1, inp, Int32(IC), weight, Int32(IC), beta, out, Int32(OC))
    }

    /// Adds the gradients of `forward`. Any gradient may be nil (not wanted: no work is done).
    /// - Parameters:
    ///   - dinp: `[N, IC]` += dout · weight.
    ///   - dweight: `[OC, IC]` += doutᵀ · inp.
    ///   - dbias: `[OC]` += column sums of dout.
    ///   - dout: `[N, OC]`.
    public static func backward(dinp: FloatPointer?, dweight: FloatPointer?, dbias: FloatPointer?,
                                dout: ConstFloatPointer, inp: ConstFloatPointer, weight: ConstFloatPointer,
                                n N: Int, inC IC: Int, outC OC: Int) {
        if N == 0 { return }
        Threads.blasParallel()
        if let dinp {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(N), Int32(IC), Int32(OC),
                        1, dout, Int32(OC), weight, Int32(IC), 1, dinp, Int32(IC))
        }
        if let dweight {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(OC), Int32(IC), Int32(N),
                        1, dout, Int32(OC), inp, Int32(IC), 1, dweight, Int32(IC))
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
