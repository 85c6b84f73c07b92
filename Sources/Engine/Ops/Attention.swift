import CBLAS
import CKernels

/// Multi-head self-attention over the tokens of each sequence, with a key padding mask:
/// `out = softmax(Q Kᵀ / sqrt(HD) + mask) V`, per sequence and head.
///
/// Q, K and V come packed per token as `qkv: [B, T, 3C]` (q | k | v, head h at columns
/// h·HD ..< (h+1)·HD of each), as one matrix product makes them. Keys whose mask entry is false
/// get probability 0; a query whose sequence has no valid key gets a zero output. Padded query
/// rows are computed like the others (their outputs are for the caller to ignore).
///
/// Two implementations, chosen by sequence length (`shortSequence`): up to 128 tokens,
/// hand-written kernels (CKernels: one (sequence, head) at a time in padded copies that stay in
/// cache, register-blocked products, vector exp), because at the Reasoner's 112 tokens and head
/// width 32 every product is too small for sgemm's fixed cost; longer sequences use
/// single-threaded sgemm per block of 128 query rows. Either way the work is parallel over
/// (sequence, head, block of query rows) items on the engine's threads, never nested.
public enum Attention {
    /// Sequences up to this many tokens use the hand-written kernels, longer ones sgemm
    /// (measured with `tutor bench engine`: at 112 tokens the kernels take 40% less time than
    /// sgemm, at 1,024 tokens twice as long).
    public static let shortSequence = 128

    /// - Parameters:
    ///   - out: `[B, T, C]`.
    ///   - att: `[B, NH, T, T]` attention probabilities, kept for the backward pass.
    ///   - qkv: `[B, T, 3C]`.
    ///   - keyValid: `[B, T]`, true for real tokens; nil when every token is real.
    public static func forward(out: FloatPointer, att: FloatPointer, qkv: ConstFloatPointer,
                               keyValid: UnsafePointer<Bool>?, b B: Int, t T: Int, c C: Int, heads NH: Int) {
        precondition(C % NH == 0, "Attention: width \(C) is not divisible by \(NH) heads")
        if T > shortSequence {
            forwardLong(out: out, att: att, qkv: qkv, keyValid: keyValid, b: B, t: T, c: C, heads: NH)
            return
        }
        eachHead(b: B, t: T, c: C, heads: NH) { h in
            let q = qkv + h.qkv
            tutor_attention_forward(q, q + C, q + 2 * C, 3 * C, keyValid.map { $0 + h.b * T }, T, h.width, h.scale, 0, T,
                                    att + h.index * T * T, out + h.out, C)
        }
    }

    /// Adds the gradients of `forward` into `dqkv` (writes them when not `accumulate`).
    /// - Parameters:
    ///   - dqkv: `[B, T, 3C]`, added to (or overwritten).
    ///   - scratch: `[B, NH, T, T]`, overwritten (used for sequences longer than `shortSequence`).
    ///   - dout: `[B, T, C]`; qkv and att as in forward.
    public static func backward(dqkv: FloatPointer, scratch: FloatPointer, dout: ConstFloatPointer,
                                qkv: ConstFloatPointer, att: ConstFloatPointer,
                                b B: Int, t T: Int, c C: Int, heads NH: Int, accumulate: Bool = true) {
        if T > shortSequence {
            backwardLong(dqkv: dqkv, scratch: scratch, dout: dout, qkv: qkv, att: att, b: B, t: T, c: C, heads: NH,
                         accumulate: accumulate)
            return
        }
        // dK and dV sum over all query rows, so a (sequence, head) pair is one item
        eachHead(b: B, t: T, c: C, heads: NH) { h in
            let q = qkv + h.qkv, dq = dqkv + h.qkv
            tutor_attention_backward(q, q + C, q + 2 * C, 3 * C, att + h.index * T * T, dout + h.out, C,
                                     T, h.width, h.scale, dq, dq + C, dq + 2 * C, accumulate ? 1 : 0)
        }
    }

    /// One (sequence, head) pair: its index b·NH + h, its sequence b, where its q columns start
    /// in `qkv: [B, T, 3C]` and its output columns in `[B, T, C]`, the head width and 1/sqrt of it.
    struct Head { let index: Int, b: Int, qkv: Int, out: Int, width: Int, scale: Float }

    /// Runs `body` for every (sequence, head) pair, taken by free engine threads.
    static func eachHead(b B: Int, t T: Int, c C: Int, heads NH: Int, _ body: (Head) -> Void) {
        let HD = C / NH, scale = 1 / Float(HD).squareRoot()
        parallelItems(B * NH) { bh in
            let b = bh / NH, h = bh % NH
            body(Head(index: bh, b: b, qkv: b * T * 3 * C + h * HD, out: b * T * C + h * HD, width: HD, scale: scale))
        }
    }

