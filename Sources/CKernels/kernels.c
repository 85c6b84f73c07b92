// Attention and GELU kernels for the engine (see include/ckernels.h). Written with the
// compiler's vector extensions (kernels_body.h, one body for any vector width W); the bodies are
// inlined into three versions of each entry point, chosen once at start: 16 floats a vector
// compiled for AVX-512, 8 for AVX2 + FMA, and 8 for baseline x86-64.
//
// Attention works on one (sequence, head) at a time: its keys, values and queries are first
// copied into small contiguous buffers padded to whole vectors (HDp = HD rounded up to W,
// Tp = T rounded up to W, the padding zero), which stay in the first-level cache at the
// Reasoner's sizes, so every product below is a register-blocked loop of 4 rows by W or 2W
// columns with no fixed cost per call. Each thread keeps one scratch buffer that grows to the
// largest size asked and is reused (freed when the thread ends).
#include "ckernels.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

INLINE long min_l(long a, long b) { return a < b ? a : b; }

// ---- scratch: one growing buffer per thread ----

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static void scratch_make_key(void) { pthread_key_create(&scratch_key, free); }

typedef struct { size_t capacity; } scratch_header;
enum { scratch_offset = 64 };

// `n` floats, 64-byte aligned, contents undefined; NULL if memory ran out.
static float *scratch(size_t n) {
    pthread_once(&scratch_once, scratch_make_key);
    scratch_header *h = pthread_getspecific(scratch_key);
    if (h == NULL || h->capacity < n) {
        free(h);
        size_t bytes = scratch_offset + ((n * sizeof(float) + 63) & ~(size_t)63);
        h = aligned_alloc(64, bytes);
        if (h == NULL) { pthread_setspecific(scratch_key, NULL); return NULL; }
        h->capacity = n;
        pthread_setspecific(scratch_key, h);
    }
    return (float *)((char *)h + scratch_offset);
}


// ---- the bodies at the two widths ----

#define W 8
#define SFX(name) name##_8
#include "kernels_body.h"
#undef W
#undef SFX

#define W 16
#define SFX(name) name##_16
#include "kernels_body.h"
#undef W
#undef SFX

INLINE int gelu_f_body_8(float *out, const float *inp, long n) { gelu_forward_body_8(out, inp, n); return 0; }
INLINE int gelu_b_body_8(float *dinp, const float *dout, const float *inp, long n) { gelu_backward_body_8(dinp, dout, inp, n); return 0; }
INLINE int gelu_k_body_8(float *out, float *inp_grad, long n) { gelu_keep_body_8(out, inp_grad, n); return 0; }
INLINE int gelu_f_body_16(float *out, const float *inp, long n) { gelu_forward_body_16(out, inp, n); return 0; }
INLINE int gelu_b_body_16(float *dinp, const float *dout, const float *inp, long n) { gelu_backward_body_16(dinp, dout, inp, n); return 0; }
INLINE int gelu_k_body_16(float *out, float *inp_grad, long n) { gelu_keep_body_16(out, inp_grad, n); return 0; }

// ---- the three versions and the choice between them ----

// 0: baseline x86-64, 1: AVX2 + FMA, 2: AVX-512 (F, VL, DQ, BW). The best the processor has,
// unless TUTOR_KERNELS asks for less (baseline, avx2; for measuring one against another).
static int have_level = 0, use_level = 0;
#if defined(__x86_64__)
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
__attribute__((constructor)) static void choose_kernels(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        have_level = 1;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512bw")) have_level = 2;
    }
    use_level = have_level;
    const char *ask = getenv("TUTOR_KERNELS");
    if (ask && strcmp(ask, "baseline") == 0) use_level = 0;
    if (ask && strcmp(ask, "avx2") == 0 && use_level > 1) use_level = 1;
}
#define VERSIONS(name, params, args)                                          \
    static AVX512 int name##_avx512 params { return name##_body_16 args; }    \
    static AVX2 int name##_avx2 params { return name##_body_8 args; }         \
    static int name##_base params { return name##_body_8 args; }              \
    static int name params {                                                  \
        return use_level == 2 ? name##_avx512 args : use_level == 1 ? name##_avx2 args : name##_base args; \
    }
#else
#define VERSIONS(name, params, args) static int name params { return name##_body_8 args; }
#endif

VERSIONS(attention_forward,
         (const float *q, const float *k, const float *v, long ld, const bool *valid, long T, long HD, float scale,
          long i0, long rows, float *att, float *out, long ldo),
         (q, k, v, ld, valid, T, HD, scale, i0, rows, att, out, ldo))
VERSIONS(attention_backward,
         (const float *q, const float *k, const float *v, long ld, const float *att, const float *dout, long ldo,
          long T, long HD, float scale, float *dq, float *dk, float *dv, int accumulate),
         (q, k, v, ld, att, dout, ldo, T, HD, scale, dq, dk, dv, accumulate))
VERSIONS(softmax_rows, (float *m, long rows, long cols, const bool *valid), (m, rows, cols, valid))
VERSIONS(gelu_f, (float *out, const float *inp, long n), (out, inp, n))
VERSIONS(gelu_b, (float *dinp, const float *dout, const float *inp, long n), (dinp, dout, inp, n))
VERSIONS(gelu_k, (float *out, float *inp_grad, long n), (out, inp_grad, n))

void tutor_attention_forward(const float *q, const float *k, const float *v, long ld, const bool *valid, long T,
                             long HD, float scale, long i0, long rows, float *att, float *out, long ldo) {
    if (attention_forward(q, k, v, ld, valid, T, HD, scale, i0, rows, att, out, ldo) != 0) abort();
}

void tutor_attention_backward(const float *q, const float *k, const float *v, long ld, const float *att,
                              const float *dout, long ldo, long T, long HD, float scale,
                              float *dq, float *dk, float *dv, int accumulate) {
    if (attention_backward(q, k, v, ld, att, dout, ldo, T, HD, scale, dq, dk, dv, accumulate) != 0) abort();
}

void tutor_softmax_rows(float *m, long rows, long cols, const bool *valid) { softmax_rows(m, rows, cols, valid); }
void tutor_gelu_forward(float *out, const float *inp, long n) { gelu_f(out, inp, n); }
void tutor_gelu_backward(float *dinp, const float *dout, const float *inp, long n) { gelu_b(dinp, dout, inp, n); }
void tutor_gelu_forward_keeping_gradient(float *out, float *inp_grad, long n) { gelu_k(out, inp_grad, n); }
int tutor_kernels_level(void) { return use_level; }
int tutor_kernels_best_level(void) { return have_level; }
int tutor_kernels_set_level(int level) {
    int was = use_level;
    use_level = level < 0 ? 0 : level > have_level ? have_level : level;
    return was;
}
