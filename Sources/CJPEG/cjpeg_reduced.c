// A baseline JPEG decoded at 1/8 or 1/4 of its size straight from the entropy-coded data.
//
// At scale 1/8 libjpeg turns each 8 x 8 block into one pixel (its DC term), at 1/4 into 2 x 2,
// and a component stored at half resolution into twice that (reduced inverse DCTs of a few
// low-frequency terms). It still walks its general machinery for every block: zeroing the
// coefficient buffer, a function call per block for the inverse DCT, per-row buffers. For the
// small frames a training folder's solution videos are decoded to, that machinery is most of
// the time.
//
// This path decodes the same files to the same bytes, in one pass: the Huffman symbols of
// every block are read (the AC terms skipped unless an inverse DCT larger than 1 x 1 needs
// them; a flat block, a DC difference and at once its end, in one table lookup), each block
// written where libjpeg would put it, and the colours converted with libjpeg's own tables and
// rounding. It takes only what it can decode exactly as libjpeg does: one interleaved
// baseline Huffman scan of 8-bit samples, grey, YCbCr or RGB, whose components need no
// upsampling at this scale (4:4:4, 4:2:0, grey), with well-formed restart markers and nothing
// but fill bits and EOI after the last block. Anything else, or anything libjpeg would warn
// about, returns 0 and the caller decodes with libjpeg as before.
#include <stdio.h>   /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <jpeglib.h>
#include "cimage.h"
#include "cjpeg_reduced.h"

#define LOOKAHEAD 9

typedef struct {
    /* (code length << 8) | symbol for every 9-bit prefix; 0 where the code is longer */
    uint16_t lookup[1 << LOOKAHEAD];
    int32_t maxcode[18];   /* largest code of each length, -1 when none; [17] ends the search */
    int32_t valoffset[18]; /* huffval index of a length's first code, minus that code */
    uint8_t huffval[256];
    uint16_t code[256];    /* each symbol's code and length, in huffval's order */
    uint8_t size[256];
    int count;
} huff_table;

/* jpeg_make_d_derived_tbl's checks: returns 0 where libjpeg would stop with an error. */
static int build_table(const JHUFF_TBL *t, int is_dc, huff_table *h) {
    if (!t) return 0;
    int numsymbols = 0;
    for (int l = 1; l <= 16; l++) numsymbols += t->bits[l];
    if (numsymbols > 256) return 0;
    uint8_t size[257];
    uint32_t code[257];
    int p = 0;
    for (int l = 1; l <= 16; l++)
        for (int i = 0; i < t->bits[l]; i++) size[p++] = (uint8_t)l;
    size[p] = 0;
    uint32_t c = 0;
    int si = size[0];
    p = 0;
    while (size[p]) {
        while ((int)size[p] == si) code[p++] = c++;
        if (c >= (1u << si)) return 0;
        c <<= 1;
        si++;
    }
    p = 0;
    for (int l = 1; l <= 16; l++) {
        if (t->bits[l]) {
            h->valoffset[l] = p - (int32_t)code[p];
            p += t->bits[l];
            h->maxcode[l] = (int32_t)code[p - 1];
        } else {
            h->maxcode[l] = -1;
        }
    }
    h->count = numsymbols;
    for (int i = 0; i < numsymbols; i++) { h->code[i] = (uint16_t)code[i]; h->size[i] = size[i]; }
    h->valoffset[17] = 0;
    h->maxcode[17] = 0x7FFFFFFF;
    memcpy(h->huffval, t->huffval, 256);
    memset(h->lookup, 0, sizeof(h->lookup));
    p = 0;
    for (int l = 1; l <= LOOKAHEAD; l++) {
        for (int i = 1; i <= t->bits[l]; i++, p++) {
            int look = (int)(code[p] << (LOOKAHEAD - l));
            for (int k = 1 << (LOOKAHEAD - l); k > 0; k--) h->lookup[look++] = (uint16_t)((l << 8) | t->huffval[p]);
        }
    }
    if (is_dc)
        for (int i = 0; i < numsymbols; i++)
            if (t->huffval[i] > 15) return 0;
    return 1;
}

