import Basics
import CKernels
import XCTest
@testable import Engine

final class LinearTests: XCTestCase {
    func testFastMatchesReferenceAndGradients() {
        var rng = SplitMix64(seed: 1)
        let N = 7, IC = 5, OC = 3
        let x = Buf(random: N * IC, &rng), w = Buf(random: OC * IC, &rng), b = Buf(random: OC, &rng)
        let out = Buf(N * OC), ref = Buf(N * OC), r = Buf(random: N * OC, &rng)
        Linear.forward(out: out.p, inp: x.p, weight: w.p, bias: b.p, n: N, inC: IC, outC: OC)
        Linear.forwardReference(out: ref.p, inp: x.p, weight: w.p, bias: b.p, n: N, inC: IC, outC: OC)
        assertClose(out.p, ref.p, N * OC, tol: 1e-5, "linear forward")

        let dx = Buf(N * IC), dw = Buf(OC * IC), db = Buf(OC)
        let dxr = Buf(N * IC), dwr = Buf(OC * IC), dbr = Buf(OC)
        Linear.backward(dinp: dx.p, dweight: dw.p, dbias: db.p, dout: r.p, inp: x.p, weight: w.p, n: N, inC: IC, outC: OC)
        Linear.backwardReference(dinp: dxr.p, dweight: dwr.p, dbias: dbr.p, dout: r.p, inp: x.p, weight: w.p, n: N, inC: IC, outC: OC)
        assertClose(dx.p, dxr.p, N * IC, tol: 1e-5, "linear dinp")
        assertClose(dw.p, dwr.p, OC * IC, tol: 1e-5, "linear dweight")
        assertClose(db.p, dbr.p, OC, tol: 1e-5, "linear dbias")

        // backward accumulates: a second call doubles the gradients
        Linear.backward(dinp: dx.p, dweight: nil, dbias: nil, dout: r.p, inp: x.p, weight: w.p, n: N, inC: IC, outC: OC)
        for i in 0..<(N * IC) { XCTAssertEqual(dx.p[i], 2 * dxr.p[i], accuracy: 1e-4) }

        let loss = { () -> Double in
            Linear.forward(out: out.p, inp: x.p, weight: w.p, bias: b.p, n: N, inC: IC, outC: OC)
            return dot(out.p, r.p, N * OC)
        }
        checkGradient("linear dinp", x: x.p, analytic: dxr.p, count: N * IC, loss: loss)
        checkGradient("linear dweight", x: w.p, analytic: dwr.p, count: OC * IC, loss: loss)
        checkGradient("linear dbias", x: b.p, analytic: dbr.p, count: OC, loss: loss)
    }
}

