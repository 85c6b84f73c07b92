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
        let ldo = outStride ?? OC
        if N == 0 { return }
        gemm(transA: false, transB: true, m: N, n: R, k: IC, alpha: 1,
             a: inp, lda: IC, b: a, ldb: IC, beta: 0, c: u, ldc: R)
        gemm(transA: false, transB: true, m: N, n: OC, k: R, alpha: scale,
             a: u, lda: R, b: b, ldb: R, beta: 1, c: out, ldc: ldo)
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
        let ldo = outStride ?? OC
        if let db {
            gemm(transA: true, transB: false, m: OC, n: R, k: N, alpha: scale,
                 a: dout, lda: ldo, b: u, ldb: R, beta: 1, c: db, ldc: R)
        }
        if da == nil && dinp == nil { return }
        gemm(transA: false, transB: false, m: N, n: R, k: OC, alpha: scale,
             a: dout, lda: ldo, b: b, ldb: R, beta: 0, c: du, ldc: R)
        if let da {
            gemm(transA: true, transB: false, m: R, n: IC, k: N, alpha: 1,
                 a: du, lda: R, b: inp, ldb: IC, beta: 1, c: da, ldc: IC)
        }
        if let dinp {
            gemm(transA: false, transB: false, m: N, n: IC, k: R, alpha: 1,
                 a: du, lda: R, b: a, ldb: IC, beta: 1, c: dinp, ldc: IC)
        }
    }

    /// `weight += sign · scale · B · A`: merges the adapter into the weight (`sign` = 1) or takes
    /// it out again (`sign` = -1). weight: `[OC, IC]`.
    public static func merge(weight: FloatPointer, a: ConstFloatPointer, b: ConstFloatPointer, scale: Float,
                             sign: Float, inC IC: Int, outC OC: Int, rank R: Int) {
        gemm(transA: false, transB: false, m: OC, n: IC, k: R, alpha: sign * scale,
             a: b, lda: R, b: a, ldb: IC, beta: 1, c: weight, ldc: IC)
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
