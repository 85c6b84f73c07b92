// libpng reports errors by longjmp-ing out of its error callback; Swift cannot setjmp, and a
// longjmp through Swift frames is undefined. Everything that touches libpng lives here,
// behind a handler that jumps back into this file and returns an error code with libpng's text.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <png.h>
#include "cpng_shim.h"

typedef struct {
    jmp_buf jump;
    char *message;   /* 200 bytes owned by the caller */
} shim_error;

static void shim_error_fn(png_structp png, png_const_charp text) {
    shim_error *err = (shim_error *)png_get_error_ptr(png);
    if (err->message) { strncpy(err->message, text ? text : "libpng error", 199); err->message[199] = 0; }
    longjmp(err->jump, 1);
}

/* Warnings (an unknown ancillary chunk, a bad gamma value) do not stop decoding. */
static void shim_warning_fn(png_structp png, png_const_charp text) { (void)png; (void)text; }

/* libpng allocates a chunk's declared length before reading it, and only warns when the length
   is over its limit: a 200-byte file that declares a 512 MiB zTXt chunk had libpng ask for
   512 MiB (found by Fuzz/, reproducer Fuzz/crashes/png-ztxt-chunk-512MiB.png). Every
   allocation of libpng's goes through here; one over TUTOR_PNG_ALLOC_MAX is an error. The
   pixels are not libpng's: the shim allocates them after checking the size limits, and a row
   of the widest image libpng accepts (a million pixels of 16-bit RGBA) is 8 MB. */
#define TUTOR_PNG_ALLOC_MAX ((png_alloc_size_t)16 << 20)

static png_voidp shim_malloc(png_structp png, png_alloc_size_t size) {
    if (size > TUTOR_PNG_ALLOC_MAX) {
        shim_error *err = (shim_error *)png_get_mem_ptr(png);
        if (err->message) {
            snprintf(err->message, 200, "a chunk declares %lu bytes, over the limit of %lu; the file is damaged",
                     (unsigned long)size, (unsigned long)TUTOR_PNG_ALLOC_MAX);
        }
        longjmp(err->jump, 1);
    }
    return malloc(size);
}

static void shim_free(png_structp png, png_voidp p) { (void)png; free(p); }

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t at;
} shim_reader;

static void shim_read(png_structp png, png_bytep out, png_size_t n) {
    shim_reader *r = (shim_reader *)png_get_io_ptr(png);
    if (n > r->size - r->at) png_error(png, "the file ends early (truncated PNG)");
    memcpy(out, r->data + r->at, n);
    r->at += n;
}

int tutor_png_decode_rgb(const uint8_t *data, size_t size, int max_side, int min_side,
                         uint8_t **out, tutor_png_info *info) {
    memset(info, 0, sizeof(*info));
    *out = NULL;
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        strcpy(info->message, "the file does not start with the PNG signature 89 50 4E 47 0D 0A 1A 0A");
        return TUTOR_PNG_NOT_PNG;
    }
    shim_error err = { .message = info->message };
    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &err, shim_error_fn, shim_warning_fn,
                                               &err, shim_malloc, shim_free);
    if (!png) { strcpy(info->message, "cannot create the PNG reader"); return TUTOR_PNG_NO_MEMORY; }
    /* Decompressed text and colour profiles are bounded by libpng's own default, 8 MB. */
    png_set_chunk_malloc_max(png, 8000000);
    png_infop pinfo = png_create_info_struct(png);
    if (!pinfo) {
        png_destroy_read_struct(&png, NULL, NULL);
        strcpy(info->message, "cannot create the PNG reader");
        return TUTOR_PNG_NO_MEMORY;
    }
    /* volatile: assigned after setjmp and read after the jump back. */
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(err.jump)) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &pinfo, NULL);
        return TUTOR_PNG_ERROR;
    }
    shim_reader reader = { data, size, 0 };
    png_set_read_fn(png, &reader, shim_read);
    /* The header is read whatever its size (libpng's own limit, a million pixels a side, stays
       behind it), so that the caller's limit gives the message that names the size. */
    png_read_info(png, pinfo);
    png_uint_32 w = 0, h = 0;
    int depth = 0, type = 0, interlace = 0;
    png_get_IHDR(png, pinfo, &w, &h, &depth, &type, &interlace, NULL, NULL);
    info->width = (int)w;
    info->height = (int)h;
    info->bit_depth = depth;
    info->color_type = type;
    info->interlaced = interlace != PNG_INTERLACE_NONE;
    if (max_side > 0 && ((long)w > max_side || (long)h > max_side)) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return TUTOR_PNG_TOO_LARGE;
    }
    if ((long)w < min_side || (long)h < min_side) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return TUTOR_PNG_TOO_SMALL;
    }
    /* Everything to 8-bit RGB: expand palettes and low bit depths, strip 16 bits, grey to RGB,
       and transparency composited over white. */
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, pinfo, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_strip_16(png);
    if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_color_16 white = { 0, 255, 255, 255, 255 };
    png_set_background(png, &white, PNG_BACKGROUND_GAMMA_SCREEN, 0, 1.0);
    png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    if (png_get_rowbytes(png, pinfo) != (size_t)w * 3) png_error(png, "unexpected row layout after conversion to RGB");
    pixels = malloc((size_t)w * h * 3);
    rows = malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * w * 3;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &pinfo, NULL);
    *out = pixels;
    return TUTOR_PNG_OK;
}

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
} shim_writer;

static void shim_write(png_structp png, png_bytep in, png_size_t n) {
    shim_writer *w = (shim_writer *)png_get_io_ptr(png);
    if (w->size + n > w->capacity) {
        size_t c = w->capacity ? w->capacity : 4096;
        while (c < w->size + n) c *= 2;
        uint8_t *d = realloc(w->data, c);
        if (!d) png_error(png, "out of memory");
        w->data = d;
        w->capacity = c;
    }
    memcpy(w->data + w->size, in, n);
    w->size += n;
}

static void shim_flush(png_structp png) { (void)png; }

int tutor_png_encode_rgb(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_size, char message[200]) {
    *out = NULL;
    *out_size = 0;
    message[0] = 0;
    shim_error err = { .message = message };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, shim_error_fn, shim_warning_fn);
    if (!png) { strcpy(message, "cannot create the PNG writer"); return TUTOR_PNG_NO_MEMORY; }
    png_infop pinfo = png_create_info_struct(png);
    if (!pinfo) { png_destroy_write_struct(&png, NULL); strcpy(message, "cannot create the PNG writer"); return TUTOR_PNG_NO_MEMORY; }
    shim_writer writer = { NULL, 0, 0 };
    if (setjmp(err.jump)) {
        free(writer.data);
        png_destroy_write_struct(&png, &pinfo);
        return TUTOR_PNG_ERROR;
    }
    png_set_write_fn(png, &writer, shim_write, shim_flush);
    png_set_IHDR(png, pinfo, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, pinfo);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * width * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &pinfo);
    *out = writer.data;
    *out_size = writer.size;
    return TUTOR_PNG_OK;
}

void tutor_png_free(void *p) { free(p); }