/* Most blocks of a drawing are flat: a DC difference and at once the end of the block.
   For every QUICK-bit prefix that is exactly that (a DC code, its extra bits, the AC table's
   end-of-block code), the prefix's length and the DC difference, (d << 8) | length; 0 for
   any other prefix. One lookup then decodes such a block. */
#define QUICK 11

static void build_quick(const huff_table *dc, const huff_table *ac, int32_t *quick) {
    memset(quick, 0, sizeof(int32_t) << QUICK);
    int eob = -1;
    for (int i = 0; i < ac->count; i++) if (ac->huffval[i] == 0) { eob = i; break; }
    if (eob < 0) return;
    int le = ac->size[eob];
    for (int i = 0; i < dc->count; i++) {
        int t = dc->huffval[i], l1 = dc->size[i], len = l1 + t + le;
        if (len > QUICK) continue;
        for (int v = 0; v < (1 << t); v++) {
            uint32_t pattern = ((((uint32_t)dc->code[i] << t) | (uint32_t)v) << le) | ac->code[eob];
            int d = t ? (v < (1 << (t - 1)) ? v + (int)((unsigned)-1 << t) + 1 : v) : 0;
            int32_t e = (int32_t)((unsigned)d << 8) | len;
            uint32_t from = pattern << (QUICK - len), to = (pattern + 1) << (QUICK - len);
            for (uint32_t k = from; k < to; k++) quick[k] = e;
        }
    }
}

typedef struct {
    const uint8_t *p, *end;
    uint64_t acc;   /* the next `bits` bits of the stream in its low bits, oldest highest */
    int bits;
    int fake;       /* zero bits fed past a marker or the end (the lowest of `bits`) */
    int at_marker;
} bit_reader;

static inline __attribute__((always_inline)) void refill(bit_reader *b) {
    /* The bytes the loop below would take (as many as fit, 1 to 8), in one load when none of
       them is 0xFF: the same state after. */
    if (b->bits <= 56 && !b->at_marker && b->end - b->p >= 8) {
        uint64_t raw;
        memcpy(&raw, b->p, 8);
        int k = (64 - b->bits) >> 3;
        uint64_t keep = k == 8 ? ~(uint64_t)0 : (((uint64_t)1 << (8 * k)) - 1);
        uint64_t y = (raw ^ ~(uint64_t)0) | ~keep;   /* a zero byte where the file has 0xFF */
        if (!((y - 0x0101010101010101ULL) & ~y & 0x8080808080808080ULL)) {
            uint64_t w = __builtin_bswap64(raw);
            b->acc = k == 8 ? w : (b->acc << (8 * k)) | (w >> (64 - 8 * k));
            b->p += k;
            b->bits += 8 * k;
            return;
        }
    }
    while (b->bits <= 56) {
        uint32_t byte = 0;
        if (!b->at_marker && b->p < b->end) {
            byte = *b->p;
            if (byte == 0xFF) {
                if (b->p + 1 < b->end && b->p[1] == 0) b->p += 2;
                else { b->at_marker = 1; byte = 0; b->fake += 8; }
            } else {
                b->p++;
            }
        } else {
            b->at_marker = 1;
            b->fake += 8;
        }
        b->acc = (b->acc << 8) | byte;
        b->bits += 8;
    }
}

static inline __attribute__((always_inline)) int get_bits(bit_reader *b, int n) {
    if (b->bits < n) refill(b);
    b->bits -= n;
    return (int)((b->acc >> b->bits) & ((1u << n) - 1));
}

