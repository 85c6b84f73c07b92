// libjpeg's default error handler calls exit(); Swift cannot setjmp. Everything
// that touches libjpeg lives here, behind a handler that longjmps back and
// returns an error code with libjpeg's message.
#include <stdio.h>   /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include "cjpeg_shim.h"
#include "cjpeg_reduced.h"

typedef struct {
    struct jpeg_error_mgr pub;   /* first: libjpeg casts cinfo->err to this */
    jmp_buf jump;
    char *message;               /* 200 bytes owned by the caller */
    int warnings;
} shim_error;

/* Sets `message` to libjpeg's text for the current error or warning. */
static void shim_format(j_common_ptr cinfo, char *message) {
    char buffer[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buffer);
    strncpy(message, buffer, 199);
    message[199] = 0;
}

static void shim_error_exit(j_common_ptr cinfo) {
    shim_error *err = (shim_error *)cinfo->err;
    if (err->message) shim_format(cinfo, err->message);
    longjmp(err->jump, 1);
}

/* level < 0 is a warning (corrupt data libjpeg worked around); keep the first one. */
static void shim_emit_message(j_common_ptr cinfo, int level) {
    shim_error *err = (shim_error *)cinfo->err;
    if (level < 0) {
        if (err->warnings == 0 && err->message) shim_format(cinfo, err->message);
        err->warnings++;
    }
}

static void shim_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void shim_install(j_common_ptr cinfo, shim_error *err, char *message) {
    cinfo->err = jpeg_std_error(&err->pub);
    err->pub.error_exit = shim_error_exit;
    err->pub.emit_message = shim_emit_message;
    err->pub.output_message = shim_output_message;
    err->message = message;
    err->warnings = 0;
}

/* Called by libjpeg between passes: stops progressive files with too many scans. */
static void shim_progress(j_common_ptr cinfo) {
    if (cinfo->is_decompressor) {
        struct jpeg_decompress_struct *d = (struct jpeg_decompress_struct *)cinfo;
        if (d->input_scan_number > TUTOR_JPEG_MAX_SCANS) {
            shim_error *err = (shim_error *)cinfo->err;
            snprintf(err->message, 200, "more than %d progressive scans", TUTOR_JPEG_MAX_SCANS);
            longjmp(err->jump, 1);
        }
    }
}

_Static_assert(JCS_GRAYSCALE == TUTOR_JPEG_CS_GRAYSCALE && JCS_RGB == TUTOR_JPEG_CS_RGB && JCS_YCbCr == TUTOR_JPEG_CS_YCBCR
               && JCS_CMYK == TUTOR_JPEG_CS_CMYK && JCS_YCCK == TUTOR_JPEG_CS_YCCK, "J_COLOR_SPACE values changed");

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
    shim_install((j_common_ptr)&c, &err, info->message);
    if (setjmp(err.jump)) { jpeg_destroy_decompress(&c); return TUTOR_JPEG_ERROR; }
    jpeg_CreateDecompress(&c, JPEG_LIB_VERSION, sizeof(c));
    jpeg_mem_src(&c, data, (unsigned long)size);
    jpeg_read_header(&c, TRUE);
    fill_info(&c, info);
    jpeg_destroy_decompress(&c);
    return TUTOR_JPEG_OK;
}

int tutor_jpeg_decode_rgb(const uint8_t *data, size_t size, int max_side, int min_side, int allow_warnings,
                          uint8_t **out, tutor_jpeg_info *info) {
    return tutor_jpeg_decode_rgb_reduced(data, size, max_side, min_side, allow_warnings, 0, 0, 0, out, info);
}

