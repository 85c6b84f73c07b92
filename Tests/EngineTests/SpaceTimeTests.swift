import Basics
import XCTest
@testable import Engine

final class SpaceTimeTests: XCTestCase {
    func testPatchifyRoundTripAndAdjoint() {
        var rng = SplitMix64(seed: 21)
        let B = 2, F = 3, H = 4, W = 6, Ch = 3, P = 2
        let n = B * F * H * W * Ch
        let video = Buf(random: n, &rng), tokens = Buf(n), back = Buf(n)
        Patchify.forward(tokens: tokens.p, video: video.p, b: B, frames: F, height: H, width: W, channels: Ch, patch: P)
        // token (b=1, f=2, patch row 1, patch col 2), value (dy=1, dx=0, ch=2) is pixel (y=3, x=4)
        let gw = W / P, D = P * P * Ch
        let token = ((1 * F + 2) * (H / P) + 1) * gw + 2
        XCTAssertEqual(tokens.p[token * D + (1 * P + 0) * Ch + 2], video.p[(((1 * F + 2) * H + 3) * W + 4) * Ch + 2])
        Patchify.unpatchify(video: back.p, tokens: tokens.p, b: B, frames: F, height: H, width: W, channels: Ch, patch: P)
        XCTAssertEqual(back.array, video.array)
        // the backward is the adjoint: <patchify(v), g> = <v, patchify^T(g)>
        let g = Buf(random: n, &rng), dv = Buf(n), dt = Buf(n)
        Patchify.backward(dvideo: dv.p, dtokens: g.p, b: B, frames: F, height: H, width: W, channels: Ch, patch: P)
        XCTAssertEqual(dot(tokens.p, g.p, n), dot(video.p, dv.p, n), accuracy: 1e-3)
        Patchify.unpatchifyBackward(dtokens: dt.p, dvideo: g.p, b: B, frames: F, height: H, width: W, channels: Ch, patch: P)
        XCTAssertEqual(dot(back.p, g.p, n), dot(tokens.p, dt.p, n), accuracy: 1e-3)
    }

    func testPositionEmbeddingAndConcat() {
        var rng = SplitMix64(seed: 22)
        let B = 2, F = 3, GH = 2, GW = 3, C = 4, N = B * F * GH * GW
        let time = Buf(random: F * C, &rng), row = Buf(random: GH * C, &rng), col = Buf(random: GW * C, &rng)
        let base = Buf(random: N * C, &rng), out = Buf(N * C), r = Buf(random: N * C, &rng)
        let run = { () -> Double in
            out.copy(from: base)
            PositionEmbedding3D.forward(out: out.p, time: time.p, row: row.p, col: col.p, b: B, frames: F, rows: GH, cols: GW, c: C)
            return dot(out.p, r.p, N * C)
        }
        _ = run()
        let i = ((1 * F + 2) * GH * GW + 1 * GW + 2) * C + 3
        XCTAssertEqual(out.p[i], base.p[i] + time.p[2 * C + 3] + row.p[1 * C + 3] + col.p[2 * C + 3], accuracy: 1e-6)
        let dtime = Buf(F * C), drow = Buf(GH * C), dcol = Buf(GW * C)
        PositionEmbedding3D.backward(dtime: dtime.p, drow: drow.p, dcol: dcol.p, dout: r.p, b: B, frames: F, rows: GH, cols: GW, c: C)
        checkGradient("time table", x: time.p, analytic: dtime.p, count: F * C, loss: run)
        checkGradient("row table", x: row.p, analytic: drow.p, count: GH * C, loss: run)
        checkGradient("col table", x: col.p, analytic: dcol.p, count: GW * C, loss: run)

        // concat of [B,2,C] and [B,3,C]; split gives them back; backward is the adjoint
        let a = Buf(random: B * 2 * C, &rng), b = Buf(random: B * 3 * C, &rng), cat = Buf(B * 5 * C)
        Concat.forward(out: cat.p, parts: [(ConstFloatPointer(a.p), 2), (ConstFloatPointer(b.p), 3)], b: B, c: C)
        XCTAssertEqual(cat.p[(1 * 5 + 2) * C + 1], b.p[(1 * 3 + 0) * C + 1])
        let a2 = Buf(B * 2 * C), b2 = Buf(B * 3 * C)
        Concat.split(parts: [(a2.p, 2), (b2.p, 3)], inp: cat.p, b: B, c: C)
        XCTAssertEqual(a2.array, a.array)
        XCTAssertEqual(b2.array, b.array)
        let g = Buf(random: B * 5 * C, &rng), da = Buf(B * 2 * C), db = Buf(B * 3 * C)
        Concat.backward(dparts: [(da.p, 2), (db.p, 3)], dout: g.p, b: B, c: C)
        XCTAssertEqual(dot(cat.p, g.p, B * 5 * C), dot(a.p, da.p, B * 2 * C) + dot(b.p, db.p, B * 3 * C), accuracy: 1e-4)
    }

