import Basics
import System
import XCTest
@testable import Engine

/// A tiny transformer on the engine, trained end to end: input projection, learned positions, a
/// DiT stack, final layer norm and output projection, MSE, AdamW. It learns to reverse a
/// sequence of vectors conditioned on a per-sequence vector that scales the target, so both the
/// attention (routing by position) and the adaLN conditioning must work.
final class TinyTransformer {
    let B: Int, T: Int, D: Int, C: Int
    let store = ParameterStore()
    let stack: DiTStack
    let wIn: Int, bIn: Int, pos: Int, lnW: Int, lnB: Int, wOut: Int, bOut: Int
    let ws: DiTStack.Workspace
    // activations
    let x0: Buf, x1: Buf, y: Buf, ln: Buf, mean: Buf, rstd: Buf, pred: Buf
    // gradients of activations
    let dpred: Buf, dln: Buf, dy: Buf, dx1: Buf
    let opt: AdamW

    init(batch B: Int, tokens T: Int, dim D: Int, width C: Int, seed: UInt64) {
        self.B = B; self.T = T; self.D = D; self.C = C
        wIn = store.add("in.weight", [C, D]); bIn = store.add("in.bias", [C])
        pos = store.add("pos", [T, C])
        stack = DiTStack(DiTConfig(blocks: 2, width: C, heads: 2, condWidth: 4), store: store)
        lnW = store.add("final.norm.weight", [C]); lnB = store.add("final.norm.bias", [C])
        wOut = store.add("out.weight", [D, C]); bOut = store.add("out.bias", [D])
        store.allocate()
        stack.initialize(seed: seed)
        var rng = SplitMix64(seed: seed + 1)
        for (i, scale) in [(wIn, 1 / Float(D).squareRoot()), (pos, 0.5), (wOut, 1 / Float(C).squareRoot())] {
            let p = store.value(i)
            for j in 0..<store.entries[i].count { p[j] = rng.normal() * scale }
        }
        store.value(lnW).update(repeating: 1, count: C)
        ws = stack.makeWorkspace(maxBatch: B, maxTokens: T)
        let N = B * T
        x0 = Buf(N * C); x1 = Buf(N * C); y = Buf(N * C); ln = Buf(N * C); mean = Buf(N); rstd = Buf(N); pred = Buf(N * D)
        dpred = Buf(N * D); dln = Buf(N * C); dy = Buf(N * C); dx1 = Buf(N * C)
        store.allocateGradients()
        opt = AdamW(ParameterSubset(all: store), learningRate: 3e-3, weightDecay: 0, maxGradNorm: 1)
    }

    /// One step on (inp `[B, T, D]`, cond `[B, 4]`, target `[B, T, D]`); returns the loss.
    func step(_ inp: Buf, _ cond: Buf, _ target: Buf) -> Float {
        let N = B * T
        Linear.forward(out: x0.p, inp: inp.p, weight: store.value(wIn), bias: store.value(bIn), n: N, inC: D, outC: C)
        for b in 0..<B { Residual.forward(out: x0.p + b * T * C, a: x0.p + b * T * C, b: store.value(pos), n: T * C) }
        stack.forward(out: y.p, inp: x0.p, cond: cond.p, keyValid: nil, batch: B, tokens: T, workspace: ws)
        LayerNorm.forward(out: ln.p, mean: mean.p, rstd: rstd.p, inp: y.p, weight: store.value(lnW), bias: store.value(lnB), n: N, c: C)
        Linear.forward(out: pred.p, inp: ln.p, weight: store.value(wOut), bias: store.value(bOut), n: N, inC: C, outC: D)
        let loss = MSE.forward(pred: pred.p, target: target.p, weight: nil, n: N * D)

        store.zeroGradients()
        dpred.zero(); dln.zero(); dy.zero(); dx1.zero()
        MSE.backward(dpred: dpred.p, pred: pred.p, target: target.p, weight: nil, n: N * D)
        Linear.backward(dinp: dln.p, dweight: store.grad(wOut), dbias: store.grad(bOut), dout: dpred.p, inp: ln.p,
                        weight: store.value(wOut), n: N, inC: C, outC: D)
        LayerNorm.backward(dinp: dy.p, dweight: store.grad(lnW), dbias: store.grad(lnB), dout: dln.p, inp: y.p,
                           weight: store.value(lnW), mean: mean.p, rstd: rstd.p, n: N, c: C)
        stack.backward(dinp: dx1.p, dcond: nil, dout: dy.p, workspace: ws, mode: .full)
        for b in 0..<B { Residual.backward(da: nil, db: store.grad(pos), dout: dx1.p + b * T * C, n: T * C) }
        Linear.backward(dinp: nil, dweight: store.grad(wIn), dbias: store.grad(bIn), dout: dx1.p, inp: inp.p,
                        weight: store.value(wIn), n: N, inC: D, outC: C)
        opt.update()
        return loss
    }
}

final class TrainingTests: XCTestCase {
    /// The toy task: target[b, t] = s_b · inp[b, T-1-t], with s_b in {-1, 1} given by cond.
    func makeBatch(_ rng: inout SplitMix64, B: Int, T: Int, D: Int) -> (Buf, Buf, Buf) {
        let inp = Buf(random: B * T * D, &rng), cond = Buf(B * 4), target = Buf(B * T * D)
        for b in 0..<B {
            let s: Float = rng.next() % 2 == 0 ? 1 : -1
            cond.p[b * 4] = s; cond.p[b * 4 + 1] = -s
            for t in 0..<T { for d in 0..<D { target.p[(b * T + t) * D + d] = s * inp.p[(b * T + (T - 1 - t)) * D + d] } }
        }
        return (inp, cond, target)
    }

    func testTinyTransformerLearnsAndMemoryStaysFlat() {
        let B = 8, T = 5, D = 3
        let model = TinyTransformer(batch: B, tokens: T, dim: D, width: 16, seed: 11)
        var rng = SplitMix64(seed: 12)
        // a fixed training set of 4 batches, cycled
        let data = (0..<4).map { _ in makeBatch(&rng, B: B, T: T, D: D) }
        var first: Float = 0, last: Float = 0
        var rssAfterFirst = 0, rssAfter100 = 0
        for step in 0..<400 {
            let (x, c, t) = data[step % data.count]
            let loss = model.step(x, c, t)
            if step < 4 { first += loss / 4 }
            if step >= 396 { last += loss / 4 }
            if step == 1 { rssAfterFirst = Memory.anonymousResidentBytes() ?? 0 }
            if step == 101 { rssAfter100 = Memory.anonymousResidentBytes() ?? 0 }
        }
        print("tiny transformer: loss \(first) -> \(last) (\(first / last)x); anonymous RSS after step 1: \(rssAfterFirst) B, after step 101: \(rssAfter100) B")
        XCTAssertGreaterThanOrEqual(first / last, 100, "loss fell only from \(first) to \(last)")
        // 100 steps allocate nothing that stays: anonymous resident memory (heap, not code pages
        // faulted in from libraries) grows by less than 64 KiB
        XCTAssertLessThan(rssAfter100 - rssAfterFirst, 64 * 1024)
    }
}
