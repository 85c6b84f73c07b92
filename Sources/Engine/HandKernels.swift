import CKernels

/// The version of the engine's hand-written C kernels (attention for short sequences, GELU)
/// in use: chosen at start for the processor, AVX-512 (16 floats a vector), AVX2 + FMA, or
/// baseline x86-64; `TUTOR_KERNELS=avx2` or `baseline` asks for less, to measure one against
/// another.
public enum HandKernels {
    static func name(_ level: Int32) -> String {
        switch level {
        case 2: return "AVX-512"
        case 1: return "AVX2 + FMA"
        default: return "baseline x86-64"
        }
    }

    public static var inUse: String { name(tutor_kernels_level()) }
    public static var best: String { name(tutor_kernels_best_level()) }
    public static var description: String {
        "tutor's own kernels (attention, GELU): \(inUse)" + (inUse == best ? "" : "; the processor could take \(best) (TUTOR_KERNELS asks for less)")
    }
}