    func testTemporalAttentionAttendsAcrossFramesAtEachPosition() {
        var rng = SplitMix64(seed: 23)
        let B = 2, F = 3, S = 4, C = 6, NH = 2
        let n3 = B * F * S * 3 * C, n = B * F * S * C
        let qkv = Buf(random: n3, &rng), out = Buf(n), qkvT = Buf(n3), outT = Buf(n), att = Buf(B * S * NH * F * F)
        TemporalAttention.forward(out: out.p, qkvT: qkvT.p, outT: outT.p, att: att.p, qkv: qkv.p,
                                  b: B, frames: F, positions: S, c: C, heads: NH)
        // reference: for each (b, s), gather the F tokens, attend with the naive kernel, compare
        let seq = Buf(F * 3 * C), ref = Buf(F * C), refAtt = Buf(NH * F * F)
        for b in 0..<B {
            for s in 0..<S {
                for f in 0..<F { (seq.p + f * 3 * C).update(from: qkv.p + ((b * F + f) * S + s) * 3 * C, count: 3 * C) }
                Attention.forwardReference(out: ref.p, att: refAtt.p, qkv: seq.p, keyValid: nil, b: 1, t: F, c: C, heads: NH)
                for f in 0..<F {
                    for c in 0..<C {
                        XCTAssertEqual(out.p[((b * F + f) * S + s) * C + c], ref.p[f * C + c], accuracy: 1e-5)
                    }
                }
            }
        }
        let r = Buf(random: n, &rng), dqkv = Buf(n3), doutT = Buf(n), dqkvT = Buf(n3), datt = Buf(B * S * NH * F * F)
        TemporalAttention.backward(dqkv: dqkv.p, doutT: doutT.p, dqkvT: dqkvT.p, datt: datt.p, dout: r.p, qkvT: qkvT.p,
                                   att: att.p, b: B, frames: F, positions: S, c: C, heads: NH)
        checkGradient("temporal attention dqkv", x: qkv.p, analytic: dqkv.p, count: n3, eps: 1e-3, samples: 60) {
            TemporalAttention.forward(out: out.p, qkvT: qkvT.p, outT: outT.p, att: att.p, qkv: qkv.p,
                                      b: B, frames: F, positions: S, c: C, heads: NH)
            return dot(out.p, r.p, n)
        }
    }
}

final class RotaryTests: XCTestCase {
    func testRotaryIsRelativeAndItsGradientChecks() {
        var rng = SplitMix64(seed: 31)
        let N = 4, C = 12, NH = 2, split = (2, 2, 2)
        let inp = Buf(random: N * 3 * C, &rng), out = Buf(N * 3 * C), pos = Buf(N * 3)
        for i in 0..<(N * 3) { pos.p[i] = Float(rng.next() % 7) }
        Rotary3D.forward(out: out.p, inp: inp.p, positions: pos.p, n: N, c: C, heads: NH, split: split)
        // a rotation keeps norms, and v is untouched
        for r in 0..<N {
            var a = 0.0, b = 0.0
            for c in 0..<(2 * C) { a += Double(inp.p[r * 3 * C + c] * inp.p[r * 3 * C + c]); b += Double(out.p[r * 3 * C + c] * out.p[r * 3 * C + c]) }
            XCTAssertEqual(a, b, accuracy: 1e-4)
            for c in (2 * C)..<(3 * C) { XCTAssertEqual(out.p[r * 3 * C + c], inp.p[r * 3 * C + c]) }
        }
        // q·k depends only on the difference of positions: shift both tokens by the same amount
        func score(_ pq: [Float], _ pk: [Float]) -> Float {
            let two = Buf(2 * 3 * C), rot = Buf(2 * 3 * C), p2 = Buf(6)
            (two.p).update(from: inp.p, count: 2 * 3 * C)
            for a in 0..<3 { p2.p[a] = pq[a]; p2.p[3 + a] = pk[a] }
            Rotary3D.forward(out: rot.p, inp: two.p, positions: p2.p, n: 2, c: C, heads: NH, split: split)
            var s: Float = 0
            for c in 0..<(C / NH) { s += rot.p[c] * rot.p[3 * C + C + c] }   // head 0: q of token 0, k of token 1
            return s
        }
        XCTAssertEqual(score([1, 2, 3], [4, 0, 5]), score([6, 7, 1], [9, 5, 3]), accuracy: 1e-4)
        XCTAssertNotEqual(score([1, 2, 3], [4, 0, 5]), score([1, 2, 3], [4, 1, 5]))

        let r = Buf(random: N * 3 * C, &rng), dinp = Buf(N * 3 * C)
        Rotary3D.backward(dinp: dinp.p, dout: r.p, positions: pos.p, n: N, c: C, heads: NH, split: split)
        checkGradient("rotary", x: inp.p, analytic: dinp.p, count: N * 3 * C, eps: 1e-2, samples: 60) {
            Rotary3D.forward(out: out.p, inp: inp.p, positions: pos.p, n: N, c: C, heads: NH, split: split)
            return dot(out.p, r.p, N * 3 * C)
        }
    }
}
