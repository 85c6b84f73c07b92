// Fast exp for the Swift elementwise kernels (SiLU; softmax and GELU are in CKernels): libm's calls cost more
// than the matrix products around them at the model's sizes. Written as branch-free scalar
// code that the compiler inlines and vectorises in the kernels' loops. (Swift's generic SIMD8
// operations such as `rounded` and `clamped` measured over 40 ns per element here; this loop
// vectorises 4 wide on baseline x86-64.)

/// exp(x), relative error under 1e-7 where exp is a normal float; 0 below -87.34 (and for -inf);
/// inputs above 88.38 are clamped there (about 2.4e38: callers never go near it, softmax
/// subtracts the maximum first). Cephes' expf: x = n ln2 + r with n rounded by the 1.5·2^23 trick,
/// exp(r) by a degree-6 polynomial, then 2^n built in the exponent bits.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    var xc = x < -87.33654 ? -87.33654 : x
    xc = xc > 88.37626 ? 88.37626 : xc
    let t = xc * 1.442695040888963 + 12582912.0   // n + 1.5·2^23: n in the low mantissa bits
    let n = t - 12582912.0
    var r = xc - n * 0.693359375
    r = r + n * 2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * (r * r) + r + 1
    let bits = (t.bitPattern &- 0x4B40_0000 &+ 127) &<< (23 as UInt32)   // 2^n
    let e = p * Float(bitPattern: bits)
    // one select only: a second one (for +inf) stopped the compiler from vectorising the loops
    return x < -87.33654 ? 0 : e
}
