#ifndef TUTOR_CJPEG_SHIM_H
#define TUTOR_CJPEG_SHIM_H
#include <stddef.h>
#include <stdint.h>

/// Result codes of the shim. Every call returns one; on failure `message`
/// holds libjpeg's own text (NUL-terminated, at most 199 characters).
enum {
    TUTOR_JPEG_OK = 0,
    TUTOR_JPEG_ERROR = 1,       /* libjpeg reported an error (corrupt, truncated, not a JPEG) */
    TUTOR_JPEG_TOO_LARGE = 2,   /* header dimensions exceed the caller's limit */
    TUTOR_JPEG_NO_MEMORY = 3,
    TUTOR_JPEG_TOO_SMALL = 4,   /* header dimensions below the caller's minimum */
    TUTOR_JPEG_UNSUPPORTED = 5, /* a colour space that has no RGB conversion */
};

/// Progressive files with very many scans cost a full pass over the image each:
/// a small file could take minutes. Decoding stops past this many scans.
#define TUTOR_JPEG_MAX_SCANS 1000

/// Colour spaces as stored in the file: libjpeg's J_COLOR_SPACE values, which are
/// part of its stable API (jpeglib.h is not exposed to Swift).
enum {
    TUTOR_JPEG_CS_UNKNOWN = 0,
    TUTOR_JPEG_CS_GRAYSCALE = 1,
    TUTOR_JPEG_CS_RGB = 2,
    TUTOR_JPEG_CS_YCBCR = 3,
    TUTOR_JPEG_CS_CMYK = 4,
    TUTOR_JPEG_CS_YCCK = 5,
};

typedef struct {
    int width;
    int height;
    int components;      /* as stored: 1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK */
    int color_space;     /* TUTOR_JPEG_CS_*: libjpeg's J_COLOR_SPACE of the file */
    int progressive;
    int warnings;        /* number of recoverable warnings (e.g. premature end of data) */
    int out_width;       /* size of the decoded pixels (smaller than width x height */
    int out_height;      /* when a reduced decode was asked for) */
    int direct;          /* 1 when a 1/8 or 1/4 decode took the direct path (cjpeg_reduced.c) */
    char message[200];
} tutor_jpeg_info;

/// Reads only the header: dimensions and colour space, no pixels.
int tutor_jpeg_read_header(const uint8_t *data, size_t size, tutor_jpeg_info *info);

/// Decodes to 8-bit RGB, `[height, width, 3]` bytes written into `*out`
/// (allocated with malloc; the caller frees it with tutor_jpeg_free).
/// Fails before decoding any pixel with TUTOR_JPEG_TOO_LARGE when the header says
/// width or height exceeds max_side (no limit when max_side <= 0), and with
/// TUTOR_JPEG_TOO_SMALL when either is below min_side. Greyscale is replicated to
/// three channels; CMYK and YCCK are converted to RGB. Warnings (truncated or
/// corrupt entropy data) are errors unless allow_warnings is non-zero.
int tutor_jpeg_decode_rgb(const uint8_t *data, size_t size, int max_side, int min_side, int allow_warnings,
                          uint8_t **out, tutor_jpeg_info *info);

/// The same, decoded at the smallest of libjpeg's scales k/8 (k = 1 ... 8) whose output is
/// at least at_least_w x at_least_h (full size when none is smaller): the DCT does the
/// shrinking, so most of the inverse transform is never computed. At 1/8 each output pixel
/// is its 8 x 8 block's mean. `info->out_width` and `out_height` give the decoded size;
/// `width` and `height` stay the file's. At 1/8 and 1/4 a baseline file is decoded by a direct path
/// to the same bytes as libjpeg's (`info->direct`), unless `libjpeg_only` is non-zero.
int tutor_jpeg_decode_rgb_reduced(const uint8_t *data, size_t size, int max_side, int min_side, int allow_warnings,
                                  int at_least_w, int at_least_h, int libjpeg_only, uint8_t **out, tutor_jpeg_info *info);

/// Encodes 8-bit RGB. `subsample_444` non-zero writes every channel at full
/// resolution. The output buffer is malloc'ed; free with tutor_jpeg_free.
int tutor_jpeg_encode_rgb(const uint8_t *rgb, int width, int height, int quality, int subsample_444,
                          uint8_t **out, size_t *out_size, char message[200]);

void tutor_jpeg_free(void *p);

#endif