final class LoRATests: XCTestCase {
    func testForwardGradientsAndMerge() {
        var rng = SplitMix64(seed: 2)
        let N = 5, IC = 7, OC = 6, R = 3, scale: Float = 0.7
        let x = Buf(random: N * IC, &rng), w = Buf(random: OC * IC, &rng), bias = Buf(random: OC, &rng)
        let a = Buf(random: R * IC, &rng), b = Buf(random: OC * R, &rng)
        let out = Buf(N * OC), ref = Buf(N * OC), u = Buf(N * R), ur = Buf(N * R), r = Buf(random: N * OC, &rng)
        func run(_ o: Buf) {
            Linear.forward(out: o.p, inp: x.p, weight: w.p, bias: bias.p, n: N, inC: IC, outC: OC)
            LoRA.forward(out: o.p, u: u.p, inp: x.p, a: a.p, b: b.p, scale: scale, n: N, inC: IC, outC: OC, rank: R)
        }
        run(out)
        Linear.forwardReference(out: ref.p, inp: x.p, weight: w.p, bias: bias.p, n: N, inC: IC, outC: OC)
        LoRA.forwardReference(out: ref.p, u: ur.p, inp: x.p, a: a.p, b: b.p, scale: scale, n: N, inC: IC, outC: OC, rank: R)
        assertClose(out.p, ref.p, N * OC, tol: 1e-5, "lora forward")

        let dx = Buf(N * IC), da = Buf(R * IC), db = Buf(OC * R), du = Buf(N * R)
        Linear.backward(dinp: dx.p, dweight: nil, dbias: nil, dout: r.p, inp: x.p, weight: w.p, n: N, inC: IC, outC: OC)
        LoRA.backward(dinp: dx.p, da: da.p, db: db.p, du: du.p, dout: r.p, inp: x.p, u: u.p, a: a.p, b: b.p,
                      scale: scale, n: N, inC: IC, outC: OC, rank: R)
        let loss = { () -> Double in run(out); return dot(out.p, r.p, N * OC) }
        checkGradient("lora dinp", x: x.p, analytic: dx.p, count: N * IC, loss: loss)
        checkGradient("lora dA", x: a.p, analytic: da.p, count: R * IC, loss: loss)
        checkGradient("lora dB", x: b.p, analytic: db.p, count: OC * R, loss: loss)

        // merged weight gives the same output; unmerging restores the weight
        let w0 = w.array
        run(out)
        LoRA.merge(weight: w.p, a: a.p, b: b.p, scale: scale, sign: 1, inC: IC, outC: OC, rank: R)
        Linear.forward(out: ref.p, inp: x.p, weight: w.p, bias: bias.p, n: N, inC: IC, outC: OC)
        assertClose(ref.p, out.p, N * OC, tol: 1e-5, "fused lora")
        LoRA.merge(weight: w.p, a: a.p, b: b.p, scale: scale, sign: -1, inC: IC, outC: OC, rank: R)
        for i in 0..<w0.count { XCTAssertEqual(w.p[i], w0[i], accuracy: 1e-5) }
    }
}

final class NormTests: XCTestCase {
    func testLayerNormWithAndWithoutAffine() {
        var rng = SplitMix64(seed: 3)
        let N = 5, C = 11
        let x = Buf(random: N * C, &rng, scale: 2), w = Buf(random: C, &rng), b = Buf(random: C, &rng)
        let out = Buf(N * C), ref = Buf(N * C), mean = Buf(N), rstd = Buf(N), mr = Buf(N), rr = Buf(N)
        let r = Buf(random: N * C, &rng)
        for affine in [true, false] {
            let wp: ConstFloatPointer? = affine ? ConstFloatPointer(w.p) : nil
            let bp: ConstFloatPointer? = affine ? ConstFloatPointer(b.p) : nil
            LayerNorm.forward(out: out.p, mean: mean.p, rstd: rstd.p, inp: x.p, weight: wp, bias: bp, n: N, c: C)
            LayerNorm.forwardReference(out: ref.p, mean: mr.p, rstd: rr.p, inp: x.p, weight: wp, bias: bp, n: N, c: C)
            assertClose(out.p, ref.p, N * C, tol: 1e-5, "layernorm forward (affine \(affine))")
            let dx = Buf(N * C), dw = Buf(C), db = Buf(C)
            LayerNorm.backward(dinp: dx.p, dweight: affine ? dw.p : nil, dbias: affine ? db.p : nil, dout: r.p, inp: x.p,
                               weight: wp, mean: mean.p, rstd: rstd.p, n: N, c: C)
            let loss = { () -> Double in
                LayerNorm.forward(out: out.p, mean: mean.p, rstd: rstd.p, inp: x.p, weight: wp, bias: bp, n: N, c: C)
                return dot(out.p, r.p, N * C)
            }
            checkGradient("layernorm dinp", x: x.p, analytic: dx.p, count: N * C, eps: 1e-3, loss: loss)
            if affine {
                checkGradient("layernorm dweight", x: w.p, analytic: dw.p, count: C, loss: loss)
                checkGradient("layernorm dbias", x: b.p, analytic: db.p, count: C, loss: loss)
            }
        }
    }

