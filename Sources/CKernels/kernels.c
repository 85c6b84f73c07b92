// Attention and GELU kernels for the engine (see include/ckernels.h). Written with the
// compiler's vector extensions on 8 floats; the bodies are inlined into two versions of each
// entry point, one compiled for AVX2 + FMA and one for baseline x86-64, chosen once at start.
//
// Attention works on one (sequence, head) at a time: its keys, values and queries are first
// copied into small contiguous buffers padded to whole vectors (HDp = HD rounded up to 8,
// Tp = T rounded up to 8, the padding zero), which stay in the first-level cache at the
// Reasoner's sizes, so every product below is a register-blocked loop of 4 rows by 8 or 16
// columns with no fixed cost per call. Each thread keeps one scratch buffer that grows to the
// largest size asked and is reused (freed when the thread ends).
#include "ckernels.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));
typedef int32_t v8i __attribute__((vector_size(32)));

#define INLINE static inline __attribute__((always_inline))

INLINE v8 load8(const float *p) { return *(const v8u *)p; }
INLINE void store8(float *p, v8 x) { *(v8u *)p = x; }
INLINE v8 splat(float x) { return (v8){x, x, x, x, x, x, x, x}; }
INLINE float hsum(v8 x) { return ((x[0] + x[1]) + (x[2] + x[3])) + ((x[4] + x[5]) + (x[6] + x[7])); }
INLINE float hmax(v8 x) {
    float m = x[0];
    for (int i = 1; i < 8; i++) m = x[i] > m ? x[i] : m;
    return m;
}
INLINE long min_l(long a, long b) { return a < b ? a : b; }

// exp(x): Cephes' expf as in the engine's FastMath.swift (relative error under 1e-7 where exp
// is a normal float), 0 below -87.34 and for -inf, inputs above 88.38 clamped there.
INLINE v8 exp8(v8 x) {
    const v8 lo = splat(-87.33654f), hi = splat(88.37626f);
    v8 xc = __builtin_elementwise_min(__builtin_elementwise_max(x, lo), hi);
    v8 t = xc * 1.442695040888963f + 12582912.0f;  // n + 1.5·2^23: n in the low mantissa bits
    v8 n = t - 12582912.0f;
    v8 r = xc - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    v8 p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    v8i bits = ((v8i)t - 0x4B400000 + 127) << 23;  // 2^n
    v8 e = p * (v8)bits;
    v8i keep = x >= lo;
    return (v8)((v8i)e & keep);
}

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

// ---- the two products ----

// Writes the first `cols` (at most 8) lanes of `a`, times alpha, to dst (adding if accumulate).
INLINE void put8(float *dst, v8 a, long cols, float alpha, int accumulate) {
    float tmp[8];
    store8(tmp, a);
    if (accumulate) { for (long l = 0; l < cols; l++) dst[l] += alpha * tmp[l]; }
    else { for (long l = 0; l < cols; l++) dst[l] = alpha * tmp[l]; }
}

// Rows r0 ..< r0 + 4 of m (row stride ld); those from nr on repeat row r0 + nr - 1, so a
// block of 4 rows can always be computed (and only the first nr stored).
INLINE void four_rows(const float *m, long ld, long r0, long nr, const float *p[4]) {
    for (long r = 0; r < 4; r++) p[r] = m + (r0 + min_l(r, nr - 1)) * ld;
}

// s[r, j] = Σ_d x[r, d] · yt[d, j] for r < nrows, j < tp.
// x: [nrows, hdp] contiguous; yt: [hdp, tp]; s: [nrows, tp]. hdp and tp are multiples of 8.
INLINE void rows_times_columns(long nrows, const float *x, long hdp, const float *yt, long tp, float *s) {
    for (long r0 = 0; r0 < nrows; r0 += 4) {
        long nr = min_l(4, nrows - r0);
        const float *xr[4];
        four_rows(x, hdp, r0, nr, xr);
        const float *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3];
        long jb = 0;
        for (; jb + 16 <= tp; jb += 16) {
            v8 a0 = splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            for (long d = 0; d < hdp; d++) {
                v8 y = load8(yt + d * tp + jb), z = load8(yt + d * tp + jb + 8);
                a0 += x0[d] * y; a1 += x1[d] * y; a2 += x2[d] * y; a3 += x3[d] * y;
                b0 += x0[d] * z; b1 += x1[d] * z; b2 += x2[d] * z; b3 += x3[d] * z;
            }
            store8(s + r0 * tp + jb, a0); store8(s + r0 * tp + jb + 8, b0);
            if (nr > 1) { store8(s + (r0 + 1) * tp + jb, a1); store8(s + (r0 + 1) * tp + jb + 8, b1); }
            if (nr > 2) { store8(s + (r0 + 2) * tp + jb, a2); store8(s + (r0 + 2) * tp + jb + 8, b2); }
            if (nr > 3) { store8(s + (r0 + 3) * tp + jb, a3); store8(s + (r0 + 3) * tp + jb + 8, b3); }
        }
        for (; jb < tp; jb += 8) {
            v8 a0 = splat(0), a1 = a0, a2 = a0, a3 = a0;
            for (long d = 0; d < hdp; d++) {
                v8 y = load8(yt + d * tp + jb);
                a0 += x0[d] * y; a1 += x1[d] * y; a2 += x2[d] * y; a3 += x3[d] * y;
            }
            store8(s + r0 * tp + jb, a0);
            if (nr > 1) store8(s + (r0 + 1) * tp + jb, a1);
            if (nr > 2) store8(s + (r0 + 2) * tp + jb, a2);
            if (nr > 3) store8(s + (r0 + 3) * tp + jb, a3);
        }
    }
}

