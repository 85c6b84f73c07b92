/// Token embedding lookup: `out[n, :] = table[ids[n], :]` (prompt tokens).
public enum Embedding {
    /// out: `[N, C]`; ids: `[N]`, each in 0..<V; table: `[V, C]`.
    public static func forward(out: FloatPointer, ids: UnsafePointer<Int32>, table: ConstFloatPointer,
                               n N: Int, c C: Int, vocabulary V: Int) {
        for r in 0..<N {
            let id = Int(ids[r])
            precondition(id >= 0 && id < V, "Embedding: token id \(id) outside the vocabulary of \(V)")
            (out + r * C).update(from: table + id * C, count: C)
        }
    }

    /// dtable[ids[n], :] += dout[n, :], rows in order (repeated ids add in a fixed order).
    /// dtable: `[V, C]`; dout: `[N, C]`.
    public static func backward(dtable: FloatPointer, dout: ConstFloatPointer, ids: UnsafePointer<Int32>,
                                n N: Int, c C: Int) {
        for r in 0..<N {
            let d = dtable + Int(ids[r]) * C, g = dout + r * C
            for c in 0..<C { d[c] += g[c] }
        }
    }
}

/// Sinusoidal embedding of a scalar time, as in DiT's TimestepEmbedder:
/// `out[b, i] = cos(t_b · f_i)`, `out[b, D/2 + i] = sin(t_b · f_i)`, `f_i = maxPeriod^(-i / (D/2))`.
/// The time is an input, not a parameter, so there is no backward.
public enum TimestepEmbedding {
    /// out: `[B, D]` (D even); t: `[B]`.
    public static func forward(out: FloatPointer, t: ConstFloatPointer, b B: Int, dim D: Int,
                               maxPeriod: Float = 10_000) {
        precondition(D % 2 == 0, "TimestepEmbedding: dimension \(D) must be even")
        let half = D / 2
        for b in 0..<B {
            for i in 0..<half {
                let f = _exp(-_log(Double(maxPeriod)) * Double(i) / Double(half))
                let arg = Double(t[b]) * f
                out[b * D + i] = Float(_cos(arg))
                out[b * D + half + i] = Float(_sin(arg))
            }
        }
    }
}