int tutor_jpeg_decode_rgb_reduced(const uint8_t *data, size_t size, int max_side, int min_side, int allow_warnings,
                                  int at_least_w, int at_least_h, int libjpeg_only, uint8_t **out, tutor_jpeg_info *info) {
    struct jpeg_decompress_struct c;
    struct jpeg_progress_mgr progress;
    shim_error err;
    /* volatile: changed between setjmp and a possible longjmp */
    uint8_t *volatile pixels = NULL;
    memset(info, 0, sizeof(*info));
    *out = NULL;
    shim_install((j_common_ptr)&c, &err, info->message);
    if (setjmp(err.jump)) {
        free(pixels);
        jpeg_destroy_decompress(&c);
        return TUTOR_JPEG_ERROR;
    }
    jpeg_CreateDecompress(&c, JPEG_LIB_VERSION, sizeof(c));
    progress.progress_monitor = shim_progress;
    c.progress = &progress;
    jpeg_mem_src(&c, data, (unsigned long)size);
    jpeg_read_header(&c, TRUE);
    fill_info(&c, info);

    /* Everything below is checked from the header alone, before any pixel is decoded. */
    if (max_side > 0 && (c.image_width > (JDIMENSION)max_side || c.image_height > (JDIMENSION)max_side)) {
        snprintf(info->message, 200, "image is %u x %u pixels, larger than the limit of %d x %d",
                 c.image_width, c.image_height, max_side, max_side);
        jpeg_destroy_decompress(&c);
        return TUTOR_JPEG_TOO_LARGE;
    }
    if (min_side > 0 && (c.image_width < (JDIMENSION)min_side || c.image_height < (JDIMENSION)min_side)) {
        snprintf(info->message, 200, "image is %u x %u pixels, smaller than %d x %d",
                 c.image_width, c.image_height, min_side, min_side);
        jpeg_destroy_decompress(&c);
        return TUTOR_JPEG_TOO_SMALL;
    }
    int cmyk = 0;
    switch (c.jpeg_color_space) {
    case JCS_GRAYSCALE: case JCS_YCbCr: case JCS_RGB:
        c.out_color_space = JCS_RGB;       /* libjpeg-turbo replicates grey to RGB */
        break;
    case JCS_CMYK: case JCS_YCCK:
        c.out_color_space = JCS_CMYK;      /* libjpeg turns YCCK into CMYK; RGB below */
        cmyk = 1;
        break;
    default:
        snprintf(info->message, 200, "%d colour components in an unknown colour space", c.num_components);
        jpeg_destroy_decompress(&c);
        return TUTOR_JPEG_UNSUPPORTED;
    }

    if (at_least_w > 0 && at_least_h > 0) {
        for (unsigned k = 1; k <= 8; k++) {
            c.scale_num = k;
            c.scale_denom = 8;
            jpeg_calc_output_dimensions(&c);
            if (c.output_width >= (JDIMENSION)at_least_w && c.output_height >= (JDIMENSION)at_least_h) break;
        }
    }
    if (!cmyk && !libjpeg_only && (c.scale_num == 1 || c.scale_num == 2) && c.scale_denom == 8) {
        size_t w8 = c.output_width, h8 = c.output_height;
        pixels = (uint8_t *)malloc(w8 * h8 * 3);
        if (pixels && tutor_jpeg_decode_reduced_direct(&c, pixels)) {
            info->out_width = (int)w8;
            info->out_height = (int)h8;
            info->direct = 1;
            info->warnings = err.warnings;   /* the header's: the direct path takes no damaged scan */
            jpeg_destroy_decompress(&c);
            if (err.warnings > 0 && !allow_warnings) {
                free(pixels);
                return TUTOR_JPEG_ERROR;
            }
            *out = pixels;
            return TUTOR_JPEG_OK;
        }
        free(pixels);
        pixels = NULL;
    }
    jpeg_start_decompress(&c);
    size_t w = c.output_width, h = c.output_height;
    info->out_width = (int)w;
    info->out_height = (int)h;
    /* CMYK only: [1, w * 4], one decoded row, freed with the decompressor (RGB rows go
       straight into place) */
    JSAMPARRAY row = cmyk ? (*c.mem->alloc_sarray)((j_common_ptr)&c, JPOOL_IMAGE, (JDIMENSION)(w * (size_t)c.output_components), 1)
                          : NULL;
    pixels = (uint8_t *)malloc(w * h * 3); /* [h, w, 3] */
    if (!pixels) {
        snprintf(info->message, 200, "out of memory for %zu x %zu pixels", w, h);
        jpeg_destroy_decompress(&c);
        return TUTOR_JPEG_NO_MEMORY;
    }
    /* Adobe's writers (and ImageMagick) store CMYK inverted, 255 meaning no ink;
       libjpeg reports their APP14 marker as saw_Adobe_marker. */
    int inverted = cmyk && c.saw_Adobe_marker;
    while (c.output_scanline < c.output_height) {
        size_t y = c.output_scanline;
        uint8_t *dst = pixels + y * w * 3;
        if (!cmyk) {
            JSAMPROW into = dst;
            jpeg_read_scanlines(&c, &into, 1);
            continue;
        }
        jpeg_read_scanlines(&c, row, 1);
        const JSAMPLE *src = row[0];
        for (size_t x = 0; x < w; x++) {
            /* paper colour left by each ink: (255 - ink) */
            int C = src[4 * x], M = src[4 * x + 1], Y = src[4 * x + 2], K = src[4 * x + 3];
            if (!inverted) { C = 255 - C; M = 255 - M; Y = 255 - Y; K = 255 - K; }
            dst[3 * x]     = (uint8_t)((C * K + 127) / 255);
            dst[3 * x + 1] = (uint8_t)((M * K + 127) / 255);
            dst[3 * x + 2] = (uint8_t)((Y * K + 127) / 255);
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
    shim_install((j_common_ptr)&c, &err, message);
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