// o[r, d] (+)= alpha · Σ_n w(r, n) · y[n, d] for r < nrows, d < hd, n < nsum,
// where w(r, n) = w[r·wrs + n·wcs] (so a transposed w is just other strides).
// y: [nsum, hdp], row stride ldy, hdp a multiple of 8; o: [nrows, hd], row stride ldo.
INLINE void weighted_rows(long nrows, long hdp, long hd, long nsum, const float *w, long wrs, long wcs,
                          const float *y, long ldy, float alpha, float *o, long ldo, int accumulate) {
    for (long r0 = 0; r0 < nrows; r0 += 4) {
        long nr = min_l(4, nrows - r0);
        const float *wr[4];
        four_rows(w, wrs, r0, nr, wr);
        const float *w0 = wr[0], *w1 = wr[1], *w2 = wr[2], *w3 = wr[3];
        float *o0 = o + r0 * ldo;
        long dc = 0;
        for (; dc + 16 <= hdp; dc += 16) {
            v8 a00 = splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            for (long n = 0; n < nsum; n++) {
                const float *yr = y + n * ldy + dc;
                v8 y0 = load8(yr), y1 = load8(yr + 8);
                float c0 = w0[n * wcs], c1 = w1[n * wcs], c2 = w2[n * wcs], c3 = w3[n * wcs];
                a00 += c0 * y0; a01 += c0 * y1;
                a10 += c1 * y0; a11 += c1 * y1;
                a20 += c2 * y0; a21 += c2 * y1;
                a30 += c3 * y0; a31 += c3 * y1;
            }
            long c_lo = min_l(8, hd - dc), c_hi = min_l(8, hd - dc - 8);
            v8 a[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
            for (long r = 0; r < nr; r++) {
                if (c_lo > 0) put8(o0 + r * ldo + dc, a[r][0], c_lo, alpha, accumulate);
                if (c_hi > 0) put8(o0 + r * ldo + dc + 8, a[r][1], c_hi, alpha, accumulate);
            }
        }
        for (; dc < hdp; dc += 8) {
            v8 a0 = splat(0), a1 = a0, a2 = a0, a3 = a0;
            for (long n = 0; n < nsum; n++) {
                v8 y0 = load8(y + n * ldy + dc);
                a0 += w0[n * wcs] * y0; a1 += w1[n * wcs] * y0; a2 += w2[n * wcs] * y0; a3 += w3[n * wcs] * y0;
            }
            long c = min_l(8, hd - dc);
            v8 a[4] = {a0, a1, a2, a3};
            for (long r = 0; r < nr && c > 0; r++) put8(o0 + r * ldo + dc, a[r], c, alpha, accumulate);
        }
    }
}

// Copies the [rows, cols] block at src (row stride ld) into dst ([rows_p, cols_p], contiguous),
// times alpha, zero-padded.
INLINE void copy_padded(float *dst, long rows_p, long cols_p, const float *src, long rows, long cols, long ld, float alpha) {
    memset(dst, 0, sizeof(float) * (size_t)(rows_p * cols_p));
    for (long i = 0; i < rows; i++)
        for (long d = 0; d < cols; d++) dst[i * cols_p + d] = alpha * src[i * ld + d];
}

// dst[d, j] = src[j, d]: [cols_p, rows_p] from the [rows, cols] block at src, zero-padded.
INLINE void copy_transposed(float *dst, long rows_p, long cols_p, const float *src, long rows, long cols, long ld) {
    memset(dst, 0, sizeof(float) * (size_t)(rows_p * cols_p));
    for (long j = 0; j < rows; j++)
        for (long d = 0; d < cols; d++) dst[d * rows_p + j] = src[j * ld + d];
}

// ---- softmax over rows (both attention paths) ----

INLINE int softmax_rows_body(float *m, long rows, long cols, const bool *valid) {
    long full = cols & ~7L;
    for (long i = 0; i < rows; i++) {
        float *row = m + i * cols;
        if (valid) { for (long j = 0; j < cols; j++) row[j] = valid[j] ? row[j] : -INFINITY; }
        v8 mv = splat(-INFINITY);
        for (long j = 0; j < full; j += 8) mv = __builtin_elementwise_max(mv, load8(row + j));
        float mx = hmax(mv);
        for (long j = full; j < cols; j++) mx = row[j] > mx ? row[j] : mx;
        if (mx == -INFINITY) { memset(row, 0, sizeof(float) * (size_t)cols); continue; }
        v8 sum = splat(0);
        for (long j = 0; j < full; j += 8) {
            v8 e = exp8(load8(row + j) - mx);
            store8(row + j, e);
            sum += e;
        }
        float total = hsum(sum);
        if (full < cols) {
            float t[8];
            for (long l = 0; l < 8; l++) t[l] = full + l < cols ? row[full + l] - mx : -INFINITY;
            store8(t, exp8(load8(t)));
            for (long l = 0; full + l < cols; l++) { row[full + l] = t[l]; total += t[l]; }
        }
        float inv = 1.0f / total;
        for (long j = 0; j < cols; j++) row[j] *= inv;
    }
    return 0;
}

// ---- attention ----

INLINE int attention_forward_body(const float *q, const float *k, const float *v, long ld, const bool *valid,
                                  long T, long HD, float scale, long i0, long rows, float *att, float *out, long ldo) {
    long HDp = (HD + 7) & ~7L, Tp = (T + 7) & ~7L;
    float *kt = scratch((size_t)(2 * HDp * Tp + Tp + rows * HDp + rows * Tp));
    if (kt == NULL) return -1;
    float *vp = kt + HDp * Tp, *neg = vp + Tp * HDp, *qp = neg + Tp, *s = qp + rows * HDp;
    copy_transposed(kt, Tp, HDp, k, T, HD, ld);
    copy_padded(vp, Tp, HDp, v, T, HD, ld, 1);
    copy_padded(qp, rows, HDp, q + i0 * ld, rows, HD, ld, scale);
    for (long j = 0; j < Tp; j++) neg[j] = (j < T && (valid == NULL || valid[j])) ? 0.0f : -INFINITY;

    rows_times_columns(rows, qp, HDp, kt, Tp, s);
    for (long i = 0; i < rows; i++)
        for (long jb = 0; jb < Tp; jb += 8) store8(s + i * Tp + jb, load8(s + i * Tp + jb) + load8(neg + jb));
    softmax_rows_body(s, rows, Tp, NULL);
    for (long i = 0; i < rows; i++) memcpy(att + i * T, s + i * Tp, sizeof(float) * (size_t)T);
    weighted_rows(rows, HDp, HD, T, s, Tp, 1, vp, HDp, 1.0f, out, ldo, 0);
    return 0;
}

INLINE int attention_backward_body(const float *q, const float *k, const float *v, long ld, const float *att,
                                   const float *dout, long ldo, long T, long HD, float scale,
                                   float *dq, float *dk, float *dv, int accumulate) {
    long HDp = (HD + 7) & ~7L, Tp = (T + 7) & ~7L;
    float *qp = scratch((size_t)(4 * Tp * HDp + T * Tp));
    if (qp == NULL) return -1;
    float *kp = qp + Tp * HDp, *vt = kp + Tp * HDp, *dop = vt + HDp * Tp, *ds = dop + Tp * HDp;
    copy_padded(qp, Tp, HDp, q, T, HD, ld, 1);
    copy_padded(kp, Tp, HDp, k, T, HD, ld, 1);
    copy_transposed(vt, Tp, HDp, v, T, HD, ld);
    copy_padded(dop, Tp, HDp, dout, T, HD, ldo, 1);
    // dP = dO · Vᵀ
    rows_times_columns(T, dop, HDp, vt, Tp, ds);
    // dS = P ⊙ (dP - rowsum(P ⊙ dP)); the padding columns become 0
    for (long i = 0; i < T; i++) {
        const float *p = att + i * T;
        float *d = ds + i * Tp;
        v8 acc = splat(0);
        long j = 0;
        for (; j + 8 <= T; j += 8) acc += load8(p + j) * load8(d + j);
        float dot = hsum(acc);
        for (; j < T; j++) dot += p[j] * d[j];
        for (j = 0; j < T; j++) d[j] = p[j] * (d[j] - dot);
        for (; j < Tp; j++) d[j] = 0;
    }
    // dQ (+)= scale · dS · K ; dK (+)= scale · dSᵀ · Q ; dV (+)= Pᵀ · dO
    weighted_rows(T, HDp, HD, T, ds, Tp, 1, kp, HDp, scale, dq, ld, accumulate);
    weighted_rows(T, HDp, HD, T, ds, 1, Tp, qp, HDp, scale, dk, ld, accumulate);
    weighted_rows(T, HDp, HD, T, att, 1, T, dop, HDp, 1.0f, dv, ld, accumulate);
    return 0;
}

// ---- GELU (tanh form) ----

#define GELU_K 0.7978845608028654f  // sqrt(2/π)

// tanh(k (x + 0.044715 x³)), from one exp.
INLINE v8 gelu_tanh8(v8 x) { return 1.0f - 2.0f / (exp8(2.0f * GELU_K * (x + 0.044715f * x * x * x)) + 1.0f); }
INLINE v8 gelu_of_tanh8(v8 x, v8 th) { return 0.5f * x * (1.0f + th); }
INLINE v8 gelu_grad_of_tanh8(v8 x, v8 th) {
    return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * GELU_K * (1.0f + 0.134145f * x * x);
}
INLINE v8 gelu8(v8 x) { return gelu_of_tanh8(x, gelu_tanh8(x)); }
INLINE v8 gelu_grad8(v8 x) { return gelu_grad_of_tanh8(x, gelu_tanh8(x)); }

// gelu(x) into *out and gelu'(x) into *grad from one exp.
INLINE void gelu_both8(v8 x, v8 *out, v8 *grad) {
    v8 th = gelu_tanh8(x);
    *out = gelu_of_tanh8(x, th);
    *grad = gelu_grad_of_tanh8(x, th);
}

INLINE void gelu_keep_body(float *out, float *inp_grad, long n) {
    long i = 0;
    v8 o, g;
    for (; i + 8 <= n; i += 8) {
        gelu_both8(load8(inp_grad + i), &o, &g);
        store8(out + i, o);
        store8(inp_grad + i, g);
    }
    if (i < n) {
        float t[8] = {0}, to[8], tg[8];
        memcpy(t, inp_grad + i, sizeof(float) * (size_t)(n - i));
        gelu_both8(load8(t), &o, &g);
        store8(to, o); store8(tg, g);
        memcpy(out + i, to, sizeof(float) * (size_t)(n - i));
        memcpy(inp_grad + i, tg, sizeof(float) * (size_t)(n - i));
    }
}

INLINE void gelu_forward_body(float *out, const float *inp, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) store8(out + i, gelu8(load8(inp + i)));
    if (i < n) {
        float t[8] = {0};
        memcpy(t, inp + i, sizeof(float) * (size_t)(n - i));
        store8(t, gelu8(load8(t)));
        memcpy(out + i, t, sizeof(float) * (size_t)(n - i));
    }
}

