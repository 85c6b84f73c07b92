// See include/cimage.h. One body per kernel, inlined into a version per instruction set; the compiler may
// not fuse a product into a sum (FP_CONTRACT OFF, and -ffp-contract=off in Package.swift), so
// each version computes the same IEEE operations in the same order, only more at a time.
#include "cimage.h"

#include <string.h>

#pragma STDC FP_CONTRACT OFF

typedef double v4d __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) void area_average_body(
    const uint8_t *px, int width, int height, int tw, int th,
    const int32_t *xstart, const int32_t *xsource, const double *xweight, const double *xtotal,
    const int32_t *ystart, const int32_t *ysource, const double *yweight, const double *ytotal,
    double *scratch, float *out) {
    const long n = 3L * tw;
    double *rows = scratch;                      /* [height, tw, 3] */
    double *line = rows + (long)height * n;      /* one source row's levels, and one padding */
    double *acc = line + 3L * width + 1;         /* [tw, 3] */
    line[3L * width] = 0;
    for (int y = 0; y < height; y++) {
        const uint8_t *src = px + (long)y * width * 3;
        /* a byte's level, Float(b) / 255 as a double: the same single-precision quotient */
        for (long i = 0; i < 3L * width; i++) line[i] = (double)((float)src[i] / 255.0f);
        double *dst = rows + (long)y * n;
        for (int tx = 0; tx < tw; tx++) {
            /* a pixel's three levels in one vector (the fourth lane is the next pixel's, or the
               padding, and never used) */
            v4d sum = { 0, 0, 0, 0 };
            for (int t = xstart[tx]; t < xstart[tx + 1]; t++) {
                v4d v;
                memcpy(&v, line + 3L * xsource[t], sizeof v);
                v4d w = { xweight[t], xweight[t], xweight[t], xweight[t] };
                v4d p = w * v;
                sum = sum + p;
            }
            dst[3 * tx] = sum[0]; dst[3 * tx + 1] = sum[1]; dst[3 * tx + 2] = sum[2];
        }
    }
    for (int ty = 0; ty < th; ty++) {
        for (long i = 0; i < n; i++) acc[i] = 0;
        for (int t = ystart[ty]; t < ystart[ty + 1]; t++) {
            const double wt = yweight[t];
            const double *r = rows + (long)ysource[t] * n;
            for (long i = 0; i < n; i++) {
                double p = wt * r[i];
                acc[i] = acc[i] + p;
            }
        }
        float *o = out + (long)ty * n;
        for (int tx = 0; tx < tw; tx++) {
            double d = xtotal[tx] * ytotal[ty];
            for (int c = 0; c < 3; c++) o[3 * tx + c] = (float)(acc[3 * tx + c] / d);
        }
    }
}

#define AREA_AVERAGE_ARGS const uint8_t *px, int width, int height, int tw, int th, \
    const int32_t *xstart, const int32_t *xsource, const double *xweight, const double *xtotal, \
    const int32_t *ystart, const int32_t *ysource, const double *yweight, const double *ytotal, \
    double *scratch, float *out
#define AREA_AVERAGE_CALL px, width, height, tw, th, xstart, xsource, xweight, xtotal, \
    ystart, ysource, yweight, ytotal, scratch, out

static void area_average_baseline(AREA_AVERAGE_ARGS) { area_average_body(AREA_AVERAGE_CALL); }

#if defined(__x86_64__)
__attribute__((target("avx2")))
static void area_average_avx2(AREA_AVERAGE_ARGS) { area_average_body(AREA_AVERAGE_CALL); }
__attribute__((target("avx512f,avx512vl,avx512dq")))
static void area_average_avx512(AREA_AVERAGE_ARGS) { area_average_body(AREA_AVERAGE_CALL); }
#endif

/* The block average: every target pixel the mean of a kx x ky block, summed exactly in
   integers (the block's rows first into a row of column sums, 16 bits wide while ky rows of
   255 fit, then kx columns of that row), times 1 / (255 kx ky) in double precision. */
