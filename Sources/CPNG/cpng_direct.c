// A direct decode of the PNGs that video frames almost always are: 8-bit RGB, grey, RGB with
// alpha or grey with alpha, not interlaced, no tRNS chunk. libdeflate inflates the image data
// (on the frames of this field, flat colours over a few kilobytes, 20 times faster than zlib's
// inflate that libpng calls) and the five row filters are undone here. The bytes are libpng's:
// for these colour types the shim's conversions come down to grey to RGB and alpha composited
// over white with libpng's own integer formula (png_composite: opaque pixels as they are,
// transparent ones white). A gamma chunk (gAMA, sRGB, iCCP) changes nothing for opaque and
// clear pixels, but libpng then composites a translucent one in linear light: such a file,
// once a translucent pixel is met, is left to libpng (PNGDirectTests checks files of several
// gamma values, opaque, clear and translucent, against libpng itself).
//
// Everything irregular is left to libpng, which then decodes the file or reports the error in
// its own words: any other colour type or bit depth, interlacing, a tRNS chunk, a CRC that does
// not match, a critical chunk that is not IHDR, PLTE, IDAT or IEND, IDAT chunks not one after
// the other, a compressed stream that does not give exactly the image's bytes or that leaves
// bytes over, a filter type above 4, a missing IEND, sizes outside the caller's limits, a
// palette in anything but RGB or a second one, an ancillary chunk over libpng's 8 MB, a
// translucent pixel in a file with a gamma chunk. One
// difference is by design: image data whose CRC is right but whose Huffman tables zlib calls
// invalid, where libdeflate reads them and inflates exactly the image's bytes with the stream's
// own Adler-32 checksum, gives those pixels (libpng: "IDAT: invalid literal/length code";
// PNGDirectTests).
#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "cimage.h"
#include "cpng_direct.h"

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static int is_letter(uint8_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// The Paeth predictor, without branches (the same choice and ties as the PNG specification's
// if pa <= pb and pa <= pc: a, else if pb <= pc: b, else c).
static inline int paeth(int a, int b, int c) {
    int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
    int bc = pb <= pc ? b : c;
    return pa <= pb && pa <= pc ? a : bc;
}

// Undoes one row's filter: row (n bytes, BPP bytes a pixel, n a multiple of BPP) from the
// filtered bytes in and the row above, prior (zeros for the first row). The pixel to the left is
// kept in registers, so the chain from pixel to pixel never waits on a store. 0 when the filter
// type is not one of PNG's five.
static inline __attribute__((always_inline)) int unfilter_bpp(uint8_t *row, const uint8_t *in, const uint8_t *prior,
                                                              size_t n, const int BPP, uint8_t type) {
    uint8_t left[4] = {0, 0, 0, 0};
    switch (type) {
    case 0: memcpy(row, in, n); return 1;
    case 1:
        for (size_t i = 0; i < n; i += BPP)
            for (int k = 0; k < BPP; k++) row[i + k] = left[k] = (uint8_t)(in[i + k] + left[k]);
        return 1;
    case 2:
        for (size_t i = 0; i < n; i++) row[i] = (uint8_t)(in[i] + prior[i]);
        return 1;
    case 3:
        for (size_t i = 0; i < n; i += BPP)
            for (int k = 0; k < BPP; k++) row[i + k] = left[k] = (uint8_t)(in[i + k] + ((left[k] + prior[i + k]) >> 1));
        return 1;
    case 4: {
        uint8_t upLeft[4] = {0, 0, 0, 0};
        for (size_t i = 0; i < n; i += BPP)
            for (int k = 0; k < BPP; k++) {
                uint8_t up = prior[i + k];
                row[i + k] = left[k] = (uint8_t)(in[i + k] + paeth(left[k], up, upLeft[k]));
                upLeft[k] = up;
            }
        return 1;
    }
    default: return 0;
    }
}

#if defined(__x86_64__)
#include <emmintrin.h>
// Sub, Up, Average and Paeth for RGB and RGBA rows with SSE2 (every x86-64 processor has it): a
// pixel's channels side by side in one register, in 16-bit lanes where a sum can pass 255 (the
// method of libpng's own SSE2 filters). The chain from pixel to pixel is the same as in the
// scalar loop, but one pixel a step instead of one byte. The same bytes as unfilter_bpp: the
// Paeth choice is a where pa is the smallest, else b where pb is, else c (the specification's
// order of ties), and floor((a + b) / 2) is pavgb's rounded-up mean less the odd bit.
static inline __m128i load_pixel(const uint8_t *p, const int BPP) {
    uint32_t v = 0;
    memcpy(&v, p, BPP);
    return _mm_cvtsi32_si128((int)v);
}
static inline void store_pixel(uint8_t *p, __m128i v, const int BPP) {
    uint32_t x = (uint32_t)_mm_cvtsi128_si32(v);
    memcpy(p, &x, BPP);
}
static inline __m128i abs16(__m128i x) { return _mm_max_epi16(x, _mm_sub_epi16(_mm_setzero_si128(), x)); }
static inline __m128i choose(__m128i mask, __m128i x, __m128i y) { return _mm_or_si128(_mm_and_si128(mask, x), _mm_andnot_si128(mask, y)); }

static inline __attribute__((always_inline)) int unfilter_pixels(uint8_t *row, const uint8_t *in, const uint8_t *prior,
                                                                 size_t n, const int BPP, uint8_t type) {
    const __m128i zero = _mm_setzero_si128(), one = _mm_set1_epi8(1);
    __m128i a = zero;
    switch (type) {
    case 1:
        for (size_t i = 0; i < n; i += BPP) {
            a = _mm_add_epi8(a, load_pixel(in + i, BPP));
            store_pixel(row + i, a, BPP);
        }
        return 1;
    case 2: {   // sixteen bytes a step (row and prior are different rows, in is apart from both)
        size_t i = 0;
        for (; i + 16 <= n; i += 16)
            _mm_storeu_si128((__m128i *)(row + i), _mm_add_epi8(_mm_loadu_si128((const __m128i *)(in + i)),
                                                                _mm_loadu_si128((const __m128i *)(prior + i))));
        for (; i < n; i++) row[i] = (uint8_t)(in[i] + prior[i]);
        return 1;
    }
    case 3:
        for (size_t i = 0; i < n; i += BPP) {
            __m128i b = load_pixel(prior + i, BPP);
            __m128i mean = _mm_sub_epi8(_mm_avg_epu8(a, b), _mm_and_si128(_mm_xor_si128(a, b), one));
            a = _mm_add_epi8(mean, load_pixel(in + i, BPP));
            store_pixel(row + i, a, BPP);
        }
        return 1;
    case 4: {
        __m128i c = zero;   // a and c as 16-bit lanes here
        for (size_t i = 0; i < n; i += BPP) {
            __m128i b = _mm_unpacklo_epi8(load_pixel(prior + i, BPP), zero);
            __m128i d = _mm_unpacklo_epi8(load_pixel(in + i, BPP), zero);
            __m128i pa = _mm_sub_epi16(b, c), pb = _mm_sub_epi16(a, c);
            __m128i pc = abs16(_mm_add_epi16(pa, pb));
            pa = abs16(pa);
            pb = abs16(pb);
            __m128i smallest = _mm_min_epi16(pc, _mm_min_epi16(pa, pb));
            __m128i nearest = choose(_mm_cmpeq_epi16(smallest, pa), a, choose(_mm_cmpeq_epi16(smallest, pb), b, c));
            a = _mm_and_si128(_mm_add_epi16(nearest, d), _mm_set1_epi16(255));
            store_pixel(row + i, _mm_packus_epi16(a, a), BPP);
            c = b;
        }
        return 1;
    }
    default: return unfilter_bpp(row, in, prior, n, BPP, type);
    }
}
#define UNFILTER_PIXELS unfilter_pixels
#else
#define UNFILTER_PIXELS unfilter_bpp
#endif

// The vector versions run where the image code's one choice of instruction set (CImage's) is
// AVX2 or better: the SSE2 filters and the AVX2 opaque rows; at baseline, plain C (so that tests
// run both).
static int unfilter(uint8_t *row, const uint8_t *in, const uint8_t *prior, size_t n, size_t bpp, uint8_t type) {
    int simd = tutor_image_level() >= 1;
    switch (bpp) {
    case 3: return simd ? UNFILTER_PIXELS(row, in, prior, n, 3, type) : unfilter_bpp(row, in, prior, n, 3, type);
    case 4: return simd ? UNFILTER_PIXELS(row, in, prior, n, 4, type) : unfilter_bpp(row, in, prior, n, 4, type);
    case 2: return unfilter_bpp(row, in, prior, n, 2, type);
    default: return unfilter_bpp(row, in, prior, n, 1, type);
    }
}

// libpng's png_composite over white (its PNG_READ_COMPOSITE_NODIV form, which equals
// (v + 127) / 255): what the shim's png_set_background gives for a translucent pixel.
static inline uint8_t over_white(uint8_t v, uint8_t a) {
    uint16_t t = (uint16_t)(v * a + 255 * (255 - a) + 128);
    return (uint8_t)((t + (t >> 8)) >> 8);
}

// An RGBA row whose pixels are all opaque (what frames with an alpha channel mostly are): its
// colours as they are, written as RGB; 0 when a pixel is not opaque (having written part of
// the row: the caller then writes all of it). With up_in, the row is an "Up" row whose filtered
// bytes are up_in and is undone here too, in the same pass (the whole row, opaque or not: it is
// the next row's prior). AVX2 where the processor has it: eight pixels a step, checked and
// packed by a byte shuffle; else a plain loop.
static int opaque_row_baseline(uint8_t *row, const uint8_t *up_in, const uint8_t *prior, uint8_t *o, size_t w) {
    if (up_in) unfilter_bpp(row, up_in, prior, 4 * w, 4, 2);
    uint8_t all = 255;
    for (size_t x = 0; x < w; x++) all &= row[4 * x + 3];
    if (all != 255) return 0;
    for (size_t x = 0; x < w; x++) { o[3 * x] = row[4 * x]; o[3 * x + 1] = row[4 * x + 1]; o[3 * x + 2] = row[4 * x + 2]; }
    return 1;
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2"), always_inline))
static inline int opaque_row_avx2(uint8_t *row, const uint8_t *up_in, const uint8_t *prior, uint8_t *o, size_t w) {
    const __m256i alpha = _mm256_set1_epi32((int)0xFF000000u);
    // per 16-byte lane: the 4 pixels' R G B bytes packed into the first 12, the rest zero
    const __m256i pack = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
                                          0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    size_t x = 0;
    for (; x + 8 <= w; x += 8) {
        __m256i v;
        if (up_in) {
            v = _mm256_add_epi8(_mm256_loadu_si256((const __m256i *)(up_in + 4 * x)), _mm256_loadu_si256((const __m256i *)(prior + 4 * x)));
            _mm256_storeu_si256((__m256i *)(row + 4 * x), v);
        } else {
            v = _mm256_loadu_si256((const __m256i *)(row + 4 * x));
        }
        if (_mm256_movemask_epi8(_mm256_cmpeq_epi32(_mm256_and_si256(v, alpha), alpha)) != -1) {
            if (up_in) unfilter_bpp(row + 4 * (x + 8), up_in + 4 * (x + 8), prior + 4 * (x + 8), 4 * (w - x - 8), 4, 2);
            return 0;
        }
        __m256i p = _mm256_shuffle_epi8(v, pack);
        uint8_t *d = o + 3 * x;
        _mm_storeu_si128((__m128i *)d, _mm256_castsi256_si128(p));   // 16 bytes: 12 and 4 the next store covers
        __m128i hi = _mm256_extracti128_si256(p, 1);
        if (x + 10 <= w) {   // 16 bytes fit in the row: the next pixels overwrite the last 4
            _mm_storeu_si128((__m128i *)(d + 12), hi);
        } else {
            uint8_t tail[16];
            _mm_storeu_si128((__m128i *)tail, hi);
            memcpy(d + 12, tail, 12);
        }
    }
    if (up_in) unfilter_bpp(row + 4 * x, up_in + 4 * x, prior + 4 * x, 4 * (w - x), 4, 2);
    for (; x < w; x++) {
        if (row[4 * x + 3] != 255) return 0;
        o[3 * x] = row[4 * x]; o[3 * x + 1] = row[4 * x + 1]; o[3 * x + 2] = row[4 * x + 2];
    }
    return 1;
}
__attribute__((target("avx2"))) static int opaque_row_avx2_plain(uint8_t *row, uint8_t *o, size_t w) {
    return opaque_row_avx2(row, NULL, NULL, o, w);
}
__attribute__((target("avx2"))) static int opaque_row_avx2_up(uint8_t *row, const uint8_t *in, const uint8_t *prior, uint8_t *o, size_t w) {
    return opaque_row_avx2(row, in, prior, o, w);
}
#endif

static int opaque_row(uint8_t *row, const uint8_t *up_in, const uint8_t *prior, uint8_t *o, size_t w) {
#if defined(__x86_64__)
    if (tutor_image_level() >= 1) return up_in ? opaque_row_avx2_up(row, up_in, prior, o, w) : opaque_row_avx2_plain(row, o, w);
#endif
    return opaque_row_baseline(row, up_in, prior, o, w);
}

// Each thread's decompressor, and the inflated rows of its last frame, kept for the next one up
// to 4 MiB (a frame of about 1,200 x 1,200): a fresh buffer each frame costs a page fault per
// 4 KiB. Freed when the thread ends.
typedef struct {
    struct libdeflate_decompressor *inflater;
    uint8_t *kept;
    size_t kept_size;
} per_thread;
enum { keep_at_most = 4 << 20 };
static pthread_key_t per_thread_key;
static pthread_once_t per_thread_once = PTHREAD_ONCE_INIT;

static void per_thread_free(void *p) {
    per_thread *t = p;
    if (t->inflater) libdeflate_free_decompressor(t->inflater);
    free(t->kept);
    free(t);
}
static void per_thread_make_key(void) { pthread_key_create(&per_thread_key, per_thread_free); }

static per_thread *this_thread(void) {
    pthread_once(&per_thread_once, per_thread_make_key);
    per_thread *t = pthread_getspecific(per_thread_key);
    if (!t) {
        t = calloc(1, sizeof(per_thread));
        if (!t) return NULL;
        t->inflater = libdeflate_alloc_decompressor();
        if (!t->inflater || pthread_setspecific(per_thread_key, t) != 0) { per_thread_free(t); return NULL; }
    }
    return t;
}

int tutor_png_decode_direct(const uint8_t *data, size_t size, int max_side, int min_side, uint8_t *pixels,
                            size_t capacity, int *width, int *height) {
    if (size < 8 + 25 || memcmp(data, "\x89PNG\r\n\x1a\n", 8) != 0) return 0;
    size_t at = 8;
    uint32_t w = 0, h = 0;
    int type = -1;
    const uint8_t *idat = NULL;      // the first IDAT's data, when there is one IDAT
    size_t idat_size = 0, idat_chunks = 0;
    size_t first_idat = 0, after_idat = 0;   // where the run of IDAT chunks starts and ends
    int seen_iend = 0, idat_done = 0, seen_plte = 0;
    int gamma = 0;                   // a gAMA, sRGB or iCCP chunk: libpng composites in linear light
    for (int index = 0; !seen_iend; index++) {
        if (size - at < 12) return 0;
        uint32_t len = be32(data + at);
        if (len > 0x7fffffffu || size - at - 12 < len) return 0;
        const uint8_t *name = data + at + 4, *body = data + at + 8;
        for (int i = 0; i < 4; i++) if (!is_letter(name[i])) return 0;
        if (libdeflate_crc32(0, name, (size_t)len + 4) != be32(body + len)) return 0;
        int critical = !(name[0] & 0x20);
        if (index == 0) {
            if (memcmp(name, "IHDR", 4) != 0 || len != 13) return 0;
            w = be32(body);
            h = be32(body + 4);
            int depth = body[8];
            type = body[9];
            if (depth != 8 || (type != 0 && type != 2 && type != 4 && type != 6) || body[10] != 0 || body[11] != 0 || body[12] != 0) return 0;
            if (w == 0 || h == 0 || w > 1000000 || h > 1000000) return 0;   // libpng's own limits
            if (max_side > 0 && (w > (uint32_t)max_side || h > (uint32_t)max_side)) return 0;
            if ((long)w < min_side || (long)h < min_side) return 0;
        } else if (memcmp(name, "IDAT", 4) == 0) {
            if (idat_done) return 0;
            if (idat_chunks == 0) { first_idat = at; idat = body; }
            idat_chunks++;
            idat_size += len;
            after_idat = at + 12 + len;
        } else {
            if (idat_chunks > 0) idat_done = 1;
            // libpng reads the ancillary chunks it knows into memory, up to the shim's limits
            if (len > 8000000) return 0;
            if (memcmp(name, "IEND", 4) == 0) {
                if (len != 0) return 0;
                seen_iend = 1;
            } else if (memcmp(name, "tRNS", 4) == 0 || memcmp(name, "IHDR", 4) == 0) {
                return 0;
            } else if (memcmp(name, "gAMA", 4) == 0 || memcmp(name, "sRGB", 4) == 0 || memcmp(name, "iCCP", 4) == 0) {
                gamma = 1;
            } else if (memcmp(name, "PLTE", 4) == 0) {
                // a suggested palette in RGB, ignored; libpng refuses a second one, and one after the data
                if (type != 2 || idat_chunks > 0 || seen_plte) return 0;
                seen_plte = 1;
            } else if (critical) {
                return 0;
            }
        }
        at += 12 + (size_t)len;
    }
    if (idat_chunks == 0) return 0;

    size_t channels = type == 2 ? 3 : type == 6 ? 4 : type == 4 ? 2 : 1, stride = (size_t)w * channels, filtered = (stride + 1) * h;
    uint8_t *joined = NULL;
    if (idat_chunks > 1) {   // gather the data of consecutive IDAT chunks
        joined = malloc(idat_size ? idat_size : 1);
        if (!joined) return 0;
        size_t n = 0;
        for (size_t p = first_idat; p < after_idat;) {
            uint32_t len = be32(data + p);
            memcpy(joined + n, data + p + 8, len);
            n += len;
            p += 12 + (size_t)len;
        }
        idat = joined;
    }
    if (capacity < (size_t)w * h * 3) { free(joined); return 0; }
    per_thread *t = this_thread();
    if (!t) { free(joined); return 0; }
    uint8_t *raw;
    if (filtered <= t->kept_size) {
        raw = t->kept;
    } else if (filtered <= keep_at_most) {
        free(t->kept);
        t->kept = raw = malloc(filtered);
        t->kept_size = raw ? filtered : 0;
    } else {
        raw = malloc(filtered);
    }
    // rows not in RGB already: two in turn (each the prior of the next), converted as they come
    uint8_t *zeros = calloc(stride, 1), *rows = type != 2 ? malloc(stride * 2) : NULL;
    int ok = raw && zeros && (type == 2 || rows);
    if (ok) {
        size_t used = 0, made = 0;
        ok = libdeflate_zlib_decompress_ex(t->inflater, idat, idat_size, raw, filtered, &used, &made) == LIBDEFLATE_SUCCESS
             && used == idat_size && made == filtered;
    }
    for (uint32_t y = 0; ok && y < h; y++) {
        const uint8_t *in = raw + (size_t)y * (stride + 1);
        if (type == 2) {   // straight into the pixels, the row above as the prior
            uint8_t *row = pixels + (size_t)y * stride;
            ok = unfilter(row, in + 1, y ? row - stride : zeros, stride, 3, in[0]);
        } else {
            uint8_t *row = rows + (y & 1) * stride, *o = pixels + (size_t)y * w * 3;
            const uint8_t *prior = y ? rows + ((y + 1) & 1) * stride : zeros;
            if (type == 6 && in[0] == 2) {   // RGB and alpha, "Up": undone and packed in one pass
                if (opaque_row(row, in + 1, prior, o, w)) continue;
            } else {
                ok = unfilter(row, in + 1, prior, stride, channels, in[0]);
                if (!ok) break;
                if (type == 6 && opaque_row(row, NULL, NULL, o, w)) continue;
            }
            if (type == 0) {          // grey, spread to RGB
                for (size_t x = 0; x < w; x++) o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = row[x];
            } else if (type == 4) {   // grey and alpha: over white, spread to RGB
                for (size_t x = 0; x < w; x++) {
                    uint8_t a = row[2 * x + 1];
                    if (gamma && a != 0 && a != 255) { ok = 0; break; }
                    o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = over_white(row[2 * x], a);
                }
            } else {   // RGB and alpha, not all opaque: over white
                for (size_t x = 0; x < w; x++) {
                    uint8_t a = row[4 * x + 3];
                    if (gamma && a != 0 && a != 255) { ok = 0; break; }
                    for (int k = 0; k < 3; k++) o[3 * x + k] = over_white(row[4 * x + k], a);
                }
            }
        }
    }
    free(joined);
    if (raw != t->kept) free(raw);
    free(rows);
    free(zeros);
    if (!ok) return 0;
    *width = (int)w;
    *height = (int)h;
    return 1;
}
