import CBLAS
import CKernels
import Foundation

/// Which of OpenBLAS's kernel sets runs the engine's products, and making it the best one the
/// processor can take.
///
/// OpenBLAS built with DYNAMIC_ARCH (Debian's) picks its kernels once, when the library is
/// loaded, from the processor's model number. A processor newer than the library is not
/// recognised and gets a generic set: Debian's 0.3.21 runs its SSE3 ("Prescott") kernels on
/// Xeons with AVX-512, four to six times slower than its own AVX-512 kernels on the same
/// machine, with the same results (docs/ENGINE.md). The choice can only be changed through
/// `OPENBLAS_CORETYPE` before the library loads, so tutor, at start, compares the set in use
/// with what CPUID says the processor supports, and when the library fell short it executes
/// itself again with the better set named, checks that set's products against the engine's
/// reference product, and falls back to the library's own choice if they disagree.
///
/// A user's `OPENBLAS_CORETYPE` always wins. The decision travels to child processes (the
/// daemon's workers) in `TUTOR_BLAS_KERNELS`, so it is made once per process tree.
public enum BLASKernels {
    /// The variable that carries tutor's own decision: `check:BEST:GENERIC` while the re-executed
    /// process checks BEST, `auto:BEST:GENERIC` once it passed, `failed:BEST:GENERIC` when it did
    /// not and GENERIC runs again.
    public static let stateVariable = "TUTOR_BLAS_KERNELS"
    /// OpenBLAS's own variable.
    public static let coreVariable = "OPENBLAS_CORETYPE"

