import ArgumentParser
import Basics
import CBLAS
import Dispatch
import Engine
import Foundation
import Reasoner
import System

/// `tutor bench engine`: the numeric engine against the sgemm ceiling of this machine.
struct BenchEngine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Measure the numeric engine against raw sgemm on this machine.",
        discussion: """
        In one process: (a) raw sgemm at 1024^3 on 1 and 2 threads and at the shapes the model \
        uses, as the ceiling; (b) one forward and one forward plus backward of a DiT stack of about \
        1,000 tokens, width 256, 8 blocks; (c) the Reasoner-size stack (about 100 tokens, width \
        256): batch 1 with a rank-16 LoRA trained alone, and batch 32 fully trained; (d) the same two \
        for the stack of the Reasoner's shipped default (ReasonerConfig.standard), batch 1 also on \
        one thread, as `tutor run` runs it (the daemon runs one task per core). Prints GFLOP/s, \
        the ratio to the 1024^3 ceiling and to sgemm at the stack's own shapes, where the time goes \
        per kind of op, resident memory over 100 LoRA steps, and peak resident memory. Build with \
        -c release; it measures, it asserts nothing. With --only-standard: the ceiling and (d) \
        alone, about 20 s (scripts/bench-engine-compare --rounds runs it beside PyTorch again and \
        again).
        """
    )

    @Option(name: .long, help: "Threads for the engine and OpenBLAS.")
    var threads = 2

    @Option(name: .long, help: "Timed repetitions of each measurement (the median is reported).")
    var repeats = 5

    @Option(name: .long, help: "Tokens of the large stack.")
    var tokens = 1024

    @Flag(name: .long, help: "Print only the BLAS kernel set, the processor's features and its peak, then stop.")
    var kernels = false

    @Flag(name: .long, help: "After the 1024^3 ceiling, measure only the stacks of the Reasoner's shipped default (d): a short run, for measuring many times in a row.")
    var onlyStandard = false

    func validate() throws {
        guard threads >= 1, threads <= 256 else { throw ValidationError("--threads must be between 1 and 256") }
        guard repeats >= 1, repeats <= 1000 else { throw ValidationError("--repeats must be between 1 and 1000") }
        guard tokens >= 8, tokens <= 8192 else { throw ValidationError("--tokens must be between 8 and 8192") }
    }

    func run() throws {
        print("tutor bench engine: \(ProcessInfo.processInfo.activeProcessorCount) cores online, engine threads \(threads)")
        if let cfg = openblas_get_config() { print("OpenBLAS: \(String(cString: cfg))") }
        printProcessor()
        print("")
        if kernels { return }

        // (a) the ceiling
        print("sgemm (C = A B, row-major, single precision), median of \(repeats):")
        let g1 = sgemmRate(1024, 1024, 1024, threads: 1)
        let g2 = sgemmRate(1024, 1024, 1024, threads: 2)
        Threads.set(threads)
        let gEngine = engineGemmRate(1024)
        print(String(format: "  1024 x 1024 x 1024   OpenBLAS, 1 thread                     %7.1f GFLOP/s", g1))
        print(String(format: "  1024 x 1024 x 1024   OpenBLAS, 2 threads                    %7.1f GFLOP/s", g2))
        print(String(format: "  1024 x 1024 x 1024   engine split, %d threads x 1-thread BLAS %7.1f GFLOP/s", threads, gEngine))
        let ceiling = max(threads == 1 ? g1 : g2, gEngine)
        print(String(format: "  ceiling: %.1f GFLOP/s (%.0f%% of the measured FMA peak on %d thread%@). The machine is shared: each stack below is timed interleaved with",
                     ceiling, 100 * ceiling / fmaPeak(threads: threads), threads, threads == 1 ? "" : "s"))
        print("  the 1024^3 product on the engine's threads, and its ratio is to that interleaved ceiling.")
        let N = tokens, C = 256, H = 1024
        for (m, n, k, what) in onlyStandard ? [] : [(N, 3 * C, C, "q,k,v"), (N, C, C, "o"), (N, H, C, "fc1"), (N, C, H, "fc2"),
                                 (C, C, N, "dW of o"), (96 * 32, 3 * C, C, "q,k,v at batch 32 x 96 tokens"),
                                 (96, C, C, "o at batch 1 x 96 tokens"), (112, 128, 128, "o of ReasonerConfig.standard, batch 1")] {
            let g = sgemmRate(m, n, k, threads: threads)
            print(String(format: "  %4d x %4d x %4d   %-38@ %7.1f GFLOP/s (%3.0f%% of ceiling)", m, n, k, what as NSString, g, 100 * g / ceiling))
        }
        print("")

        if !onlyStandard { measureOtherStacks() }
        // (d) the Reasoner's shipped default, as its own code builds it
        let rc = ReasonerConfig.standard
        let standard = DiTConfig(blocks: rc.depth, width: rc.width, heads: rc.heads, hidden: rc.mlpRatio * rc.width,
                                 condWidth: rc.width)
        let shape = "\(rc.tokens) tokens, width \(rc.width), \(rc.depth) blocks, \(rc.heads) heads, MLP \(rc.mlpRatio * rc.width)"
        measureStack(key: "standard-b1-lora", standard, batch: 1, tokens: rc.tokens, title: "ReasonerConfig.standard stack (\(shape)), batch 1, LoRA rank 16, LoRA-only backward",
                     mode: .loraOnly, lora: true)
        if threads != 1 {
            measureStack(key: "standard-b1-lora-1-thread", standard, batch: 1, tokens: rc.tokens, title: "ReasonerConfig.standard stack (\(shape)), batch 1 on 1 thread (as tutor run), LoRA rank 16, LoRA-only backward",
                         mode: .loraOnly, lora: true, threads: 1)
        }
        measureStack(key: "standard-b32", standard, batch: 32, tokens: rc.tokens, title: "ReasonerConfig.standard stack (\(shape)), batch 32, full backward",
                     mode: .full, lora: false)

        print("summary (median ms; the keys are tools/torch_engine_bench.py's):")
        for r in BenchEngine.summary.rows {
            let key = r.key.padding(toLength: max(28, r.key.count), withPad: " ", startingAt: 0)
            print("  " + key + String(format: " forward %9.2f ms   forward+backward %9.2f ms", r.forward, r.step))
        }
        if let peak = Memory.peakResidentBytes() {
            print(String(format: "peak resident memory: %.1f MiB", Double(peak) / 1048576))
        }
    }

    /// (b) the large stack and (c) the Reasoner-size stack.
    func measureOtherStacks() {
        // (b) the large stack
        let big = DiTConfig(blocks: 8, width: 256, heads: 4, condWidth: 256)
        measureStack(key: "large", big, batch: 1, tokens: tokens, title: "DiT stack, \(tokens) tokens, width 256, 8 blocks, 4 heads, batch 1",
                     mode: .full, lora: false)
        // (c) the Reasoner-size stack
        let reasoner = DiTConfig(blocks: 8, width: 256, heads: 4, condWidth: 256)
        measureStack(key: "reasoner-size-b1-lora", reasoner, batch: 1, tokens: 96, title: "Reasoner-size stack, 96 tokens, batch 1, LoRA rank 16 (q,k,v,o,fc1,fc2), LoRA-only backward",
                     mode: .loraOnly, lora: true, memorySteps: 100)
        measureStack(key: "reasoner-size-b32", reasoner, batch: 32, tokens: 96, title: "Reasoner-size stack, 96 tokens, batch 32, full backward",
                     mode: .full, lora: false)
    }

    /// Median GFLOP/s of sgemm `[m, k] x [k, n]` with OpenBLAS on `threads` threads.
    func sgemmRate(_ m: Int, _ n: Int, _ k: Int, threads: Int) -> Double {
        openblas_set_num_threads(Int32(threads))
        let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        // repeat small products so each timing covers at least ~50 ms
        let inner = max(1, Int(5e9 / max(flops, 1)))
        var times: [Double] = []
        for r in 0...repeats {
            let t0 = monotonicSeconds()
            for _ in 0..<inner {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                            1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
            }
            if r > 0 { times.append((monotonicSeconds() - t0) / Double(inner)) }
        }
        // the engine keeps OpenBLAS single-threaded; make it re-apply that
        Threads.set(Threads.count)
        return flops / median(times) / 1e9
    }

    /// GFLOP/s of one n^3 product split over the engine's threads (`Engine.gemm`), one timing.
    func engineGemmRate(_ n: Int, once: Bool = false) -> Double {
        engineGemmRate(n, n, n, once: once)
    }

    /// GFLOP/s of `[m, k] x [k, n]` split over the engine's threads (`Engine.gemm`, as the
    /// stack's linear maps run), small products repeated so a timing covers about 20 ms.
    func engineGemmRate(_ m: Int, _ n: Int, _ k: Int, once: Bool = false) -> Double {
        let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        let inner = max(1, Int(2e9 / flops))
        var times: [Double] = []
        for r in 0...(once ? 1 : repeats) {
            let t0 = monotonicSeconds()
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        for _ in 0..<inner {
                            gemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: ap.baseAddress!, lda: k,
                                 b: bp.baseAddress!, ldb: n, beta: 0, c: cp.baseAddress!, ldc: n)
                        }
                    }
                }
            }
            if r > 0 { times.append((monotonicSeconds() - t0) / Double(inner)) }
        }
        return flops / median(times) / 1e9
    }

    /// sgemm's rate at the stack's own linear shapes (q,k,v, o, fc1, fc2 over B·T rows), the
    /// FLOP-weighted harmonic mean: what the stack would reach if it were only these products.
    func shapeCeiling(_ config: DiTConfig, rows N: Int) -> Double {
        let C = config.width, H = config.hidden
        let shapes = [(N, 3 * C, C), (N, C, C), (N, H, C), (N, C, H)]
        var flops = 0.0, seconds = 0.0
        for (m, n, k) in shapes {
            let f = 2.0 * Double(m * n * k)
            flops += f
            seconds += f / (engineGemmRate(m, n, k) * 1e9)
        }
        return flops / seconds / 1e9
    }

    func measureStack(key: String, _ config: DiTConfig, batch B: Int, tokens T: Int, title: String, mode: DiTStack.GradientMode,
                      lora: Bool, memorySteps: Int = 0, threads stackThreads: Int? = nil) {
        print(title + ":")
        Threads.set(stackThreads ?? threads)
        defer { Threads.set(threads) }
        let store = ParameterStore()
        let stack = DiTStack(config, store: store)
        store.allocate()
        stack.initialize(seed: 1)
        // give the adaLN modulation non-zero weights so no block is the identity
        var rng = SplitMix64(seed: 2)
        for i in 0..<store.count where store.values![i] == 0 { store.values![i] = rng.normal() * 0.02 }
        var loraStore: ParameterStore?
        if lora { loraStore = stack.attachLoRA(LoRAConfig(rank: 16, alpha: 16), seed: 3) }
        if mode == .full { store.allocateGradients() }
        let C = config.width, CC = config.condWidth, N = B * T
        let ws = stack.makeWorkspace(maxBatch: B, maxTokens: T)
        let x = FloatPointer.allocate(capacity: N * C), y = FloatPointer.allocate(capacity: N * C)
        let dx = FloatPointer.allocate(capacity: N * C), dy = FloatPointer.allocate(capacity: N * C)
        let cond = FloatPointer.allocate(capacity: B * CC)
        defer { x.deallocate(); y.deallocate(); dx.deallocate(); dy.deallocate(); cond.deallocate() }
        for i in 0..<(N * C) { x[i] = rng.normal(); dy[i] = rng.normal() * 1e-3 }
        for i in 0..<(B * CC) { cond[i] = rng.normal() }
        // last eighth of each sequence is padding, as in the Reasoner's batches
        let valid = UnsafeMutablePointer<Bool>.allocate(capacity: N)
        defer { valid.deallocate() }
        for i in 0..<N { valid[i] = (i % T) < T - T / 8 }

        func forward() {
            stack.forward(out: y, inp: x, cond: cond, keyValid: valid, batch: B, tokens: T, workspace: ws)
        }
        func step() {
            forward()
            if mode == .full { store.zeroGradients() }
            loraStore?.zeroGradients()
            dx.update(repeating: 0, count: N * C)
            stack.backward(dinp: dx, dcond: nil, dout: dy, workspace: ws, mode: mode)
        }
        let counts = stack.forwardFlops(batch: B, tokens: T)
        let fwdFlops = counts.total, bwdFlops = counts.backward(mode)
        let profile = OpProfile()

        // Each timed run follows one 1024^3 ceiling product (interleaved, so that both see the same
        // machine) and one untimed run: the ceiling's 12 MB of operands leave the caches cold, and
        // a test-time step, like PyTorch's timed runs in tools/torch_engine_bench.py, follows the
        // step before it.
        var tf: [Double] = [], ceilings: [Double] = []
        for _ in 0..<repeats {
            ceilings.append(engineGemmRate(1024, once: true))
            forward()
            let t0 = monotonicSeconds(); forward(); tf.append(monotonicSeconds() - t0)
        }
        stack.profile = profile
        forward()
        stack.profile = nil
        let fwdProfile = profile.seconds
        profile.reset()

        var ts: [Double] = []
        for _ in 0..<repeats {
            ceilings.append(engineGemmRate(1024, once: true))
            step()
            let t0 = monotonicSeconds(); step(); ts.append(monotonicSeconds() - t0)
        }
        let ceiling = median(ceilings)
        stack.profile = profile
        step()
        stack.profile = nil

        // medians, and the best of the repetitions (the runs least disturbed by other processes on
        // a shared machine), each against the ceiling measured the same way
        let f = median(tf), s = median(ts), fBest = tf.min()!, sBest = ts.min()!, ceilingBest = ceilings.max()!
        BenchEngine.summary.rows.append((key, f * 1e3, s * 1e3))
        let gf = fwdFlops / f / 1e9, gs = (fwdFlops + bwdFlops) / s / 1e9
        let gfBest = fwdFlops / fBest / 1e9, gsBest = (fwdFlops + bwdFlops) / sBest / 1e9
        print(String(format: "  interleaved 1024^3 ceiling: median %.1f GFLOP/s, best %.1f GFLOP/s", ceiling, ceilingBest))
        print("                     median ms    GFLOP   GFLOP/s  of ceiling | best ms   GFLOP/s  of best ceiling")
        print(String(format: "  forward            %8.2f  %7.2f  %7.1f   %4.0f%%     | %7.2f  %7.1f   %4.0f%%",
                     f * 1e3, fwdFlops / 1e9, gf, 100 * gf / ceiling, fBest * 1e3, gfBest, 100 * gfBest / ceilingBest))
        print(String(format: "  forward+backward   %8.2f  %7.2f  %7.1f   %4.0f%%     | %7.2f  %7.1f   %4.0f%%",
                     s * 1e3, (fwdFlops + bwdFlops) / 1e9, gs, 100 * gs / ceiling, sBest * 1e3, gsBest, 100 * gsBest / ceilingBest))
        let shapes = shapeCeiling(config, rows: B * T)
        let peak = fmaPeak(threads: Threads.count)
        print(String(format: "  against the processor's measured FMA peak on %d thread%@ (%.1f GFLOP/s): forward %.0f%%, forward+backward %.0f%% (medians)",
                     Threads.count, Threads.count == 1 ? "" : "s", peak, 100 * gf / peak, 100 * gs / peak))
        print(String(format: "  sgemm at this stack's own shapes (q,k,v, o, fc1, fc2 at %d rows, %d thread%@): %.1f GFLOP/s;",
                     B * T, Threads.count, Threads.count == 1 ? "" : "s", shapes))
        print(String(format: "    forward %.0f%%, forward+backward %.0f%% of it (medians)", 100 * gf / shapes, 100 * gs / shapes))
        print("  time per kind of op (one profiled forward | forward+backward):")
        let total = profile.total, ftotal = fwdProfile.values.reduce(0, +)
        for op in OpProfile.Op.allCases {
            let a = fwdProfile[op] ?? 0, b = profile.seconds[op] ?? 0
            if a == 0 && b == 0 { continue }
            print(String(format: "    %-11@ %8.2f ms %4.0f%% | %8.2f ms %4.0f%%", op.rawValue as NSString,
                         a * 1e3, 100 * a / max(ftotal, 1e-12), b * 1e3, 100 * b / max(total, 1e-12)))
        }
        print(String(format: "  workspace %.1f MiB, parameters %.1f MiB", Double(ws.bytes) / 1048576,
                     Double(store.count * 4) / 1048576))
        if memorySteps > 0, let opt = loraStore.map({ AdamW(ParameterSubset(all: $0), learningRate: 1e-4) }) {
            step(); opt.update()
            let before = Memory.anonymousResidentBytes() ?? 0, rssBefore = Memory.residentBytes() ?? 0
            for _ in 0..<memorySteps { step(); opt.update() }
            let after = Memory.anonymousResidentBytes() ?? 0, rssAfter = Memory.residentBytes() ?? 0
            print(String(format: "  %d LoRA training steps: anonymous resident memory %.2f -> %.2f MiB (%+d bytes), resident %.2f -> %.2f MiB",
                         memorySteps, Double(before) / 1048576, Double(after) / 1048576, after - before,
                         Double(rssBefore) / 1048576, Double(rssAfter) / 1048576))
        }
        print("")
    }

    /// The kernel set, how it was chosen, and the processor's peak: nominal from what the
    /// machine reports, and measured by a loop of independent FMAs on every engine thread.
    func printProcessor() {
        let p = BLASKernels.processor
        print(BLASKernels.description)
        print(HandKernels.description)
        let mhz = cpuMHz()
        print("processor: \(p.vendor) family \(p.family) model \(p.model), \(p.summary)")
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let perCycle = 2 * p.fmaLanesPerCycle
        if let mhz {
            let nominal = Double(cores * perCycle) * mhz / 1e3
            print(String(format: "  nominal peak: %d cores x %d FMA lanes per cycle x 2 FLOP x %.0f MHz (reported clock) = %.1f GFLOP/s",
                         cores, p.fmaLanesPerCycle, mhz, nominal))
        }
        let one = fmaPeak(threads: 1), all = fmaPeak(threads: cores)
        print(String(format: "  measured FMA peak (independent multiply-adds on the widest vectors): 1 thread %.1f GFLOP/s, %d threads %.1f GFLOP/s",
                     one, cores, all))
        if let mhz, one > 0 {
            print(String(format: "    one thread: %.1f FLOP per cycle at the reported clock, against %d nominal (clocks boost above the reported one; other processes share the cores)",
                         one * 1e3 / mhz, perCycle))
        }
    }

    /// The first "cpu MHz" of /proc/cpuinfo.
    func cpuMHz() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("cpu MHz") {
            if let v = line.split(separator: ":").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) { return v }
        }
        return nil
    }

    /// GFLOP/s of independent FMAs on `threads` threads at once (0.2 s), cached per count.
    func fmaPeak(threads n: Int) -> Double {
        if let v = BenchEngine.peaks.value[n] { return v }
        let rates = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { rates.deallocate() }
        nonisolated(unsafe) let out = rates  // each thread writes its own slot
        DispatchQueue.concurrentPerform(iterations: n) { i in out[i] = BLASKernels.fmaPeakFlops(seconds: 0.2) }
        let v = (0..<n).reduce(0) { $0 + rates[$1] } / 1e9
        BenchEngine.peaks.value[n] = v
        return v
    }

    private final class Summary: @unchecked Sendable { var rows: [(key: String, forward: Double, step: Double)] = [] }
    private static let summary = Summary()

    private final class Peaks: @unchecked Sendable { var value: [Int: Double] = [:] }
    private static let peaks = Peaks()

    func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
