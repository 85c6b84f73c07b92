import Basics
import XCTest
@testable import Engine

final class DiTStackTests: XCTestCase {
    // Odd small shapes: 2 blocks, 2 sequences of 5 tokens, width 8, 2 heads, MLP 12, cond 6.
    let config = DiTConfig(blocks: 2, width: 8, heads: 2, hidden: 12, condWidth: 6)
    let B = 2, T = 5

    /// A stack with every parameter random (adaLN too, so no gate is zero) and an adapter whose B
    /// is random too (so the adapter changes the output).
    func makeStack(seed: UInt64, targets: [DiTStack.LinearKind] = LoRAConfig.defaultTargets + [.adaLN])
        -> (DiTStack, ParameterStore, ParameterStore) {
        let store = ParameterStore()
        let stack = DiTStack(config, store: store)
        store.allocate()
        var rng = SplitMix64(seed: seed)
        for i in 0..<store.count { store.values![i] = rng.normal() * 0.3 }
        let lora = stack.attachLoRA(LoRAConfig(rank: 3, alpha: 6, targets: targets), seed: seed + 1)
        for i in 0..<lora.count { lora.values![i] = rng.normal() * 0.3 }
        return (stack, store, lora)
    }

    func testNamesFollowPEFTModules() {
        let (stack, store, lora) = makeStack(seed: 1)
        XCTAssertEqual(store.entry("blocks.1.attn.q.weight")?.shape, [8, 8])
        XCTAssertEqual(store.entry("blocks.0.mlp.fc1.weight")?.shape, [12, 8])
        XCTAssertEqual(store.entry("blocks.0.mlp.fc2.bias")?.shape, [8])
        XCTAssertEqual(store.entry("blocks.1.adaLN_modulation.weight")?.shape, [48, 6])
        XCTAssertEqual(lora.entry("blocks.0.attn.v.lora_A.weight")?.shape, [3, 8])
        XCTAssertEqual(lora.entry("blocks.1.mlp.fc1.lora_B.weight")?.shape, [12, 3])
        XCTAssertEqual(stack.parameterNames.count, 2 * 14)
        // q, k, v weights are one contiguous [3C, C] block
        XCTAssertEqual(store.entry("blocks.0.attn.k.weight")!.offset, store.entry("blocks.0.attn.q.weight")!.offset + 64)
        XCTAssertEqual(LoRAConfig(rank: 16, alpha: 16).targetModules, ["attn.q", "attn.k", "attn.v", "attn.o", "mlp.fc1", "mlp.fc2"])
    }

    func testBlockGradientsMatchFiniteDifferences() {
        let (stack, store, lora) = makeStack(seed: 2)
        let C = config.width, CC = config.condWidth, N = B * T
        var rng = SplitMix64(seed: 3)
        let x = Buf(random: N * C, &rng), cond = Buf(random: B * CC, &rng), out = Buf(N * C)
        let r = Buf(random: N * C, &rng)
        var valid = [Bool](repeating: true, count: N)
        valid[T + 3] = false; valid[T + 4] = false   // second sequence: 3 real tokens
        let ws = stack.makeWorkspace(maxBatch: 3, maxTokens: 6)
        valid.withUnsafeBufferPointer { vb in
            let mask = vb.baseAddress!
            let loss = { () -> Double in
                stack.forward(out: out.p, inp: x.p, cond: cond.p, keyValid: mask, batch: self.B, tokens: self.T, workspace: ws)
                return dot(out.p, r.p, N * C)
            }
            _ = loss()
            store.allocateGradients(); store.zeroGradients(); lora.zeroGradients()
            let dx = Buf(N * C), dc = Buf(B * CC)
            stack.backward(dinp: dx.p, dcond: dc.p, dout: r.p, workspace: ws, mode: .full)
            checkGradient("stack dinp", x: x.p, analytic: dx.p, count: N * C, eps: 1e-2, samples: 40, loss: loss)
            checkGradient("stack dcond", x: cond.p, analytic: dc.p, count: B * CC, eps: 1e-2, loss: loss)
            for name in ["blocks.0.attn.q.weight", "blocks.0.attn.v.bias", "blocks.1.attn.o.weight", "blocks.0.mlp.fc1.weight",
                         "blocks.1.mlp.fc2.bias", "blocks.0.adaLN_modulation.weight", "blocks.1.adaLN_modulation.bias"] {
                let e = store.entry(name)!
                checkGradient(name, x: store.values! + e.offset, analytic: store.grads! + e.offset, count: e.count,
                              samples: 12, loss: loss)
            }
            let fullLoRAGrads = Array(UnsafeBufferPointer(start: lora.grads!, count: lora.count))
            for e in lora.entries where e.name.hasPrefix("blocks.0.") || e.name.contains("fc2") || e.name.contains("attn.k") {
                checkGradient(e.name, x: lora.values! + e.offset, analytic: lora.grads! + e.offset, count: e.count,
                              samples: 8, loss: loss)
            }

            // LoRA only: the same LoRA gradients and input gradient, and no work on the base
            store.releaseGradientsAndMoments()
            lora.zeroGradients()
            let dx2 = Buf(N * C)
            _ = loss()
            stack.backward(dinp: dx2.p, dcond: nil, dout: r.p, workspace: ws, mode: .loraOnly)
            XCTAssertNil(store.grads)
            assertClose(dx2.p, dx.p, N * C, tol: 1e-5, "lora-only dinp")
            for i in 0..<lora.count {
                XCTAssertEqual(lora.grads![i], fullLoRAGrads[i], accuracy: 1e-5 * max(1, abs(fullLoRAGrads[i])))
            }
            // without an input gradient, block 0's LoRA gradients are still right
            lora.zeroGradients()
            stack.backward(dinp: nil, dcond: nil, dout: r.p, workspace: ws, mode: .loraOnly)
            for i in 0..<lora.count {
                XCTAssertEqual(lora.grads![i], fullLoRAGrads[i], accuracy: 1e-5 * max(1, abs(fullLoRAGrads[i])))
            }
        }
    }