    /// One sequence (the backward splits columns between threads) and three (it splits sequences).
    func testModulationAndGatedResidual() {
        defer { Threads.set(1) }
        Threads.set(2)
        for B in [1, 3] {
        var rng = SplitMix64(seed: 4)
        let T = 3, C = 5, stride = 13
        let x = Buf(random: B * T * C, &rng), res = Buf(random: B * T * C, &rng), mod = Buf(random: B * stride, &rng)
        let out = Buf(B * T * C), r = Buf(random: B * T * C, &rng)
        let shift = mod.p, scale = mod.p + 4, gate = mod.p + 8
        func run() {
            Modulation.forward(out: out.p, inp: x.p, shift: shift, scale: scale, b: B, t: T, c: C, stride: stride)
            GatedResidual.forward(out: out.p, residual: res.p, inp: out.p, gate: gate, b: B, t: T, c: C, stride: stride)
        }
        run()
        // one value by hand
        let i = ((B - 1) * T + 2) * C + 3, m = (B - 1) * stride + 3
        let h = x.p[i] * (1 + scale[m]) + shift[m]
        XCTAssertEqual(out.p[i], res.p[i] + gate[m] * h, accuracy: 1e-5)

        // backward: recompute the modulated value for the gate's input
        let hbuf = Buf(B * T * C), dh = Buf(B * T * C), dx = Buf(B * T * C), dres = Buf(B * T * C), dmod = Buf(B * stride)
        Modulation.forward(out: hbuf.p, inp: x.p, shift: shift, scale: scale, b: B, t: T, c: C, stride: stride)
        GatedResidual.backward(dresidual: dres.p, dinp: dh.p, dgate: dmod.p + 8, dout: r.p, inp: hbuf.p, gate: gate,
                               b: B, t: T, c: C, stride: stride)
        Modulation.backward(dinp: dx.p, dshift: dmod.p, dscale: dmod.p + 4, dout: dh.p, inp: x.p, scale: scale,
                            b: B, t: T, c: C, stride: stride)
        let loss = { () -> Double in run(); return dot(out.p, r.p, B * T * C) }
        checkGradient("modulation dinp", x: x.p, analytic: dx.p, count: B * T * C, loss: loss)
        checkGradient("gated residual dresidual", x: res.p, analytic: dres.p, count: B * T * C, loss: loss)
        // only the used columns of the modulation rows have gradients; check all of them (others are 0)
        checkGradient("modulation shift/scale/gate", x: mod.p, analytic: dmod.p, count: B * stride, samples: 100, loss: loss)
        }
    }
}

final class ActivationTests: XCTestCase {
    func testGELUAndSiLU() {
        var rng = SplitMix64(seed: 5)
        let n = 37  // odd: the vector body and the scalar tail both run
        let x = Buf(random: n, &rng, scale: 3), out = Buf(n), ref = Buf(n), r = Buf(random: n, &rng)
        x.p[0] = -40; x.p[1] = 40; x.p[2] = 0
        GELU.forward(out: out.p, inp: x.p, n: n)
        GELU.forwardReference(out: ref.p, inp: x.p, n: n)
        for i in 0..<n { XCTAssertEqual(out.p[i], ref.p[i], accuracy: 2e-6 * max(1, abs(ref.p[i])), "gelu(\(x.p[i]))") }
        SiLU.forward(out: out.p, inp: x.p, n: n)
        SiLU.forwardReference(out: ref.p, inp: x.p, n: n)
        for i in 0..<n { XCTAssertEqual(out.p[i], ref.p[i], accuracy: 2e-6 * max(1, abs(ref.p[i])), "silu(\(x.p[i]))") }

        x.p[0] = -2; x.p[1] = 2
        let dg = Buf(n), ds = Buf(n)
        GELU.backward(dinp: dg.p, dout: r.p, inp: x.p, n: n)
        SiLU.backward(dinp: ds.p, dout: r.p, inp: x.p, n: n)
        checkGradient("gelu", x: x.p, analytic: dg.p, count: n, eps: 1e-3, samples: n) {
            GELU.forward(out: out.p, inp: x.p, n: n); return dot(out.p, r.p, n)
        }
        checkGradient("silu", x: x.p, analytic: ds.p, count: n, eps: 1e-3, samples: n) {
            SiLU.forward(out: out.p, inp: x.p, n: n); return dot(out.p, r.p, n)
        }
    }

    func testVectorExpAccuracy() {
        var worst: Double = 0
        var x: Float = -87
        while x < 88 {
            let e = Double(fastExp(x)), ref = _exp(Double(x))
            worst = max(worst, abs(e - ref) / ref)
            x += 0.37
        }
        XCTAssertLessThan(worst, 5e-7)
        XCTAssertEqual(fastExp(-200), 0)
        XCTAssertEqual(fastExp(-.infinity), 0)
        XCTAssertGreaterThan(fastExp(200), 1e38)
    }
}