    /// The kernel set OpenBLAS runs in this process ("Cooperlake", "Haswell", "Prescott", ...).
    public static var inUse: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name).trimmingCharacters(in: .whitespaces)
    }

    /// FLOP/s of one thread running independent fused multiply-adds on the widest vectors the
    /// processor has, for about `seconds`: the physical limit a product could reach (0 where
    /// the processor has neither AVX-512 nor AVX2 + FMA).
    public static func fmaPeakFlops(seconds: Double) -> Double { tutor_fma_peak_flops(seconds) }

    /// What the processor can run, from CPUID.
    public static var processor: Processor { Processor.current }

    /// The processor's features that matter for choosing kernels.
    public struct Processor: Sendable, Equatable {
        public var avx = false, fma = false, avx2 = false
        public var avx512f = false, avx512cd = false, avx512bw = false, avx512dq = false, avx512vl = false
        public var avx512bf16 = false
        public var vendor = "other"
        public var family = 0, model = 0

        public init() {}

        public static var current: Processor {
            var f = tutor_cpu_features()
            tutor_cpu_features_read(&f)
            var p = Processor()
            p.avx = f.avx != 0; p.fma = f.fma != 0; p.avx2 = f.avx2 != 0
            p.avx512f = f.avx512f != 0; p.avx512cd = f.avx512cd != 0; p.avx512bw = f.avx512bw != 0
            p.avx512dq = f.avx512dq != 0; p.avx512vl = f.avx512vl != 0; p.avx512bf16 = f.avx512bf16 != 0
            p.vendor = f.vendor == 1 ? "Intel" : f.vendor == 2 ? "AMD" : "other"
            p.family = Int(f.family); p.model = Int(f.model)
            return p
        }

        /// The AVX-512 subsets OpenBLAS's SkylakeX kernels use.
        public var hasSkylakeXSet: Bool { avx512f && avx512cd && avx512bw && avx512dq && avx512vl }

        /// The features in words, widest first: "AVX-512 (F, CD, BW, DQ, VL, BF16), AVX2, FMA".
        public var summary: String {
            var parts: [String] = []
            if avx512f {
                var subsets = ["F"]
                if avx512cd { subsets.append("CD") }
                if avx512bw { subsets.append("BW") }
                if avx512dq { subsets.append("DQ") }
                if avx512vl { subsets.append("VL") }
                if avx512bf16 { subsets.append("BF16") }
                parts.append("AVX-512 (\(subsets.joined(separator: ", ")))")
            }
            if avx2 { parts.append("AVX2") }
            if fma { parts.append("FMA") }
            if avx && !avx2 { parts.append("AVX") }
            return parts.isEmpty ? "SSE only" : parts.joined(separator: ", ")
        }

        /// Widest vector the processor computes on, in single-precision lanes (16 for AVX-512,
        /// 8 for AVX, 4 otherwise).
        public var vectorLanes: Int { avx512f ? 16 : avx ? 8 : 4 }

        /// Single-precision multiply-adds per cycle and core, from the vendor's published
        /// microarchitecture: two FMA pipes of the full vector width on Intel cores with
        /// AVX-512 and on AMD from Zen 5 (family 26); two 256-bit pipes on Zen 2 to 4 (Zen 4
        /// splits each 512-bit operation in two); two 256-bit pipes on AVX2 cores; one 128-bit
        /// multiply and one add on older ones.
        public var fmaLanesPerCycle: Int {
            if vendor == "AMD" {
                if family >= 26 { return avx512f ? 32 : 16 }
                if family >= 23 { return avx2 ? 16 : 8 }
            }
            if avx512f { return 32 }
            if avx2 && fma { return 16 }
            return 4
        }
    }

    /// OpenBLAS's x86-64 kernel sets, by the widest instructions they use. A name not listed
    /// (a newer library's) is taken as at least as good as anything tutor would pick.
    public static func rank(of core: String) -> Int {
        switch core.lowercased() {
        case "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn",
             "dunnington", "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "unknown":
            return 1
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator": return 2
        case "haswell", "zen": return 3
        case "skylakex": return 4
        case "cooperlake": return 5
        default: return Int.max
        }
    }

    /// The best of OpenBLAS 0.3.21's kernel sets this processor can run, or nil where none is
    /// better than SSE.
    public static func best(for p: Processor) -> String? {
        if p.hasSkylakeXSet { return p.avx512bf16 ? "Cooperlake" : "SkylakeX" }
        if p.avx2 && p.fma { return "Haswell" }
        if p.avx { return "Sandybridge" }
        return nil
    }

    /// What to do at start.
    public enum Decision: Equatable {
        /// Run as loaded.
        case keep
        /// Run as loaded, recording tutor's decision for child processes in `stateVariable`.
        case record(String)
        /// Execute again with these variables set.
        case reexec([String: String])
    }

    /// The decision at start, from the environment, the kernel set in use, the processor, and
    /// (only in the re-executed process) the result of the numerical check.
    public static func decide(environment env: [String: String], inUse: String, processor: Processor,
                              check: () -> Bool) -> Decision {
        if let state = env[stateVariable], state.hasPrefix("check:") {
            let parts = state.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { return .keep }
            if check() { return .record("auto:\(parts[1]):\(parts[2])") }
            return .reexec([coreVariable: parts[2], stateVariable: "failed:\(parts[1]):\(parts[2])"])
        }
        if env[stateVariable] != nil { return .keep }
        if let user = env[coreVariable], !user.isEmpty { return .keep }
        guard let best = best(for: processor), rank(of: inUse) < rank(of: best) else { return .keep }
        return .reexec([coreVariable: best, stateVariable: "check:\(best):\(inUse)"])
    }

    /// Makes this process run the best kernel set (see the type's comment). Call first thing
    /// in `main`, before any thread starts; it returns in the process that goes on, which may be
    /// a new image of the same program.
    public static func ensureBest() {
        #if arch(x86_64)
        let loaded = inUse
        let decision = decide(environment: ProcessInfo.processInfo.environment, inUse: loaded,
                              processor: .current, check: { selfCheck().passed })
        switch decision {
        case .keep:
            return
        case .record(let state):
            setenv(stateVariable, state, 1)
        case .reexec(let changes):
            for (k, v) in changes { setenv(k, v, 1) }
            let target = changes[coreVariable] ?? "?"
            execSelf()
            // exec failed: go on with what is loaded, and say so once
            let reason = String(cString: strerror(errno))
            unsetenv(coreVariable)
            setenv(stateVariable, "failed:\(target):\(loaded)", 1)
            let line = "tutor: could not execute itself again to select OpenBLAS's \(target) kernels (\(reason)); running on \(loaded)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
        #endif
    }

    private static func execSelf() {
        var argv: [UnsafeMutablePointer<CChar>?] = (0..<Int(CommandLine.argc)).map { CommandLine.unsafeArgv[$0] }
        argv.append(nil)
        _ = execv("/proc/self/exe", &argv)
    }

    /// The products OpenBLAS computes for the engine (all three transpose cases of
    /// `Linear.forward`/`backward`, at shapes that are not multiples of any kernel tile) against
    /// the engine's naive reference, with a relative tolerance far above rounding (1e-4) and far
    /// below any wrong kernel.
    public static func selfCheck() -> (passed: Bool, maxRelativeError: Float) {
        let n = 37, ic = 83, oc = 129
        var seed: UInt64 = 0x7475746f72
        func next() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: seed >> 11) % 2001 - 1000) / 1000
        }
        let inp = (0..<(n * ic)).map { _ in next() }, weight = (0..<(oc * ic)).map { _ in next() }
        let bias = (0..<oc).map { _ in next() }, dout = (0..<(n * oc)).map { _ in next() }
        var fast = [Float](repeating: 0, count: n * oc), ref = fast
        var dinpFast = [Float](repeating: 0, count: n * ic), dinpRef = dinpFast
        var dwFast = [Float](repeating: 0, count: oc * ic), dwRef = dwFast
        let saved = Threads.count
        Threads.set(1)
        defer { Threads.set(saved) }
        Linear.forward(out: &fast, inp: inp, weight: weight, bias: bias, n: n, inC: ic, outC: oc)
        Linear.forwardReference(out: &ref, inp: inp, weight: weight, bias: bias, n: n, inC: ic, outC: oc)
        Linear.backward(dinp: &dinpFast, dweight: &dwFast, dbias: nil, dout: dout, inp: inp, weight: weight,
                        n: n, inC: ic, outC: oc)
        Linear.backwardReference(dinp: &dinpRef, dweight: &dwRef, dbias: nil, dout: dout, inp: inp, weight: weight,
                                 n: n, inC: ic, outC: oc)
        var worst: Float = 0
        for (a, b) in zip(fast + dinpFast + dwFast, ref + dinpRef + dwRef) {
            let e = abs(a - b) / max(1, abs(b))
            if !(e <= worst) { worst = e.isNaN ? .infinity : max(worst, e) }
        }
        return (worst <= 1e-4, worst)
    }

    /// One line for logs and benchmarks: the set in use, how it was chosen, and the best the
    /// processor could take.
    public static var description: String {
        let env = ProcessInfo.processInfo.environment
        let use = inUse
        let best = BLASKernels.best(for: .current) ?? "none better than SSE"
        let how: String
        let parts = (env[stateVariable] ?? "").split(separator: ":").map(String.init)
        if parts.count == 3, parts[0] == "auto" {
            how = "chosen by tutor in place of OpenBLAS's \(parts[2]), after a numerical check"
        } else if parts.count == 3, parts[0] == "failed" {
            how = "OpenBLAS's own choice; \(parts[1]) failed tutor's numerical check"
        } else if let user = env[coreVariable], !user.isEmpty {
            how = "set by \(coreVariable)=\(user)"
        } else {
            how = "OpenBLAS's own choice"
        }
        return "BLAS kernels \(use) (\(how)); the processor could take \(best)"
    }
}