    /// The backward pass writes each scratch buffer before it reads it (nothing is zeroed
    /// between passes): with the scratch full of NaN from the start, every gradient is the same
    /// as with a fresh workspace, in both modes, for a batch smaller than the workspace's.
    func testBackwardNeverReadsStaleScratch() {
        let (stack, store, lora) = makeStack(seed: 12)
        let C = config.width, CC = config.condWidth, N = B * T
        var rng = SplitMix64(seed: 13)
        let x = Buf(random: N * C, &rng), cond = Buf(random: B * CC, &rng), out = Buf(N * C), r = Buf(random: N * C, &rng)
        store.allocateGradients()
        for mode in [DiTStack.GradientMode.full, .loraOnly] {
            var results: [[Float]] = []
            for poison in [false, true] {
                let ws = stack.makeWorkspace(maxBatch: 3, maxTokens: 6)
                store.zeroGradients(); lora.zeroGradients()
                let dx = Buf(N * C), dc = Buf(B * CC)
                stack.forward(out: out.p, inp: x.p, cond: cond.p, keyValid: nil, batch: B, tokens: T, workspace: ws)
                if poison { ws.dResA.update(repeating: .nan, count: ws.memory + ws.floats - ws.dResA) }
                stack.backward(dinp: dx.p, dcond: mode == .full ? dc.p : nil, dout: r.p, workspace: ws, mode: mode)
                var all = dx.array + dc.array + Array(UnsafeBufferPointer(start: lora.grads!, count: lora.count))
                if mode == .full { all += Array(UnsafeBufferPointer(start: store.grads!, count: store.count)) }
                XCTAssertFalse(all.contains { !$0.isFinite }, "\(mode): a gradient is not finite")
                results.append(all)
            }
            XCTAssertTrue(results[0] == results[1], "\(mode): stale scratch changed \(zip(results[0], results[1]).filter { $0 != $1 }.count) gradients")
        }
    }

    func testFuseUnfuseAndZeroInit() {
        let (stack, store, _) = makeStack(seed: 4)
        let C = config.width, CC = config.condWidth, N = B * T
        var rng = SplitMix64(seed: 5)
        let x = Buf(random: N * C, &rng), cond = Buf(random: B * CC, &rng), out = Buf(N * C), fused = Buf(N * C)
        let ws = stack.makeWorkspace(maxBatch: B, maxTokens: T)
        stack.forward(out: out.p, inp: x.p, cond: cond.p, keyValid: nil, batch: B, tokens: T, workspace: ws)
        let w0 = store.array("blocks.1.mlp.fc1.weight")
        stack.fuseLoRA()
        XCTAssertNotEqual(store.array("blocks.1.mlp.fc1.weight"), w0)
        stack.forward(out: fused.p, inp: x.p, cond: cond.p, keyValid: nil, batch: B, tokens: T, workspace: ws)
        assertClose(fused.p, out.p, N * C, tol: 1e-4, "fused adapter")
        stack.unfuseLoRA()
        let w1 = store.array("blocks.1.mlp.fc1.weight")
        for i in 0..<w0.count { XCTAssertEqual(w1[i], w0[i], accuracy: 1e-5) }
        stack.detachLoRA()

        // adaLN-Zero: a freshly initialised stack is the identity, and a fresh adapter changes nothing
        stack.initialize(seed: 9)
        stack.attachLoRA(LoRAConfig(rank: 2, alpha: 2), seed: 3)
        stack.forward(out: out.p, inp: x.p, cond: cond.p, keyValid: nil, batch: B, tokens: T, workspace: ws)
        for i in 0..<(N * C) { XCTAssertEqual(out.p[i], x.p[i]) }
    }