final class AttentionTests: XCTestCase {
    func testMaskedAttentionMatchesReferenceAndGradients() {
        var rng = SplitMix64(seed: 6)
        let B = 3, T = 5, C = 6, NH = 2
        let qkv = Buf(random: B * T * 3 * C, &rng), out = Buf(B * T * C), ref = Buf(B * T * C)
        let att = Buf(B * NH * T * T), attr = Buf(B * NH * T * T), r = Buf(random: B * T * C, &rng)
        // sequence 0: all real; 1: last two padded; 2: no real key at all
        var valid = [Bool](repeating: true, count: B * T)
        valid[1 * T + 3] = false; valid[1 * T + 4] = false
        for t in 0..<T { valid[2 * T + t] = false }
        valid.withUnsafeBufferPointer { vb in
            let v = vb.baseAddress!
            Attention.forward(out: out.p, att: att.p, qkv: qkv.p, keyValid: v, b: B, t: T, c: C, heads: NH)
            Attention.forwardReference(out: ref.p, att: attr.p, qkv: qkv.p, keyValid: v, b: B, t: T, c: C, heads: NH)
            assertClose(out.p, ref.p, B * T * C, tol: 1e-5, "attention forward")
            assertClose(att.p, attr.p, B * NH * T * T, tol: 1e-5, "attention probabilities")
            // padded keys get no weight; the empty sequence gives zeros
            for h in 0..<NH { for i in 0..<T { XCTAssertEqual(att.p[((1 * NH + h) * T + i) * T + 4], 0) } }
            for i in 0..<(T * C) { XCTAssertEqual(out.p[2 * T * C + i], 0) }
            // changing a padded token's key and value changes nothing in its sequence
            let before = out.array
            for c in C..<(3 * C) { qkv.p[(1 * T + 4) * 3 * C + c] += 5 }
            Attention.forward(out: out.p, att: att.p, qkv: qkv.p, keyValid: v, b: B, t: T, c: C, heads: NH)
            for i in 0..<(B * T * C) where !(i / C == 1 * T + 4) { XCTAssertEqual(out.p[i], before[i], accuracy: 1e-6) }

            let dqkv = Buf(B * T * 3 * C), scratch = Buf(B * NH * T * T)
            Attention.backward(dqkv: dqkv.p, scratch: scratch.p, dout: r.p, qkv: qkv.p, att: att.p, b: B, t: T, c: C, heads: NH)
            checkGradient("attention dqkv", x: qkv.p, analytic: dqkv.p, count: B * T * 3 * C, eps: 1e-3, samples: 80) {
                Attention.forward(out: out.p, att: att.p, qkv: qkv.p, keyValid: v, b: B, t: T, c: C, heads: NH)
                return dot(out.p, r.p, B * T * C)
            }
        }
    }
}

extension AttentionTests {
    /// Long sequences are cut into blocks of 128 query rows taken by free threads: the result
    /// equals the reference, for a partial last block and with padding, on 1 and 3 threads.
    func testBlocksOfQueryRows() {
        defer { Threads.set(1) }
        var rng = SplitMix64(seed: 16)
        let B = 2, T = 261, C = 8, NH = 2
        let qkv = Buf(random: B * T * 3 * C, &rng), out = Buf(B * T * C), ref = Buf(B * T * C)
        let att = Buf(B * NH * T * T), attr = Buf(B * NH * T * T)
        let valid = (0..<(B * T)).map { $0 % T < 200 || $0 < T }
        valid.withUnsafeBufferPointer { vb in
            Attention.forwardReference(out: ref.p, att: attr.p, qkv: qkv.p, keyValid: vb.baseAddress, b: B, t: T, c: C, heads: NH)
            for threads in [1, 3] {
                Threads.set(threads)
                Attention.forward(out: out.p, att: att.p, qkv: qkv.p, keyValid: vb.baseAddress, b: B, t: T, c: C, heads: NH)
                assertClose(out.p, ref.p, B * T * C, tol: 1e-5, "blocked attention, \(threads) threads")
            }
        }
    }
}