/* The next symbol, -1 for a code no table holds (libjpeg warns and goes on). */
static inline __attribute__((always_inline)) int decode(bit_reader *b, const huff_table *h) {
    if (b->bits < 16) refill(b);
    int look = (int)((b->acc >> (b->bits - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1));
    int e = h->lookup[look];
    if (e) { b->bits -= e >> 8; return e & 0xFF; }
    int l = LOOKAHEAD + 1;
    int32_t code = (int32_t)((b->acc >> (b->bits - l)) & ((1u << l) - 1));
    while (code > h->maxcode[l]) {
        l++;
        if (l > 16) return -1;
        code = (int32_t)((b->acc >> (b->bits - l)) & ((1u << l) - 1));
    }
    b->bits -= l;
    return h->huffval[(code + h->valoffset[l]) & 0xFF];
}

static inline int extend(int x, int s) { return x < (1 << (s - 1)) ? x + (int)((unsigned)-1 << s) + 1 : x; }

/* jpeg_natural_order, with libjpeg's 16 extra entries for a run past the end of a block. */
static const uint8_t natural_order[64 + 16] = {
     0,  1,  8, 16,  9,  2,  3, 10, 17, 24, 32, 25, 18, 11,  4,  5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13,  6,  7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
};

/* A block's AC terms, up to its end: into `coef` (natural order, as libjpeg's decoder, a run
   past the end landing on the last term), or skipped when `coef` is NULL. 0 for a code no
   table holds. */
static inline int ac_terms(bit_reader *b, const huff_table *ac, int16_t *coef) {
    for (int k = 1; k < 64; k++) {
        int sym = decode(b, ac);
        if (sym < 0) return 0;
        int r = sym >> 4, n = sym & 15;
        if (n) {
            k += r;
            int v = get_bits(b, n);
            if (coef) coef[natural_order[k]] = (int16_t)extend(v, n);
        } else {
            if (r != 15) break;
            k += 15;
        }
    }
    return 1;
}

/* libjpeg's IDCT_range_limit(cinfo)[x & RANGE_MASK] for 8-bit samples: x + 128 clamped to
   0 ... 255 for x in [-512, 511], wrapped around beyond. */
static inline __attribute__((always_inline)) uint8_t idct_limit(long x) {
    int j = (int)((x + 128) & 1023);   /* 0-255 as is, 256-639 over, 640-1023 under */
    int r = j > 255 ? 255 : j;
    return (uint8_t)(j >= 640 ? 0 : r);
}

#define DESCALE(x, n) (((x) + (1L << ((n) - 1))) >> (n))

/* jpeg_idct_2x2 (jidctred.c) for one block of coefficients and its quantisation table.
   libjpeg runs its SIMD version of this transform, which saturates where the C version wraps
   (values no valid file holds: a dequantised term beyond 11 bits, an output beyond the range
   the C version's limit table clamps); such a block returns 0 and libjpeg decodes the file. */
static int idct_2x2(const int16_t *in, const int16_t *q, uint8_t *out0, uint8_t *out1) {
    long ws[16];
    for (int col = 0; col < 8; col++) {
        if (col == 2 || col == 4 || col == 6) continue;
        const int16_t *c = in + col;
        const int16_t *k = q + col;
        long z0 = c[0] * k[0], z1 = c[8] * k[8], z3 = c[24] * k[24], z5 = c[40] * k[40], z7 = c[56] * k[56];
        if (z0 < -2048 || z0 > 2047 || z1 < -2048 || z1 > 2047 || z3 < -2048 || z3 > 2047
            || z5 < -2048 || z5 > 2047 || z7 < -2048 || z7 > 2047) return 0;
        if (c[8] == 0 && c[24] == 0 && c[40] == 0 && c[56] == 0) {
            ws[col] = ws[8 + col] = z0 * 4;
            continue;
        }
        long tmp10 = z0 * (1L << (13 + 2));
        long tmp0 = z7 * -5906L + z5 * 6967L + z3 * -10426L + z1 * 29692L;
        ws[col] = DESCALE(tmp10 + tmp0, 13 - 2 + 2);
        ws[8 + col] = DESCALE(tmp10 - tmp0, 13 - 2 + 2);
    }
    for (int row = 0; row < 2; row++) {
        const long *w = ws + 8 * row;
        uint8_t *o = row ? out1 : out0;
        long x0, x1;
        if (w[1] == 0 && w[3] == 0 && w[5] == 0 && w[7] == 0) {
            x0 = x1 = DESCALE(w[0], 2 + 3);
        } else {
            long tmp10 = w[0] * (1L << (13 + 2));
            long tmp0 = w[7] * -5906L + w[5] * 6967L + w[3] * -10426L + w[1] * 29692L;
            x0 = DESCALE(tmp10 + tmp0, 13 + 2 + 3 + 2);
            x1 = DESCALE(tmp10 - tmp0, 13 + 2 + 3 + 2);
        }
        if (x0 < -512 || x0 > 511 || x1 < -512 || x1 > 511) return 0;
        o[0] = idct_limit(x0);
        o[1] = idct_limit(x1);
    }
    return 1;
}

/* One dimension of jpeg_idct_4x4: four outputs from terms 0-3 and 5-7 of `t` (term 4 is not
   used at this size), descaled by `shift` bits. */
static inline void idct4_1d(const long *t, int shift, long out[4]) {
    long tmp0 = t[0] * (1L << (13 + 1));
    long tmp2 = t[2] * 15137L + t[6] * -6270L;
    long tmp10 = tmp0 + tmp2, tmp12 = tmp0 - tmp2;
    long odd0 = t[7] * -1730L + t[5] * 11893L + t[3] * -17799L + t[1] * 8697L;
    long odd2 = t[7] * -4176L + t[5] * -4926L + t[3] * 7373L + t[1] * 20995L;
    out[0] = DESCALE(tmp10 + odd2, shift);
    out[3] = DESCALE(tmp10 - odd2, shift);
    out[1] = DESCALE(tmp12 + odd0, shift);
    out[2] = DESCALE(tmp12 - odd0, shift);
}

/* jpeg_idct_4x4 (jidctred.c), with the same limits as idct_2x2, and one more: libjpeg's
   SIMD version keeps the first pass's results in 16 bits and the second's sums in 32, so a
   block whose first pass leaves over 14 bits returns 0. */
static int idct_4x4(const int16_t *in, const int16_t *q, uint8_t *out, size_t stride) {
    long ws[32];
    for (int col = 0; col < 8; col++) {
        if (col == 4) continue;
        const int16_t *c = in + col;
        const int16_t *k = q + col;
        long z[8];
        for (int r = 0; r < 8; r++) {
            z[r] = c[8 * r] * k[8 * r];
            if (z[r] < -2048 || z[r] > 2047) return 0;
        }
        if (c[8] == 0 && c[16] == 0 && c[24] == 0 && c[40] == 0 && c[48] == 0 && c[56] == 0) {
            ws[col] = ws[8 + col] = ws[16 + col] = ws[24 + col] = z[0] * 4;
            continue;
        }
        long o[4];
        idct4_1d(z, 13 - 2 + 1, o);
        ws[col] = o[0]; ws[8 + col] = o[1]; ws[16 + col] = o[2]; ws[24 + col] = o[3];
    }
    for (int i = 0; i < 32; i++) if ((i & 7) != 4 && (ws[i] < -16384 || ws[i] > 16383)) return 0;
    for (int row = 0; row < 4; row++) {
        const long *w = ws + 8 * row;
        uint8_t *o = out + (size_t)row * stride;
        long x[4];
        if (w[1] == 0 && w[2] == 0 && w[3] == 0 && w[5] == 0 && w[6] == 0 && w[7] == 0) {
            x[0] = x[1] = x[2] = x[3] = DESCALE(w[0], 2 + 3);
        } else {
            idct4_1d(w, 13 + 2 + 3 + 1, x);
        }
        for (int i = 0; i < 4; i++) {
            if (x[i] < -512 || x[i] > 511) return 0;
            o[i] = idct_limit(x[i]);
        }
    }
    return 1;
}

/* After the last block of a restart interval or of the scan: only the current byte's fill
   bits may be left (libjpeg counts whole bytes left as discarded, a warning), then a marker.
   Returns the marker's second byte, or -1. */
static inline __attribute__((always_inline)) int end_of_segment(bit_reader *b) {
    if (!b->at_marker) refill(b);
    if (b->bits - b->fake >= 8 || b->bits < b->fake || !b->at_marker) return -1;
    while (b->p < b->end && *b->p == 0xFF) b->p++;
    if (b->p >= b->end) return -1;
    int marker = *b->p++;
    b->acc = 0; b->bits = 0; b->fake = 0; b->at_marker = 0;
    return marker;
}

/* One row of YCbCr to RGB with libjpeg's fixed-point factors (jdcolor.c: ONE_HALF, FIX(1.40200),
   ...), in 32-bit integers (every product and sum here fits), so that the compiler vectorises
   it; an AVX2 version is chosen where the processor has it. */
static inline __attribute__((always_inline)) void ycc_row_body(const uint8_t *restrict p0, const uint8_t *restrict p1,
                                                               const uint8_t *restrict p2, uint8_t *restrict o, size_t ow) {
    for (size_t x = 0; x < ow; x++) {
        int Y = p0[x], cb = (int)p1[x] - 128, cr = (int)p2[x] - 128;
        int r = Y + ((91881 * cr + 32768) >> 16);
        int g = Y + (((-22554 * cb + 32768) + (-46802 * cr)) >> 16);
        int bl = Y + ((116130 * cb + 32768) >> 16);
        o[3 * x] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
        o[3 * x + 1] = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : g);
        o[3 * x + 2] = (uint8_t)(bl < 0 ? 0 : bl > 255 ? 255 : bl);
    }
}