#define BLOCK_AVERAGE_BODY(SUM)                                                                   \
    const long row_bytes = 3L * width, tw = width / kx, th = height / ky;                         \
    const double scale = 1 / (255 * (double)(kx * ky));                                           \
    SUM *cs = (SUM *)columns;                                                                     \
    for (long ty = 0; ty < th; ty++) {                                                            \
        const uint8_t *first = px + ty * ky * row_bytes;                                          \
        for (long i = 0; i < row_bytes; i++) cs[i] = first[i];                                    \
        for (long y = 1; y < ky; y++) {                                                           \
            const uint8_t *row = first + y * row_bytes;                                           \
            for (long i = 0; i < row_bytes; i++) cs[i] = (SUM)(cs[i] + row[i]);                   \
        }                                                                                         \
        float *o = out + ty * tw * 3;                                                             \
        for (long tx = 0; tx < tw; tx++) {                                                        \
            uint32_t r = 0, g = 0, b = 0;                                                         \
            const SUM *c = cs + tx * kx * 3;                                                      \
            for (long k = 0; k < kx; k++) { r += c[3 * k]; g += c[3 * k + 1]; b += c[3 * k + 2]; } \
            o[3 * tx] = (float)((double)r * scale);                                               \
            o[3 * tx + 1] = (float)((double)g * scale);                                           \
            o[3 * tx + 2] = (float)((double)b * scale);                                           \
        }                                                                                         \
    }

#define BLOCK_AVERAGE_ARGS const uint8_t *px, int width, int height, int kx, int ky, void *columns, float *out
#define BLOCK_AVERAGE_VERSIONS(SFX, TARGET)                                                       \
    TARGET static void block_average16_##SFX(BLOCK_AVERAGE_ARGS) { BLOCK_AVERAGE_BODY(uint16_t) } \
    TARGET static void block_average32_##SFX(BLOCK_AVERAGE_ARGS) { BLOCK_AVERAGE_BODY(uint32_t) }

BLOCK_AVERAGE_VERSIONS(baseline, )
#if defined(__x86_64__)
BLOCK_AVERAGE_VERSIONS(avx2, __attribute__((target("avx2"))))
BLOCK_AVERAGE_VERSIONS(avx512, __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))))
#endif

static int level_chosen = -1;   /* 0 baseline, 1 AVX2, 2 AVX-512 */

static int image_level_detected(void) {
    int l = 0;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) l = 1;
    if (l == 1 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw")) l = 2;
#endif
    return l;
}

int tutor_image_level(void) {
    int l = __atomic_load_n(&level_chosen, __ATOMIC_RELAXED);
    if (l >= 0) return l;
    l = image_level_detected();
    __atomic_store_n(&level_chosen, l, __ATOMIC_RELAXED);
    return l;
}

void tutor_area_average(AREA_AVERAGE_ARGS) {
    switch (tutor_image_level()) {
#if defined(__x86_64__)
    case 2: area_average_avx512(AREA_AVERAGE_CALL); return;
    case 1: area_average_avx2(AREA_AVERAGE_CALL); return;
#endif
    default: area_average_baseline(AREA_AVERAGE_CALL); return;
    }
}

int tutor_image_kernels_use(int level) {
    int best = image_level_detected();
    int l = level < 0 || level > best ? best : level;
    __atomic_store_n(&level_chosen, l, __ATOMIC_RELAXED);
    return l;
}

void tutor_block_average(BLOCK_AVERAGE_ARGS) {
    int wide = ky * 255 > 65535;   /* 32-bit column sums */
    switch (tutor_image_level()) {
#if defined(__x86_64__)
    case 2: (wide ? block_average32_avx512 : block_average16_avx512)(px, width, height, kx, ky, columns, out); return;
    case 1: (wide ? block_average32_avx2 : block_average16_avx2)(px, width, height, kx, ky, columns, out); return;
#endif
    default: (wide ? block_average32_baseline : block_average16_baseline)(px, width, height, kx, ky, columns, out); return;
    }
}

const char *tutor_image_kernels(void) {
    switch (tutor_image_level()) {
    case 2: return "AVX-512";
    case 1: return "AVX2";
    default: return "baseline";
    }
}