extension AttentionTests {
    /// The hand-written short-sequence kernels and the sgemm ones for long sequences give the
    /// same probabilities, outputs and gradients, for head widths that are and are not whole
    /// vectors of 8, with padding, on 1 and 2 threads.
    func testShortKernelsMatchSgemmKernels() {
        defer { Threads.set(1) }
        for (T, C, NH) in [(37, 64, 2), (112, 128, 4), (9, 20, 2)] {
            var rng = SplitMix64(seed: UInt64(T * 100 + C))
            let B = 2
            let qkv = Buf(random: B * T * 3 * C, &rng), r = Buf(random: B * T * C, &rng)
            let out = Buf(B * T * C), outL = Buf(B * T * C), ref = Buf(B * T * C)
            let att = Buf(B * NH * T * T), attL = Buf(B * NH * T * T), attR = Buf(B * NH * T * T)
            let scratch = Buf(B * NH * T * T)
            let valid = (0..<(B * T)).map { $0 < T || $0 % T < T - 3 }
            valid.withUnsafeBufferPointer { vb in
                let v = vb.baseAddress!
                Attention.forwardReference(out: ref.p, att: attR.p, qkv: qkv.p, keyValid: v, b: B, t: T, c: C, heads: NH)
                Attention.forwardLong(out: outL.p, att: attL.p, qkv: qkv.p, keyValid: v, b: B, t: T, c: C, heads: NH)
                let dL = Buf(B * T * 3 * C)
                Attention.backwardLong(dqkv: dL.p, scratch: scratch.p, dout: r.p, qkv: qkv.p, att: attL.p,
                                       b: B, t: T, c: C, heads: NH)
                for threads in [1, 2] {
                    Threads.set(threads)
                    Attention.forward(out: out.p, att: att.p, qkv: qkv.p, keyValid: v, b: B, t: T, c: C, heads: NH)
                    assertClose(out.p, ref.p, B * T * C, tol: 1e-5, "short attention vs reference, T \(T)")
                    assertClose(att.p, attR.p, B * NH * T * T, tol: 1e-5, "short probabilities vs reference, T \(T)")
                    assertClose(out.p, outL.p, B * T * C, tol: 1e-5, "short vs sgemm attention, T \(T)")
                    let d = Buf(B * T * 3 * C)
                    d.p.update(repeating: 0.25, count: B * T * 3 * C)  // backward adds into what is there
                    Attention.backward(dqkv: d.p, scratch: scratch.p, dout: r.p, qkv: qkv.p, att: att.p,
                                       b: B, t: T, c: C, heads: NH)
                    for i in 0..<(B * T * 3 * C) { d.p[i] -= 0.25 }
                    assertClose(d.p, dL.p, B * T * 3 * C, tol: 1e-4, "short vs sgemm attention gradient, T \(T)")
                    // told to write, both paths ignore what was there
                    for long in [false, true] {
                        d.p.update(repeating: .nan, count: B * T * 3 * C)
                        if long {
                            Attention.backwardLong(dqkv: d.p, scratch: scratch.p, dout: r.p, qkv: qkv.p, att: attL.p,
                                                   b: B, t: T, c: C, heads: NH, accumulate: false)
                        } else {
                            Attention.backward(dqkv: d.p, scratch: scratch.p, dout: r.p, qkv: qkv.p, att: att.p,
                                               b: B, t: T, c: C, heads: NH, accumulate: false)
                        }
                        assertClose(d.p, dL.p, B * T * 3 * C, tol: 1e-4, "written attention gradient, long \(long), T \(T)")
                    }
                }
            }
        }
    }
}

extension AttentionTests {
    /// The C kernels exist in a baseline x86-64 version, an AVX2 + FMA one and an AVX-512 one
    /// (16 floats a vector), chosen at start; each this processor runs matches the references
    /// (attention, GELU forward and gradient).
    func testBaselineAndWideKernelVersionsMatchReferences() {
        // padded (23 tokens, head width 16) and unpadded (32 tokens, head width 16: whole vectors
        // at every width, where the probabilities are computed in place), with and without a mask
        for (T, C, NH, masked) in [(23, 48, 3, false), (32, 64, 4, false), (32, 64, 4, true)] {
            checkKernelVersions(t: T, c: C, heads: NH, masked: masked)
        }
    }

