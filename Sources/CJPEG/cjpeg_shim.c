// libjpeg's default error handler calls exit(); Swift cannot setjmp. Everything
// that touches libjpeg lives here, behind a handler that longjmps back and
// returns an error code with libjpeg's message.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include "cjpeg_shim.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char *message;
    int warnings;
} shim_error;

static void shim_error_exit(j_common_ptr cinfo) {
    shim_error *err = (shim_error *)cinfo->err;
    char buffer[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buffer);
    if (err->message) { strncpy(err->message, buffer, 199); err->message[199] = 0; }
    longjmp(err->jump, 1);
}

static void shim_emit_message(j_common_ptr cinfo, int level) {
    shim_error *err = (shim_error *)cinfo->err;
    if (level < 0) {
        if (err->warnings == 0 && err->message) {
            char buffer[JMSG_LENGTH_MAX];
            (*cinfo->err->format_message)(cinfo, buffer);
            strncpy(err->message, buffer, 199); err->message[199] = 0;
        }
        err->warnings++;
    }
}

static void shim_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void fill_info(struct jpeg_decompress_struct *c, tutor_jpeg_info *info) {
    info->width = (int)c->image_width;
    info->height = (int)c->image_height;
    info->components = c->num_components;
    info->color_space = (int)c->jpeg_color_space;
    info->progressive = c->progressive_mode ? 1 : 0;
}

int tutor_jpeg_read_header(const uint8_t *data, size_t size, tutor_jpeg_info *info) {
    struct jpeg_decompress_struct c;
    shim_error err;
    memset(info, 0, sizeof(*info));
    c.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = shim_error_exit;
    err.pub.emit_message = shim_emit_message;
    err.pub.output_message = shim_output_message;
    err.message = info->message;
    err.warnings = 0;
    if (setjmp(err.jump)) { jpeg_destroy_decompress(&c); return TUTOR_JPEG_ERROR; }
    jpeg_CreateDecompress(&c, JPEG_LIB_VERSION, sizeof(c));
    jpeg_mem_src(&c, data, (unsigned long)size);
    jpeg_read_header(&c, TRUE);
    fill_info(&c, info);
    jpeg_destroy_decompress(&c);
    return TUTOR_JPEG_OK;
}

int tutor_jpeg_decode_rgb(const uint8_t *data, size_t size, int max_side, int allow_warnings,
                          uint8_t **out, tutor_jpeg_info *info) {
    struct jpeg_decompress_struct c;
    shim_error err;
    /* volatile: they change between setjmp and a possible longjmp */
    uint8_t *volatile pixels = NULL;
    JSAMPARRAY volatile row = NULL;
    memset(info, 0, sizeof(*info));
    *out = NULL;
    c.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = shim_error_exit;
    err.pub.emit_message = shim_emit_message;
    err.pub.output_message = shim_output_message;
    err.message = info->message;
    err.warnings = 0;
    if (setjmp(err.jump)) {
        free(pixels);
        jpeg_destroy_decompress(&c);
        return TUTOR_JPEG_ERROR;
    }
    jpeg_CreateDecompress(&c, JPEG_LIB_VERSION, sizeof(c));
    jpeg_mem_src(&c, data, (unsigned long)size);
    jpeg_read_header(&c, TRUE);
    fill_info(&c, info);
    if (max_side > 0 && ((int)c.image_width > max_side || (int)c.image_height > max_side)) {
        snprintf(info->message, 200, "image is %u x %u pixels, larger than the limit of %d x %d",
                 c.image_width, c.image_height, max_side, max_side);
        jpeg_destroy_decompress(&c);
        return TUTOR_JPEG_TOO_LARGE;
    }
    int cmyk = (c.jpeg_color_space == JCS_CMYK || c.jpeg_color_space == JCS_YCCK);
    if (cmyk) c.out_color_space = JCS_CMYK;
    else c.out_color_space = JCS_RGB;
    jpeg_start_decompress(&c);
    size_t w = c.output_width, h = c.output_height;
    int oc = c.output_components;
    pixels = (uint8_t *)malloc(w * h * 3);
    row = (*c.mem->alloc_sarray)((j_common_ptr)&c, JPOOL_IMAGE, (JDIMENSION)(w * (size_t)oc), 1);
    if (!pixels) {
        snprintf(info->message, 200, "out of memory for %zu x %zu pixels", w, h);
        jpeg_destroy_decompress(&c);
        return TUTOR_JPEG_NO_MEMORY;
    }
    /* Adobe writes CMYK JPEGs inverted; libjpeg reports saw_Adobe_marker. */
    int inverted = cmyk && c.saw_Adobe_marker;
    while (c.output_scanline < c.output_height) {
        size_t y = c.output_scanline;
        jpeg_read_scanlines(&c, row, 1);
        uint8_t *dst = pixels + y * w * 3;
        const JSAMPLE *src = row[0];
        if (cmyk) {
            for (size_t x = 0; x < w; x++) {
                int C = src[4 * x], M = src[4 * x + 1], Y = src[4 * x + 2], K = src[4 * x + 3];
                if (!inverted) { C = 255 - C; M = 255 - M; Y = 255 - Y; K = 255 - K; }
                /* inverted: values already mean (255 - ink) */
                dst[3 * x]     = (uint8_t)((C * K + 127) / 255);
                dst[3 * x + 1] = (uint8_t)((M * K + 127) / 255);
                dst[3 * x + 2] = (uint8_t)((Y * K + 127) / 255);
            }
        } else {
            memcpy(dst, src, w * 3);
        }
    }
    jpeg_finish_decompress(&c);
    info->warnings = err.warnings;
    jpeg_destroy_decompress(&c);
    if (err.warnings > 0 && !allow_warnings) {
        free(pixels);
        return TUTOR_JPEG_ERROR;
    }
    *out = pixels;
    return TUTOR_JPEG_OK;
}

int tutor_jpeg_encode_rgb(const uint8_t *rgb, int width, int height, int quality, int subsample_444,
                          uint8_t **out, size_t *out_size, char message[200]) {
    struct jpeg_compress_struct c;
    shim_error err;
    unsigned char *volatile buffer = NULL;
    unsigned long buffer_size = 0;
    *out = NULL; *out_size = 0; message[0] = 0;
    c.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = shim_error_exit;
    err.pub.emit_message = shim_emit_message;
    err.pub.output_message = shim_output_message;
    err.message = message;
    err.warnings = 0;
    if (setjmp(err.jump)) {
        jpeg_destroy_compress(&c);
        free(buffer);
        return TUTOR_JPEG_ERROR;
    }
    jpeg_CreateCompress(&c, JPEG_LIB_VERSION, sizeof(c));
    jpeg_mem_dest(&c, (unsigned char **)&buffer, &buffer_size);
    c.image_width = (JDIMENSION)width;
    c.image_height = (JDIMENSION)height;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    if (subsample_444) {
        for (int i = 0; i < c.num_components; i++) {
            c.comp_info[i].h_samp_factor = 1;
            c.comp_info[i].v_samp_factor = 1;
        }
    }
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * (size_t)width * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    *out = buffer;
    *out_size = buffer_size;
    return TUTOR_JPEG_OK;
}

void tutor_jpeg_free(void *p) { free(p); }
