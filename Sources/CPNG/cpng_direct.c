// A direct decode of the PNGs that video frames almost always are: 8-bit RGB or grey, not
// interlaced, no transparency. libdeflate inflates the image data (on the frames of this field,
// flat colours over a few kilobytes, 20 times faster than zlib's inflate that libpng calls) and
// the five row filters are undone here. The bytes are libpng's: for these two colour types the
// shim's conversions (palette, 16 bits, transparency over white) have nothing to do, and gamma
// chunks change nothing without transparency (checked in PNGDirectTests with files of several
// gamma values against libpng itself).
//
// Everything irregular is left to libpng, which then decodes the file or reports the error in
// its own words: any other colour type or bit depth, interlacing, a tRNS chunk, a CRC that does
// not match, a critical chunk that is not IHDR, PLTE, IDAT or IEND, IDAT chunks not one after
// the other, a compressed stream that does not give exactly the image's bytes or that leaves
// bytes over, a filter type above 4, a missing IEND, sizes outside the caller's limits, a
// second palette, an ancillary chunk over libpng's 8 MB. One difference is by design: image
// data whose CRC is right but whose Huffman tables zlib calls invalid, where libdeflate reads
// them and inflates exactly the image's bytes with the stream's own Adler-32 checksum, gives
// those pixels (libpng: "IDAT: invalid literal/length code"; PNGDirectTests).
#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
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

static int unfilter(uint8_t *row, const uint8_t *in, const uint8_t *prior, size_t n, size_t bpp, uint8_t type) {
    return bpp == 3 ? unfilter_bpp(row, in, prior, n, 3, type) : unfilter_bpp(row, in, prior, n, 1, type);
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
            if (depth != 8 || (type != 0 && type != 2) || body[10] != 0 || body[11] != 0 || body[12] != 0) return 0;
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

    size_t channels = type == 2 ? 3 : 1, stride = (size_t)w * channels, filtered = (stride + 1) * h;
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
    uint8_t *zeros = calloc(stride, 1), *grey = type == 0 ? malloc(stride * 2) : NULL;
    int ok = raw && zeros && (type != 0 || grey);
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
        } else {           // grey: two rows in turn, each spread to RGB
            uint8_t *row = grey + (y & 1) * stride;
            ok = unfilter(row, in + 1, y ? grey + ((y + 1) & 1) * stride : zeros, stride, 1, in[0]);
            uint8_t *o = pixels + (size_t)y * stride * 3;
            for (size_t x = 0; ok && x < stride; x++) o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = row[x];
        }
    }
    free(joined);
    if (raw != t->kept) free(raw);
    free(grey);
    free(zeros);
    if (!ok) return 0;
    *width = (int)w;
    *height = (int)h;
    return 1;
}