    func checkKernelVersions(t T: Int, c C: Int, heads NH: Int, masked: Bool) {
        let was = tutor_kernels_set_level(2)
        defer { _ = tutor_kernels_set_level(was) }
        var rng = SplitMix64(seed: 31)
        let B = 2, n = 1003
        let qkv = Buf(random: B * T * 3 * C, &rng), out = Buf(B * T * C), ref = Buf(B * T * C)
        let att = Buf(B * NH * T * T), attR = Buf(B * NH * T * T), scratch = Buf(B * NH * T * T)
        let x = Buf(random: n, &rng), g = Buf(n), gRef = Buf(n)
        for i in 0..<n { x.p[i] *= 4 }
        let valid = UnsafeMutablePointer<Bool>.allocate(capacity: B * T)
        defer { valid.deallocate() }
        for i in 0..<(B * T) { valid[i] = i % T < T - 1 - i / T * 3 }
        let keyValid: UnsafePointer<Bool>? = masked ? UnsafePointer(valid) : nil
        let label = "T \(T), heads \(NH), mask \(masked)"
        Attention.forwardReference(out: ref.p, att: attR.p, qkv: qkv.p, keyValid: keyValid, b: B, t: T, c: C, heads: NH)
        GELU.forwardReference(out: gRef.p, inp: x.p, n: n)
        var grads: [[Float]] = []
        let levels = Array(0...Int(tutor_kernels_best_level()))
        for wide in levels {
            _ = tutor_kernels_set_level(Int32(wide))
            Attention.forward(out: out.p, att: att.p, qkv: qkv.p, keyValid: keyValid, b: B, t: T, c: C, heads: NH)
            assertClose(out.p, ref.p, B * T * C, tol: 1e-5, "attention, level \(wide), \(label)")
            assertClose(att.p, attR.p, B * NH * T * T, tol: 1e-5, "attention probabilities, level \(wide), \(label)")
            let d = Buf(B * T * 3 * C), r = Buf(B * T * C)
            for i in 0..<(B * T * C) { r.p[i] = Float(i % 7) - 3 }
            Attention.backward(dqkv: d.p, scratch: scratch.p, dout: r.p, qkv: qkv.p, att: att.p, b: B, t: T, c: C, heads: NH)
            grads.append(d.array)
            GELU.forward(out: g.p, inp: x.p, n: n)
            assertClose(g.p, gRef.p, n, tol: 1e-5, "gelu, level \(wide)")
            // the forward that keeps the derivative: the same values, and the derivative that
            // the backward computes from x
            let kept = Buf(n), both = Buf(n), dx = Buf(n), ones = Buf(n)
            ones.p.update(repeating: 1, count: n)
            kept.p.update(from: x.p, count: n)
            GELU.forwardKeepingGradient(out: both.p, inputThenGradient: kept.p, n: n)
            GELU.backward(dinp: dx.p, dout: ones.p, inp: x.p, n: n)
            assertClose(both.p, g.p, n, tol: 0, "gelu keeping its derivative, level \(wide)")
            assertClose(kept.p, dx.p, n, tol: 1e-6, "kept derivative, level \(wide)")
        }
        for level in levels.dropFirst() {
            var base = grads[0], wide = grads[level]
            base.withUnsafeMutableBufferPointer { a in
                wide.withUnsafeMutableBufferPointer { b in
                    assertClose(a.baseAddress!, b.baseAddress!, a.count, tol: 1e-4, "attention gradient, baseline vs level \(level), \(label)")
                }
            }
        }
    }
}

