// CPUID feature reading and an FMA throughput probe (see include/cpu.h).
#include "cpu.h"

#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static unsigned long long xgetbv0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

void tutor_cpu_features_read(tutor_cpu_features *f) {
    memset(f, 0, sizeof *f);
    unsigned int a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    unsigned int maxLeaf = a;
    if (b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e) f->vendor = 1;       // GenuineIntel
    else if (b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163) f->vendor = 2;  // AuthenticAMD

    __get_cpuid(1, &a, &b, &c, &d);
    int family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
    if (family == 0xf) family += (a >> 20) & 0xff;
    if (family == 0x6 || family >= 0xf) model += ((a >> 16) & 0xf) << 4;
    f->family = family;
    f->model = model;
    f->sse3 = (c >> 0) & 1;
    int osxsave = (c >> 27) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int osAVX = (xcr0 & 0x6) == 0x6;              // SSE and AVX state
    int osAVX512 = osAVX && (xcr0 & 0xe0) == 0xe0;  // opmask, upper ZMM halves, ZMM16-31
    f->avx = osAVX && ((c >> 28) & 1);
    f->fma = osAVX && ((c >> 12) & 1);
    if (maxLeaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        unsigned int subleaves = a;
        f->avx2 = osAVX && ((b >> 5) & 1);
        f->avx512f = osAVX512 && ((b >> 16) & 1);
        f->avx512dq = osAVX512 && ((b >> 17) & 1);
        f->avx512cd = osAVX512 && ((b >> 28) & 1);
        f->avx512bw = osAVX512 && ((b >> 30) & 1);
        f->avx512vl = osAVX512 && ((b >> 31) & 1);
        if (subleaves >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            f->avx512bf16 = osAVX512 && ((a >> 5) & 1);
        }
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Twelve independent accumulators hide the FMA latency (4 cycles) on two FMA pipes. One body
// for both widths: VEC is the vector type, LANES its floats, SET1, FMADD and STORE its intrinsics
// (FMADD and STORE defined around each use).
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define PEAK_BODY(VEC, LANES, SET1)                                          \
    VEC x = SET1(0.999999f), y = SET1(1e-7f);                                 \
    CHAINS(DECL)                                                              \
    long rounds = 0;                                                          \
    double t0 = now(), t;                                                     \
    do {                                                                      \
        for (int r = 0; r < 4096; r++) { CHAINS(STEP) }                       \
        rounds += 4096;                                                       \
        t = now();                                                            \
    } while (t - t0 < seconds);                                               \
    float lanes[LANES], sum = 0;                                              \
    CHAINS(SUM)                                                               \
    volatile float sink = sum;                                                \
    (void)sink;                                                               \
    return (double)rounds * 12 * LANES * 2 / (t - t0);
#define DECL(i) __typeof__(x) acc##i = x;
#define STEP(i) acc##i = FMADD(acc##i, x, y);
#define SUM(i) STORE(lanes, acc##i); sum += lanes[0];

__attribute__((target("avx512f"))) static double peak512(double seconds) {
#define FMADD _mm512_fmadd_ps
#define STORE _mm512_storeu_ps
    PEAK_BODY(__m512, 16, _mm512_set1_ps)
#undef FMADD
#undef STORE
}

__attribute__((target("avx2,fma"))) static double peak256(double seconds) {
#define FMADD _mm256_fmadd_ps
#define STORE _mm256_storeu_ps
    PEAK_BODY(__m256, 8, _mm256_set1_ps)
#undef FMADD
#undef STORE
}

double tutor_fma_peak_flops(double seconds) {
    tutor_cpu_features f;
    tutor_cpu_features_read(&f);
    if (f.avx512f) return peak512(seconds);
    if (f.avx2 && f.fma) return peak256(seconds);
    return 0;
}

#else

void tutor_cpu_features_read(tutor_cpu_features *f) { memset(f, 0, sizeof *f); }
double tutor_fma_peak_flops(double seconds) { (void)seconds; return 0; }

#endif
