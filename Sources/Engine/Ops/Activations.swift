/// GELU in its tanh form, as in GPT-2 and DiT's MLP:
/// `gelu(x) = 0.5 x (1 + tanh(k (x + 0.044715 x³)))`, `k = sqrt(2/π)`.
public enum GELU {
    static let k: Float = 0.7978845608028654

    /// out, inp: `[n]`.
    public static func forward(out: FloatPointer, inp: ConstFloatPointer, n: Int) {
        parallelFor(n, grain: 4096) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let x = load8(inp + i)
                let x3: SIMD8<Float> = x * x * x
                let th = simdTanh(k * (x + 0.044715 * x3))
                store8(0.5 * x * (1 + th), out + i)
                i += 8
            }
            while i < range.upperBound {
                let x = inp[i]
                out[i] = 0.5 * x * (1 + fastTanh(k * (x + 0.044715 * x * x * x)))
                i += 1
            }
        }
    }

    /// dinp += gelu'(inp) · dout; all `[n]`.
    public static func backward(dinp: FloatPointer, dout: ConstFloatPointer, inp: ConstFloatPointer, n: Int) {
        parallelFor(n, grain: 4096) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let x = load8(inp + i)
                let x2: SIMD8<Float> = x * x
                let u: SIMD8<Float> = k * (x + 0.044715 * x2 * x)
                let th = simdTanh(u)
                let sech2: SIMD8<Float> = 1 - th * th
                let du: SIMD8<Float> = k * (1 + 0.134145 * x2)
                let local: SIMD8<Float> = 0.5 * (1 + th) + 0.5 * x * sech2 * du
                store8(load8(dinp + i) + local * load8(dout + i), dinp + i)
                i += 8
            }
            while i < range.upperBound {
                let x = inp[i]
                let th = fastTanh(k * (x + 0.044715 * x * x * x))
                let local = 0.5 * (1 + th) + x * 0.5 * (1 - th * th) * k * (1 + 3 * 0.044715 * x * x)
                dinp[i] += local * dout[i]
                i += 1
            }
        }
    }

    /// Naive reference for `forward` (libm tanh in Double).
    public static func forwardReference(out: FloatPointer, inp: ConstFloatPointer, n: Int) {
        for i in 0..<n {
            let x = Double(inp[i])
            out[i] = Float(0.5 * x * (1 + _tanh(Double(k) * (x + 0.044715 * x * x * x))))
        }
    }
}

/// SiLU (swish): `silu(x) = x · sigmoid(x)`; DiT applies it to the conditioning vector.
public enum SiLU {
    /// out, inp: `[n]`.
    public static func forward(out: FloatPointer, inp: ConstFloatPointer, n: Int) {
        parallelFor(n, grain: 4096) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let x = load8(inp + i)
                store8(x / (1 + simdExp(-x)), out + i)
                i += 8
            }
            while i < range.upperBound { let x = inp[i]; out[i] = x / (1 + fastExp(-x)); i += 1 }
        }
    }

    /// dinp += silu'(inp) · dout; all `[n]`.
    public static func backward(dinp: FloatPointer, dout: ConstFloatPointer, inp: ConstFloatPointer, n: Int) {
        parallelFor(n, grain: 4096) { range in
            for i in range {
                let x = inp[i]
                let s = 1 / (1 + fastExp(-x))
                dinp[i] += s * (1 + x * (1 - s)) * dout[i]
            }
        }
    }

    /// Naive reference for `forward`.
    public static func forwardReference(out: FloatPointer, inp: ConstFloatPointer, n: Int) {
        for i in 0..<n { let x = Double(inp[i]); out[i] = Float(x / (1 + _exp(-x))) }
    }
}
