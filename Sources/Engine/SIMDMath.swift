// Vectorised exp and tanh for the elementwise kernels (softmax, GELU, SiLU): the scalar libm
// calls cost more than the matrix products around them at the model's sizes.

/// exp(x) for 8 lanes, relative error about 2e-7 over the range where exp is a normal float;
/// inputs below -87.3 give 0, above 88.7 give +inf. Cephes' expf: x = n ln2 + r, |r| <= ln2/2,
/// exp(r) by a degree-6 polynomial, then scaled by 2^n through the exponent bits.
@inline(__always)
func simdExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let hi = SIMD8<Float>(repeating: 88.72283)
    let lo = SIMD8<Float>(repeating: -87.33654)
    var v = x.clamped(lowerBound: lo, upperBound: hi)
    let n = (v * 1.442695040888963 + 0.5).rounded(.down)
    v = v - n * 0.693359375
    v = v + n * 2.12194440e-4
    var p = SIMD8<Float>(repeating: 1.9875691500e-4)
    p = p * v + 1.3981999507e-3
    p = p * v + 8.3334519073e-3
    p = p * v + 4.1665795894e-2
    p = p * v + 1.6666665459e-1
    p = p * v + 5.0000001201e-1
    p = p * (v * v) + v + 1
    let bits = (SIMD8<Int32>(n) &+ 127) &<< 23
    var r = p * unsafeBitCast(bits, to: SIMD8<Float>.self)
    r.replace(with: 0, where: x .< lo)
    r.replace(with: Float.infinity, where: x .> hi)
    return r
}

/// tanh(x) for 8 lanes through exp: tanh x = 1 - 2 / (exp(2x) + 1); absolute error about 3e-7.
@inline(__always)
func simdTanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let c = x.clamped(lowerBound: SIMD8(repeating: -15), upperBound: SIMD8(repeating: 15))
    let e = simdExp(c + c)
    return 1 - 2 / (e + 1)
}

/// Scalar exp through the vector kernel, so that tails of loops give the same bits as the body.
@inline(__always)
func fastExp(_ x: Float) -> Float { simdExp(SIMD8(repeating: x))[0] }

@inline(__always)
func fastTanh(_ x: Float) -> Float { simdTanh(SIMD8(repeating: x))[0] }

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}