    func testSameThreadCountGivesIdenticalResults() {
        // large enough that the matrix products are split between threads
        let store = ParameterStore()
        let stack = DiTStack(DiTConfig(blocks: 2, width: 32, heads: 4, condWidth: 8), store: store)
        store.allocate()
        var prng = SplitMix64(seed: 6)
        for i in 0..<store.count { store.values![i] = prng.normal() * 0.2 }
        let lora = stack.attachLoRA(LoRAConfig(rank: 4, alpha: 4), seed: 1)
        for i in 0..<lora.count { lora.values![i] = prng.normal() * 0.2 }
        let C = 32, CC = 8
        let B = 4, T = 64, N = B * T
        var rng = SplitMix64(seed: 7)
        let x = Buf(random: N * C, &rng), cond = Buf(random: B * CC, &rng), out = Buf(N * C), dx = Buf(N * C)
        let ws = stack.makeWorkspace(maxBatch: B, maxTokens: T)
        store.allocateGradients()
        defer { Threads.set(1) }
        for threads in [1, 2] {
            Threads.set(threads)
            var results: [[Float]] = []
            for _ in 0..<2 {
                store.zeroGradients(); lora.zeroGradients(); dx.zero()
                stack.forward(out: out.p, inp: x.p, cond: cond.p, keyValid: nil, batch: B, tokens: T, workspace: ws)
                stack.backward(dinp: dx.p, dcond: nil, dout: x.p, workspace: ws, mode: .full)
                results.append(out.array + dx.array + Array(UnsafeBufferPointer(start: store.grads!, count: store.count))
                               + Array(UnsafeBufferPointer(start: lora.grads!, count: lora.count)))
            }
            XCTAssertEqual(results[0], results[1], "\(threads) threads: two runs differ")
        }
    }

    /// Two chained passes through the same stack (as the Reasoner's sampling steps are), each with
    /// its own workspace, backpropagated in reverse order: LoRA gradients and the input gradient
    /// match finite differences of the composed map.
    func testBackpropagationThroughChainedPasses() {
        let (stack, _, lora) = makeStack(seed: 8)
        let C = config.width, CC = config.condWidth, N = B * T
        var rng = SplitMix64(seed: 9)
        let x = Buf(random: N * C, &rng), cond1 = Buf(random: B * CC, &rng), cond2 = Buf(random: B * CC, &rng)
        let y1 = Buf(N * C), y2 = Buf(N * C), r = Buf(random: N * C, &rng)
        let ws1 = stack.makeWorkspace(maxBatch: B, maxTokens: T), ws2 = stack.makeWorkspace(maxBatch: B, maxTokens: T)
        let loss = { () -> Double in
            stack.forward(out: y1.p, inp: x.p, cond: cond1.p, keyValid: nil, batch: self.B, tokens: self.T, workspace: ws1)
            stack.forward(out: y2.p, inp: y1.p, cond: cond2.p, keyValid: nil, batch: self.B, tokens: self.T, workspace: ws2)
            return dot(y2.p, r.p, N * C)
        }
        _ = loss()
        lora.zeroGradients()
        let dy1 = Buf(N * C), dx = Buf(N * C)
        stack.backward(dinp: dy1.p, dcond: nil, dout: r.p, workspace: ws2, mode: .loraOnly)
        stack.backward(dinp: dx.p, dcond: nil, dout: dy1.p, workspace: ws1, mode: .loraOnly)
        checkGradient("chained dinp", x: x.p, analytic: dx.p, count: N * C, samples: 30, loss: loss)
        for name in ["blocks.0.attn.q.lora_A.weight", "blocks.1.mlp.fc2.lora_B.weight", "blocks.0.adaLN_modulation.lora_B.weight"] {
            let e = lora.entry(name)!
            checkGradient("chained " + name, x: lora.values! + e.offset, analytic: lora.grads! + e.offset, count: e.count,
                          samples: 12, loss: loss)
        }
    }
}