INLINE void gelu_backward_body(float *dinp, const float *dout, const float *inp, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) store8(dinp + i, load8(dinp + i) + gelu_grad8(load8(inp + i)) * load8(dout + i));
    if (i < n) {
        float t[8] = {0};
        memcpy(t, inp + i, sizeof(float) * (size_t)(n - i));
        store8(t, gelu_grad8(load8(t)));
        for (long l = 0; l < n - i; l++) dinp[i + l] += t[l] * dout[i + l];
    }
}

// ---- the two versions and the choice between them ----

#if defined(__x86_64__)
#define WIDE __attribute__((target("avx2,fma")))
static int have_avx2 = 0, use_avx2 = 0;
__attribute__((constructor)) static void choose_kernels(void) {
    __builtin_cpu_init();
    have_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    use_avx2 = have_avx2;
}
#define VERSIONS(name, params, args)                                  \
    static WIDE int name##_avx2 params { return name##_body args; }   \
    static int name##_base params { return name##_body args; }        \
    static int name params { return use_avx2 ? name##_avx2 args : name##_base args; }
#else
static int have_avx2 = 0, use_avx2 = 0;
#define VERSIONS(name, params, args) static int name params { return name##_body args; }
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

INLINE int gelu_f_body(float *out, const float *inp, long n) { gelu_forward_body(out, inp, n); return 0; }
INLINE int gelu_b_body(float *dinp, const float *dout, const float *inp, long n) { gelu_backward_body(dinp, dout, inp, n); return 0; }
VERSIONS(gelu_f, (float *out, const float *inp, long n), (out, inp, n))
VERSIONS(gelu_b, (float *dinp, const float *dout, const float *inp, long n), (dinp, dout, inp, n))
INLINE int gelu_k_body(float *out, float *inp_grad, long n) { gelu_keep_body(out, inp_grad, n); return 0; }
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
int tutor_kernels_avx2(void) { return use_avx2; }
int tutor_kernels_set_avx2(int on) {
    int was = use_avx2;
    use_avx2 = on && have_avx2;
    return was;
}