final class EmbeddingAndLossTests: XCTestCase {
    func testEmbeddingTimestepLossPooling() {
        var rng = SplitMix64(seed: 7)
        let V = 4, C = 3, N = 5
        let table = Buf(random: V * C, &rng), out = Buf(N * C), dtable = Buf(V * C), r = Buf(random: N * C, &rng)
        let ids: [Int32] = [1, 3, 1, 0, 2]
        ids.withUnsafeBufferPointer { idp in
            Embedding.forward(out: out.p, ids: idp.baseAddress!, table: table.p, n: N, c: C, vocabulary: V)
            XCTAssertEqual(out.p[2 * C + 1], table.p[1 * C + 1])
            Embedding.backward(dtable: dtable.p, dout: r.p, ids: idp.baseAddress!, n: N, c: C)
            checkGradient("embedding", x: table.p, analytic: dtable.p, count: V * C) {
                Embedding.forward(out: out.p, ids: idp.baseAddress!, table: table.p, n: N, c: C, vocabulary: V)
                return dot(out.p, r.p, N * C)
            }
        }

        let t = Buf(2), emb = Buf(2 * 8)
        t.p[0] = 0; t.p[1] = 0.5
        TimestepEmbedding.forward(out: emb.p, t: t.p, b: 2, dim: 8)
        XCTAssertEqual(emb.p[0], 1)                                   // cos(0)
        XCTAssertEqual(emb.p[4], 0)                                   // sin(0)
        XCTAssertEqual(emb.p[8 + 4], Float(_sin(0.5)), accuracy: 1e-6)   // frequency 1
        XCTAssertEqual(emb.p[8 + 1], Float(_cos(0.5 * _exp(-_log(10_000) / 4))), accuracy: 1e-6)

        let n = 9
        let pred = Buf(random: n, &rng), target = Buf(random: n, &rng), w = Buf(n, 1), dpred = Buf(n)
        w.p[3] = 0; w.p[4] = 2
        let l = MSE.forward(pred: pred.p, target: target.p, weight: w.p, n: n)
        var manual = 0.0
        for i in 0..<n { manual += Double(w.p[i]) * Double((pred.p[i] - target.p[i]) * (pred.p[i] - target.p[i])) }
        XCTAssertEqual(Double(l), manual / 9, accuracy: 1e-5)
        MSE.backward(dpred: dpred.p, pred: pred.p, target: target.p, weight: w.p, n: n)
        checkGradient("mse", x: pred.p, analytic: dpred.p, count: n, eps: 1e-3) {
            Double(MSE.forward(pred: pred.p, target: target.p, weight: w.p, n: n))
        }
        XCTAssertEqual(dpred.p[3], 0)

        let B = 2, T = 3
        let x = Buf(random: B * T * C, &rng), pooled = Buf(B * C), dx = Buf(B * T * C), rp = Buf(random: B * C, &rng)
        let valid: [Bool] = [true, false, true, false, false, false]
        valid.withUnsafeBufferPointer { vb in
            MeanPool.forward(out: pooled.p, inp: x.p, valid: vb.baseAddress, b: B, t: T, c: C)
            XCTAssertEqual(pooled.p[1], (x.p[1] + x.p[2 * C + 1]) / 2, accuracy: 1e-6)
            XCTAssertEqual(pooled.p[C], 0)
            MeanPool.backward(dinp: dx.p, dout: rp.p, valid: vb.baseAddress, b: B, t: T, c: C)
            checkGradient("mean pool", x: x.p, analytic: dx.p, count: B * T * C) {
                MeanPool.forward(out: pooled.p, inp: x.p, valid: vb.baseAddress, b: B, t: T, c: C)
                return dot(pooled.p, rp.p, B * C)
            }
        }
    }
}