static void ycc_row_baseline(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, uint8_t *o, size_t ow) {
    ycc_row_body(p0, p1, p2, o, ow);
}

#if defined(__x86_64__)
__attribute__((target("avx2")))
static void ycc_row_avx2(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, uint8_t *o, size_t ow) {
    ycc_row_body(p0, p1, p2, o, ow);
}
#endif

// (the image code's one choice of instruction set: CImage's)
static void ycc_row(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, uint8_t *o, size_t ow) {
#if defined(__x86_64__)
    if (tutor_image_level() >= 1) { ycc_row_avx2(p0, p1, p2, o, ow); return; }
#endif
    ycc_row_baseline(p0, p1, p2, o, ow);
}

int tutor_jpeg_decode_reduced_direct(struct jpeg_decompress_struct *c, uint8_t *out) {
    /* What jpeg_read_header found, checked against what this path decodes exactly. */
    if (c->progressive_mode || c->arith_code || c->data_precision != 8) return 0;
    /* 1/8 or 1/4: each MCU of hmax x vmax blocks becomes (hmax x vmax) * m output pixels */
    int m = c->min_DCT_scaled_size;
    if (c->scale_denom != 8 || (c->scale_num != 1 && c->scale_num != 2) || m != (int)c->scale_num) return 0;
    int nc = c->num_components;
    if (!((nc == 1 && c->jpeg_color_space == JCS_GRAYSCALE) ||
          (nc == 3 && (c->jpeg_color_space == JCS_YCbCr || c->jpeg_color_space == JCS_RGB)))) return 0;
    if (c->out_color_space != JCS_RGB || c->comps_in_scan != nc) return 0;
    if (c->Ss != 0 || c->Se != 63 || c->Ah != 0 || c->Al != 0) return 0;
    if (!c->src || !c->src->next_input_byte) return 0;
    size_t W = c->image_width, H = c->image_height;
    if (W == 0 || H == 0 || c->output_width != (W * (size_t)m + 7) / 8 || c->output_height != (H * (size_t)m + 7) / 8) return 0;

    int hmax = nc == 1 ? 1 : c->max_h_samp_factor, vmax = nc == 1 ? 1 : c->max_v_samp_factor;
    size_t mcux = (W + 8 * (size_t)hmax - 1) / (8 * (size_t)hmax);
    size_t mcuy = (H + 8 * (size_t)vmax - 1) / (8 * (size_t)vmax);
    size_t pw = mcux * (size_t)(hmax * m), ph = mcuy * (size_t)(vmax * m);   /* output pixels, MCUs whole */
    /* The blocks of one MCU in the scan's order: where each goes in an MCU's hmax x vmax
       pixels of its component's plane, and how it is decoded. */
    struct {
        int scan, ssize;
        size_t offset;
        const int16_t *q;
        const huff_table *dc, *ac;
        const int32_t *quick;
    } blk[10];
    int16_t q[3][64];
    /* Huffman tables by number (DC 0-3, AC 4-7), built once each; quick tables per pair. */
    huff_table *tables[8] = { 0 };
    int32_t *quick[3] = { 0 };           /* built here, freed at the end */
    const int32_t *used[3] = { 0 };      /* the one each scan component uses */
    int ok = 0, nblk = 0;
    uint8_t *plane = NULL;
    for (int s = 0; s < nc; s++) {
        jpeg_component_info *ci = c->cur_comp_info[s];
        if (!ci) goto done;
        int h = nc == 1 ? 1 : ci->h_samp_factor, v = nc == 1 ? 1 : ci->v_samp_factor;
        int ssize = ci->DCT_scaled_size;
        /* at this scale every component fills the output at 1:1, no upsampling */
        if ((ssize != 1 && ssize != 2 && ssize != 4) || h * ssize != hmax * m || v * ssize != vmax * m) goto done;
        if (ci->quant_tbl_no < 0 || ci->quant_tbl_no >= NUM_QUANT_TBLS || !c->quant_tbl_ptrs[ci->quant_tbl_no]) goto done;
        if (ci->dc_tbl_no < 0 || ci->dc_tbl_no >= NUM_HUFF_TBLS || ci->ac_tbl_no < 0 || ci->ac_tbl_no >= NUM_HUFF_TBLS) goto done;
        int index = ci->component_index;
        if (index < 0 || index >= nc || nblk + h * v > 10) goto done;   /* libjpeg's D_MAX_BLOCKS_IN_MCU */
        for (int i = 0; i < 64; i++) q[s][i] = (int16_t)c->quant_tbl_ptrs[ci->quant_tbl_no]->quantval[i];
        int td = ci->dc_tbl_no, ta = 4 + ci->ac_tbl_no;
        for (int k = 0; k < 2; k++) {
            int t = k ? ta : td;
            if (tables[t]) continue;
            if (!(tables[t] = (huff_table *)malloc(sizeof(huff_table)))) goto done;
            if (!build_table(k ? c->ac_huff_tbl_ptrs[t - 4] : c->dc_huff_tbl_ptrs[t], !k, tables[t])) goto done;
        }
        const int32_t *qk = NULL;
        for (int e = 0; e < s && !qk; e++)
            if (c->cur_comp_info[e]->dc_tbl_no == td && c->cur_comp_info[e]->ac_tbl_no == ta - 4) qk = used[e];
        if (!qk) {
            if (!(quick[s] = (int32_t *)malloc(sizeof(int32_t) << QUICK))) goto done;
            build_quick(tables[td], tables[ta], quick[s]);
            qk = quick[s];
        }
        used[s] = qk;
        for (int by = 0; by < v; by++) {
            for (int bx = 0; bx < h; bx++, nblk++) {
                blk[nblk].scan = s;
                blk[nblk].ssize = ssize;
                blk[nblk].offset = (size_t)index * pw * ph + (size_t)(by * ssize) * pw + (size_t)(bx * ssize);
                blk[nblk].q = q[s];
                blk[nblk].dc = tables[td];
                blk[nblk].ac = tables[ta];
                blk[nblk].quick = qk;
            }
        }
    }
    plane = (uint8_t *)malloc(pw * ph * (size_t)nc);
    if (!plane) goto done;

    bit_reader b = { c->src->next_input_byte, c->src->next_input_byte + c->src->bytes_in_buffer, 0, 0, 0, 0 };
    int last_dc[3] = { 0, 0, 0 };   /* summed as unsigned: libjpeg lets them wrap */
    unsigned restart = c->restart_interval, to_go = restart, next_rst = 0;
    int16_t coef[64];
    for (size_t my = 0; my < mcuy; my++) {
        for (size_t mx = 0; mx < mcux; mx++) {
            if (restart) {
                if (to_go == 0) {
                    if (end_of_segment(&b) != (int)(JPEG_RST0 + next_rst)) goto done;
                    next_rst = (next_rst + 1) & 7;
                    last_dc[0] = last_dc[1] = last_dc[2] = 0;
                    to_go = restart;
                }
                to_go--;
            }
            uint8_t *base = plane + my * (size_t)(vmax * m) * pw + mx * (size_t)(hmax * m);
            for (int i = 0; i < nblk; i++) {
                int s = blk[i].scan;
                uint8_t *dst = base + blk[i].offset;
                if (b.bits < 16) refill(&b);
                int32_t e = blk[i].quick[(b.acc >> (b.bits - QUICK)) & ((1 << QUICK) - 1)];
                int n = blk[i].ssize, d;
                if (e) {                        /* a DC difference and the end of the block */
                    b.bits -= e & 0xFF;
                    d = e >> 8;
                } else {
                    int t = decode(&b, blk[i].dc);
                    if (t < 0) goto done;
                    d = t ? extend(get_bits(&b, t), t) : 0;
                    /* the AC terms: skipped at 1 x 1, kept for the 2 x 2 and 4 x 4 transforms */
                    if (n > 1) memset(coef, 0, sizeof(coef));
                    if (!ac_terms(&b, blk[i].ac, n > 1 ? coef : NULL)) goto done;
                }
                last_dc[s] = (int)((unsigned)last_dc[s] + (unsigned)d);
                int z = (int16_t)last_dc[s] * blk[i].q[0];
                if (n == 1) {
                    dst[0] = idct_limit(DESCALE((long)z, 3));
                } else if (e) {
                    /* idct_2x2 and idct_4x4 of a lone DC term: one value (and their limits) */
                    if (z < -2048 || z > 2047) goto done;
                    uint8_t value = idct_limit(DESCALE((long)z * 4, 2 + 3));
                    if (n == 2) {
                        uint16_t v2 = (uint16_t)(value * 0x0101u);
                        memcpy(dst, &v2, 2); memcpy(dst + pw, &v2, 2);
                    } else {
                        uint32_t v4 = value * 0x01010101u;
                        for (int r = 0; r < 4; r++) memcpy(dst + (size_t)r * pw, &v4, 4);
                    }
                } else {
                    coef[0] = (int16_t)last_dc[s];
                    if (n == 2 ? !idct_2x2(coef, blk[i].q, dst, dst + pw) : !idct_4x4(coef, blk[i].q, dst, pw)) goto done;
                }
            }
            if (b.bits < b.fake) goto done;   /* read past a marker: libjpeg would warn */
        }
    }
    if (end_of_segment(&b) != JPEG_EOI) goto done;

    /* Colours, with libjpeg's tables (jdcolor.c) for YCbCr. */
    size_t ow = c->output_width, oh = c->output_height;
    for (size_t y = 0; y < oh; y++) {
        const uint8_t *p0 = plane + y * pw, *p1 = p0 + pw * ph, *p2 = p1 + pw * ph;
        uint8_t *o = out + y * ow * 3;
        if (nc == 1) {
            for (size_t x = 0; x < ow; x++) o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = p0[x];
        } else if (c->jpeg_color_space == JCS_RGB) {
            for (size_t x = 0; x < ow; x++) { o[3 * x] = p0[x]; o[3 * x + 1] = p1[x]; o[3 * x + 2] = p2[x]; }
        } else {
            ycc_row(p0, p1, p2, o, ow);
        }
    }
    ok = 1;
done:
    for (int i = 0; i < 8; i++) free(tables[i]);
    for (int i = 0; i < 3; i++) free(quick[i]);
    free(plane);
    return ok;
}
