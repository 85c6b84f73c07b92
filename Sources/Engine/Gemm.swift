import CBLAS

/// `C = alpha · op(A) · op(B) + beta · C` (row-major; op = transpose when asked), on the engine's
/// threads: the output is cut into one block of rows (or of columns, when it is wider than tall)
/// per thread, and each thread runs single-threaded OpenBLAS on its block.
///
/// Why not OpenBLAS's own threads: after each product its workers spin waiting for the next
/// one, and on a 2-core machine they then compete with the engine's threads in the elementwise
/// ops and attention that follow; measured here, that made a LoRA step 4 times slower. With every
/// product split by the engine itself there is one pool, one level of parallelism per op, and
/// each output element is computed by one thread in a fixed order (deterministic).
///
/// - Parameters: `a` is `[M, K]` (`[K, M]` when `transA`), `b` is `[K, N]` (`[N, K]` when
///   `transB`), `c` is `[M, N]`; `lda`, `ldb`, `ldc` are their row strides.
public func gemm(transA: Bool, transB: Bool, m M: Int, n N: Int, k K: Int, alpha: Float,
          a: ConstFloatPointer, lda: Int, b: ConstFloatPointer, ldb: Int,
          beta: Float, c: FloatPointer, ldc: Int) {
    if M == 0 || N == 0 { return }
    Threads.blasSerial()
    let ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans
    func call(_ m: Int, _ n: Int, _ a: ConstFloatPointer, _ b: ConstFloatPointer, _ c: FloatPointer) {
        cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(K), alpha, a, Int32(lda), b, Int32(ldb),
                    beta, c, Int32(ldc))
    }
    let threads = Threads.count
    // below about a million multiply-adds the split costs more than it gains
    if threads == 1 || M * N * K < 1 << 20 {
        call(M, N, a, b, c)
        return
    }
    let splitRows = M >= N
    let extent = splitRows ? M : N
    // blocks of whole multiples of 16 rows or columns, so every block keeps full kernel tiles
    let unit = 16
    let units = (extent + unit - 1) / unit
    let parts = min(threads, units)
    parallelFor(parts) { range in
        for p in range {
            let lo = min(extent, (units * p / parts) * unit)
            let hi = min(extent, (units * (p + 1) / parts) * unit)
            if lo >= hi { continue }
            if splitRows {
                call(hi - lo, N, transA ? a + lo : a + lo * lda, b, c + lo * ldc)
            } else {
                call(M, hi - lo, a, transB ? b + lo * ldb : b + lo, c + lo)
            }
        }
    }
}
