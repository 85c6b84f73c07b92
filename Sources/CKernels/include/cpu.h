// What the processor can run, read with CPUID (and XGETBV for what the operating system saves),
// and a measurement of one core's peak rate of fused multiply-adds. Used to choose the BLAS
// kernel set at start-up and to print the machine's physical limit beside the engine's figures.
#ifndef TUTOR_CPU_H
#define TUTOR_CPU_H

/// Instruction-set features usable by this process: a feature counts only when the processor
/// has it and the operating system saves the registers it needs (XCR0), as OpenBLAS requires.
typedef struct {
    int sse3, avx, fma, avx2;
    int avx512f, avx512cd, avx512bw, avx512dq, avx512vl, avx512bf16;
    /// 1 GenuineIntel, 2 AuthenticAMD, 0 anything else.
    int vendor;
    /// Display family and model (with the extended fields added, as the vendors define them).
    int family, model;
} tutor_cpu_features;

/// Fills `f` from CPUID; all zero on a processor that is not x86-64.
void tutor_cpu_features_read(tutor_cpu_features *f);

/// Single-precision FLOP/s of one thread running independent fused multiply-adds on the widest
/// vectors the processor has (AVX-512, else AVX2 + FMA; 0 where neither), for about `seconds`.
double tutor_fma_peak_flops(double seconds);

#endif
