extension DiTStack {
    /// Allocates the activations and backward scratch for up to `maxBatch` sequences of up to
    /// `maxTokens` tokens, in one allocation (plus one for LoRA intermediates once an adapter is
    /// attached). Create it once and pass it to every forward and backward.
    public func makeWorkspace(maxBatch: Int, maxTokens: Int) -> Workspace {
        Workspace(config, maxBatch: maxBatch, maxTokens: maxTokens)
    }

    /// Activations of one forward pass, kept for backward, and the backward pass's scratch.
    public final class Workspace {
        public let maxBatch: Int
        public let maxTokens: Int
        let config: DiTConfig
        let memory: FloatPointer
        public let floats: Int
        /// Per block: activation buffers (capacity for maxBatch × maxTokens). After the forward
        /// pass `fc1` holds GELU's derivative at fc1's output, all the backward needs of it.
        struct Block {
            var mod, ln1, mean1, rstd1, h1, qkv, att, y, ao, xMid, ln2, mean2, rstd2, h2, fc1, gel, mo, xOut: FloatPointer
        }
        var blocks: [Block] = []
        var siluCond: FloatPointer
        // backward scratch, shared by all blocks
        var dResA, dResB, dMid, dmo, dh2, dln2, dao, dy, dh1, dln1, dqkv, dAtt, dfc1, dgel, dmod, dsilu: FloatPointer
        // LoRA intermediates u = inp · Aᵀ per block and linear: [B, T, R] (or [B, R] for adaLN)
        var loraMemory: FloatPointer?
        var loraRank = 0
        var loraU: [[FloatPointer]] = []
        var loraDU: FloatPointer?
        // the last forward pass's inputs
        var batch = 0, tokens = 0
        var inp: ConstFloatPointer?
        var cond: ConstFloatPointer?
        var keyValid: UnsafePointer<Bool>?

        init(_ config: DiTConfig, maxBatch: Int, maxTokens: Int) {
            self.config = config
            self.maxBatch = maxBatch
            self.maxTokens = maxTokens
            let B = maxBatch, T = maxTokens, C = config.width, H = config.hidden
            let NH = config.heads, CC = config.condWidth
            let N = B * T
            let perBlock = B * 6 * C + 12 * N * C + 4 * N + B * NH * T * T + 2 * N * H
            let scratch = 10 * N * C + N * 3 * C + B * NH * T * T + 2 * N * H + B * 6 * C + B * CC
            floats = config.blocks * perBlock + B * CC + scratch
            memory = FloatPointer.allocate(capacity: floats)
            memory.initialize(repeating: 0, count: floats)
            var cursor = memory
            func take(_ n: Int) -> FloatPointer { defer { cursor += n }; return cursor }
            for _ in 0..<config.blocks {
                blocks.append(Block(
                    mod: take(B * 6 * C), ln1: take(N * C), mean1: take(N), rstd1: take(N), h1: take(N * C),
                    qkv: take(N * 3 * C), att: take(B * NH * T * T), y: take(N * C), ao: take(N * C),
                    xMid: take(N * C), ln2: take(N * C), mean2: take(N), rstd2: take(N), h2: take(N * C),
                    fc1: take(N * H), gel: take(N * H), mo: take(N * C), xOut: take(N * C)))
            }
            siluCond = take(B * CC)
            dResA = take(N * C); dResB = take(N * C); dMid = take(N * C)
            dmo = take(N * C); dh2 = take(N * C); dln2 = take(N * C); dao = take(N * C)
            dy = take(N * C); dh1 = take(N * C); dln1 = take(N * C)
            dqkv = take(N * 3 * C); dAtt = take(B * NH * T * T)
            dfc1 = take(N * H); dgel = take(N * H); dmod = take(B * 6 * C); dsilu = take(B * CC)
            precondition(cursor - memory == floats, "DiTStack.Workspace: layout arithmetic is off")
        }

        deinit {
            memory.deallocate()
            loraMemory?.deallocate()
        }

        /// Sizes the LoRA intermediates for `rank` (allocates only when the rank grows).
        func prepareLoRA(rank R: Int) {
            if loraMemory != nil && loraRank >= R { return }
            loraMemory?.deallocate()
            let N = maxBatch * maxTokens, L = config.blocks, K = LinearKind.allCases.count
            let n = L * K * N * R + N * R
            let p = FloatPointer.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            loraMemory = p
            loraRank = R
            loraU = (0..<L).map { l in (0..<K).map { k in p + (l * K + k) * N * R } }
            loraDU = p + L * K * N * R
        }

        /// Bytes held by the workspace.
        public var bytes: Int { 4 * (floats + (loraMemory != nil ? (config.blocks * LinearKind.allCases.count + 1) * maxBatch * maxTokens * loraRank : 0)) }
    }
}
