import CKernels

/// GELU in its tanh form, as in GPT-2 and DiT's MLP:
/// `gelu(x) = 0.5 x (1 + tanh(k (x + 0.044715 x³)))`, `k = sqrt(2/π)`. The kernels are C
/// (CKernels: 8 floats at a time, AVX2 + FMA where the machine has them).
public enum GELU {
    /// out, inp: `[n]`.
    public static func forward(out: FloatPointer, inp: ConstFloatPointer, n: Int) {
        parallelFor(n, grain: 4096) { range in
            tutor_gelu_forward(out + range.lowerBound, inp + range.lowerBound, range.count)
        }
    }

    /// dinp += gelu'(inp) · dout; all `[n]`.
    public static func backward(dinp: FloatPointer, dout: ConstFloatPointer, inp: ConstFloatPointer, n: Int) {
        parallelFor(n, grain: 4096) { range in
            tutor_gelu_backward(dinp + range.lowerBound, dout + range.lowerBound, inp + range.lowerBound, range.count)
        }
    }

    /// `out = gelu(x)` and, in place of each `x` in `inputThenGradient`, `gelu'(x)`: the
    /// forward of a pass that keeps only what its backward needs (one exp per element for both).
    public static func forwardKeepingGradient(out: FloatPointer, inputThenGradient g: FloatPointer, n: Int) {
        parallelFor(n, grain: 4096) { range in
            tutor_gelu_forward_keeping_gradient(out + range.lowerBound, g + range.lowerBound, range.count)
        }
    }

    /// `dinp = gradient · dout` (written, not added), the backward after
    /// `forwardKeepingGradient`; all `[n]`.
    public static func backward(dinp: FloatPointer, dout: ConstFloatPointer, gradient: ConstFloatPointer, n: Int) {
        parallelFor(n, grain: 4096) { range in
            for i in range { dinp[i] = gradient[i] * dout[i] }
        }
    }

    /// Naive reference for `forward` (libm tanh in Double).
    public static func forwardReference(out: FloatPointer, inp: ConstFloatPointer, n: Int) {
        let k = (2 / Double.pi).squareRoot()
        for i in 0..<n {
            let x = Double(inp[i])
            out[i] = Float(0.5 * x * (1 + _tanh(k * (x + 0.044715 * x * x * x))))
        }
    }
}

/// SiLU (swish): `silu(x) = x · sigmoid(x)`; DiT applies it to the conditioning vector.
public enum SiLU {
    /// out, inp: `[n]`.
    public static func forward(out: FloatPointer, inp: ConstFloatPointer, n: Int) {
        parallelFor(n, grain: 4096) { range in
            for i in range { let x = inp[i]; out[i] = x / (1 + fastExp(-x)) }
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