    /// `forward` for long sequences: sgemm per block of query rows.
    static func forwardLong(out: FloatPointer, att: FloatPointer, qkv: ConstFloatPointer,
                               keyValid: UnsafePointer<Bool>?, b B: Int, t T: Int, c C: Int, heads NH: Int) {
        let HD = C / NH, C3 = 3 * C
        let scale = 1 / Float(HD).squareRoot()
        // items: (sequence, head, block of up to 128 query rows), taken by free threads
        let tile = 128, tiles = (T + tile - 1) / tile
        Threads.blasSerial()
        parallelItems(B * NH * tiles) { item in
            let bh = item / tiles, i0 = (item % tiles) * tile, rows = min(tile, T - i0)
            let b = bh / NH, h = bh % NH
            let q = qkv + b * T * C3 + h * HD
            let k = q + C, v = q + 2 * C
            let a = att + bh * T * T + i0 * T
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(T), Int32(HD),
                        scale, q + i0 * C3, Int32(C3), k, Int32(C3), 0, a, Int32(T))
            maskedSoftmaxRows(a, rows: rows, cols: T, valid: keyValid.map { $0 + b * T })
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(HD), Int32(T),
                        1, a, Int32(T), v, Int32(C3), 0, out + (b * T + i0) * C + h * HD, Int32(C))
        }
    }

    /// `backward` for long sequences: sgemm per (sequence, head), `scratch` holds dS.
    static func backwardLong(dqkv: FloatPointer, scratch: FloatPointer, dout: ConstFloatPointer,
                                qkv: ConstFloatPointer, att: ConstFloatPointer,
                                b B: Int, t T: Int, c C: Int, heads NH: Int, accumulate: Bool = true) {
        let C3 = 3 * C, beta: Float = accumulate ? 1 : 0
        // dK and dV sum over all query rows, so a (sequence, head) pair is one item
        Threads.blasSerial()
        eachHead(b: B, t: T, c: C, heads: NH) { h in
            let HD = h.width, scale = h.scale
            let q = qkv + h.qkv, k = q + C, v = q + 2 * C
            let dq = dqkv + h.qkv, dk = dq + C, dv = dq + 2 * C
            let a = att + h.index * T * T, ds = scratch + h.index * T * T
            let dO = dout + h.out
            // dP = dO · Vᵀ ; dV (+)= Pᵀ · dO
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(T), Int32(HD),
                        1, dO, Int32(C), v, Int32(C3), 0, ds, Int32(T))
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(T), Int32(HD), Int32(T),
                        1, a, Int32(T), dO, Int32(C), beta, dv, Int32(C3))
            // dS = P ⊙ (dP - rowsum(dP ⊙ P))
            for i in 0..<T {
                let p = a + i * T, d = ds + i * T
                let dot = cblas_sdot(Int32(T), p, 1, d, 1)
                for j in 0..<T { d[j] = p[j] * (d[j] - dot) }
            }
            // dQ (+)= scale · dS · K ; dK (+)= scale · dSᵀ · Q
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(HD), Int32(T),
                        scale, ds, Int32(T), k, Int32(C3), beta, dq, Int32(C3))
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(T), Int32(HD), Int32(T),
                        scale, ds, Int32(T), q, Int32(C3), beta, dk, Int32(C3))
        }
    }

    /// Naive reference for `forward`: explicit loops, libm exp, Double sums.
    public static func forwardReference(out: FloatPointer, att: FloatPointer, qkv: ConstFloatPointer,
                                        keyValid: UnsafePointer<Bool>?, b B: Int, t T: Int, c C: Int, heads NH: Int) {
        let HD = C / NH, C3 = 3 * C
        let scale = 1 / Double(HD).squareRoot()
        for b in 0..<B {
            for h in 0..<NH {
                let a = att + (b * NH + h) * T * T
                for i in 0..<T {
                    var s = [Double](repeating: -.infinity, count: T)
                    var m = -Double.infinity
                    for j in 0..<T where keyValid?[b * T + j] ?? true {
                        var dot = 0.0
                        for d in 0..<HD {
                            dot += Double(qkv[(b * T + i) * C3 + h * HD + d]) * Double(qkv[(b * T + j) * C3 + C + h * HD + d])
                        }
                        s[j] = dot * scale
                        m = max(m, s[j])
                    }
                    var sum = 0.0
                    for j in 0..<T { s[j] = s[j] == -.infinity ? 0 : _exp(s[j] - m); sum += s[j] }
                    for j in 0..<T { a[i * T + j] = sum > 0 ? Float(s[j] / sum) : 0 }
                    for d in 0..<HD {
                        var o = 0.0
                        for j in 0..<T { o += Double(a[i * T + j]) * Double(qkv[(b * T + j) * C3 + 2 * C + h * HD + d]) }
                        out[(b * T + i) * C + h * HD + d] = Float(o)
                    }
                }
            }
        }
    }
}

/// Softmax of each row of `m: [rows, cols]` in place, over the columns where `valid` (`[cols]`,
/// nil = all) is true; masked columns become 0, and a row with no valid column becomes all 0.
/// (CKernels: 8 columns at a time with a vector exp.)
func maskedSoftmaxRows(_ m: FloatPointer, rows: Int, cols: Int, valid: UnsafePointer<Bool>?) {
    tutor_softmax_rows(m, rows, cols, valid)
}