final class OptimizerTests: XCTestCase {
    func testAdamWStepClippingAndSubset() {
        let store = ParameterStore()
        store.add("a", [3])
        store.add("frozen", [2])
        store.add("b", [2])
        store.allocate()
        try! store.set("a", [1, -2, 3])
        try! store.set("frozen", [5, 6])
        try! store.set("b", [0.5, 0.5])
        store.allocateGradients()
        let g: [Float] = [0.3, -0.4, 0, 9, 9, 1.2, 0]
        for i in 0..<7 { store.grads![i] = g[i] }
        let subset = ParameterSubset(store) { $0.name != "frozen" }
        XCTAssertEqual(subset.ranges, [0..<3, 5..<7])
        XCTAssertEqual(gradientNorm(subset), 1.3, accuracy: 1e-6)  // sqrt(.09+.16+1.44)
        let opt = AdamW(subset, learningRate: 0.1, weightDecay: 0.01, maxGradNorm: 0.65)
        opt.update()
        // first step: m̂ = g', v̂ = g'^2, so the step is lr · sign(g') (+ decay) with g' = g / 2
        let a = store.array("a")
        XCTAssertEqual(a[0], 1 - 0.1 * (0.15 / (0.15 + 1e-8) + 0.01 * 1), accuracy: 1e-5)
        XCTAssertEqual(a[1], -2 - 0.1 * (-1 + 0.01 * -2), accuracy: 1e-5)
        XCTAssertEqual(a[2], 3 - 0.1 * 0.01 * 3, accuracy: 1e-5)
        XCTAssertEqual(store.array("frozen"), [5, 6])
        XCTAssertEqual(store.m![0], 0.1 * 0.15, accuracy: 1e-7)   // clipped gradient in the moment

        let sgd = SGD(ParameterSubset(store) { $0.name == "b" }, learningRate: 1, maxGradNorm: 0.1)
        store.zeroGradients()
        store.grads![5] = 0.25
        store.grads![0] = 7  // not in the subset: ignored, also by the clipping norm
        let b0 = store.array("b"), a0 = store.array("a")
        XCTAssertEqual(sgd.update(), 0.25, accuracy: 1e-7)
        XCTAssertEqual(store.array("b")[0], b0[0] - 0.1, accuracy: 1e-6)
        XCTAssertEqual(store.array("b")[1], b0[1])
        XCTAssertEqual(store.array("a"), a0)
    }

    func testStoreLayoutAndErrors() {
        let store = ParameterStore()
        store.add("x", [2, 3])
        store.add("y", [4])
        store.allocate()
        XCTAssertEqual(store.entry("y")?.offset, 6)
        XCTAssertEqual(store.count, 10)
        XCTAssertNil(store.grads)
        XCTAssertThrowsError(try store.set("x", [1, 2])) { e in
            XCTAssertEqual(e as? EngineError, .shapeMismatch(name: "x", expected: [2, 3], gotCount: 2))
        }
        XCTAssertThrowsError(try store.set("nope", [1]))
    }
}

final class GemmTests: XCTestCase {
    /// The engine's split product (rows or columns per thread) against a naive loop, for every
    /// transpose combination, with row strides wider than the matrices.
    func testSplitProductMatchesNaive() {
        defer { Threads.set(1) }
        var rng = SplitMix64(seed: 8)
        for threads in [1, 2, 3] {
            Threads.set(threads)
            for (M, N, K) in [(70, 50, 300), (40, 130, 250), (5, 3, 2)] {
                for transA in [false, true] {
                    for transB in [false, true] {
                        let lda = (transA ? M : K) + 3, ldb = (transB ? K : N) + 1, ldc = N + 2
                        let a = Buf(random: (transA ? K : M) * lda, &rng), b = Buf(random: (transB ? N : K) * ldb, &rng)
                        let c = Buf(random: M * ldc, &rng)
                        let c0 = c.array
                        gemm(transA: transA, transB: transB, m: M, n: N, k: K, alpha: 0.5, a: a.p, lda: lda,
                             b: b.p, ldb: ldb, beta: 2, c: c.p, ldc: ldc)
                        var worst: Double = 0
                        for i in 0..<M {
                            for j in 0..<N {
                                var s = 0.0
                                for k in 0..<K {
                                    let av = transA ? a.p[k * lda + i] : a.p[i * lda + k]
                                    let bv = transB ? b.p[j * ldb + k] : b.p[k * ldb + j]
                                    s += Double(av) * Double(bv)
                                }
                                let expect = 0.5 * s + 2 * Double(c0[i * ldc + j])
                                worst = max(worst, abs(Double(c.p[i * ldc + j]) - expect) / max(1, abs(expect)))
                            }
                            // the padding between rows is untouched
                            XCTAssertEqual(c.p[i * ldc + N], c0[i * ldc + N])
                        }
                        XCTAssertLessThan(worst, 1e-4, "gemm \(M)x\(N)x\(K) transA \(transA) transB \(transB) threads \(threads)")
                    }
                }
            }
        }
    }
}
