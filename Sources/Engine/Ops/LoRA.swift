import CBLAS

/// Low-rank adaptation of a frozen linear map: `out += (alpha / R) · (inp · Aᵀ) · Bᵀ`.
///
/// `A: [R, IC]` starts small and random, `B: [OC, R]` starts at zero, so an attached adapter
/// changes nothing until it is trained. The frozen weight gets no gradient and costs none.
/// Call `Linear.forward` for the base map first; this adds the low-rank path into its output.
public enum LoRA {
    /// - Parameters:
    ///   - out: `[N, OC]`, added to.
    ///   - u: `[N, R]`, overwritten with `inp · Aᵀ` (kept for the backward pass).
    ///   - inp: `[N, IC]`; `a: [R, IC]`; `b: [OC, R]`; `scale` = alpha / R.
    ///   - outStride: distance between rows of `out` (OC when nil; larger when the map writes a
    ///     column slice of a wider buffer, as q, k and v do in `[N, 3C]`).
    public static func forward(out: FloatPointer, u: FloatPointer, inp: ConstFloatPointer,
                               a: ConstFloatPointer, b: ConstFloatPointer, scale: Float,
                               n N: Int, inC IC: Int, outC OC: Int, rank R: Int, outStride: Int? = nil) {
        let ldo = Int32(outStride ?? OC)
        if N == 0 { return }
        Threads.blasParallel()
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(N), Int32(R), Int32(IC),
                    1, inp, Int32(IC), a, Int32(IC), 0, u, Int32(R))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(N), Int32(OC), Int32(R),
                    scale, u, Int32(R), b, Int32(R), 1, out, ldo)
    }

    /// Adds the gradients of the low-rank path (only; the base map's `dinp` comes from
    /// `Linear.backward`).
    /// - Parameters:
    ///   - dinp: `[N, IC]` or nil; da: `[R, IC]` or nil; db: `[OC, R]` or nil.
    ///   - du: `[N, R]` scratch, overwritten.
    ///   - dout: `[N, OC]` (rows `outStride` apart); inp: `[N, IC]`; u: `[N, R]` from forward.
    public static func backward(dinp: FloatPointer?, da: FloatPointer?, db: FloatPointer?, du: FloatPointer,
                                dout: ConstFloatPointer, inp: ConstFloatPointer, u: ConstFloatPointer,
                                a: ConstFloatPointer, b: ConstFloatPointer, scale: Float,
                                n N: Int, inC IC: Int, outC OC: Int, rank R: Int, outStride: Int? = nil) {
        if N == 0 { return }
        let ldo = Int32(outStride ?? OC)
        Threads.blasParallel()
        if let db {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(OC), Int32(R), Int32(N),
                        scale, dout, ldo, u, Int32(R), 1, db, Int32(R))
        }
        if da == nil && dinp == nil { return }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(N), Int32(R), Int32(OC),
                    scale, dout, ldo, b, Int32(R), 0, du, Int32(R))
        if let da {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(R), Int32(IC), Int32(N),
                        1, du, Int32(R), inp, Int32(IC), 1, da, Int32(IC))
        }
        if let dinp {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(N), Int32(IC), Int32(R),
                        1, du, Int32(R), a, Int32(IC), 1, dinp, Int32(IC))
        }
    }

    /// `weight += sign · scale · B · A`: merges the adapter into the weight (`sign` = 1) or takes
    /// it out again (`sign` = -1). weight: `[OC, IC]`.
    public static func merge(weight: FloatPointer, a: ConstFloatPointer, b: ConstFloatPointer, scale: Float,
                             sign: Float, inC IC: Int, outC OC: Int, rank R: Int) {
        Threads.blasParallel()
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(OC), Int32(IC), Int32(R),
                    sign * scale, b, Int32(R), a, Int32(IC), 1, weight, Int32(IC))
    }

    /// Naive reference for `forward`.
    public static func forwardReference(out: FloatPointer, u: FloatPointer, inp: ConstFloatPointer,
                                        a: ConstFloatPointer, b: ConstFloatPointer, scale: Float,
                                        n N: Int, inC IC: Int, outC OC: Int, rank R: Int) {
        for r in 0..<N {
            for k in 0..<R {
                var s = 0.0
                for i in 0..<IC { s += Double(inp[r * IC + i]) * Double(a[k * IC + i]) }
                u[r * R + k] = Float(s)
            }
            for o in 0..<OC {
                var s = 0.0
                for k in 0..<R { s += Double(u[r * R + k]) * Double(b[o * R + k]) }
                out[r * OC + o] += scale * Float(s)
            }
        }
    }
}
