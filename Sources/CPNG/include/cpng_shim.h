#ifndef TUTOR_CPNG_SHIM_H
#define TUTOR_CPNG_SHIM_H
#include <stddef.h>
#include <stdint.h>

/// Result codes of the shim. Every call returns one; on failure `message` holds
/// libpng's own text (NUL-terminated, at most 199 characters).
enum {
    TUTOR_PNG_OK = 0,
    TUTOR_PNG_ERROR = 1,       /* libpng reported an error (corrupt, truncated, bad CRC) */
    TUTOR_PNG_TOO_LARGE = 2,   /* header dimensions exceed the caller's limit */
    TUTOR_PNG_NO_MEMORY = 3,
    TUTOR_PNG_TOO_SMALL = 4,   /* header dimensions below the caller's minimum */
    TUTOR_PNG_NOT_PNG = 5,     /* the eight-byte PNG signature is missing */
};

typedef struct {
    int width;
    int height;
    int bit_depth;       /* as stored: 1, 2, 4, 8 or 16 */
    int color_type;      /* as stored: libpng's PNG_COLOR_TYPE_* (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA) */
    int interlaced;
    char message[200];
} tutor_png_info;

/// Decodes any PNG libpng reads (every bit depth and colour type, interlaced or not) to 8-bit
/// RGB, `[height, width, 3]` bytes written into `*out` (malloc'ed; free with tutor_png_free).
/// Transparency is composited over white, as a viewer shows it. Fails before decoding any
/// pixel with TUTOR_PNG_TOO_LARGE when the header says width or height exceeds max_side (no
/// limit when max_side <= 0), and with TUTOR_PNG_TOO_SMALL when either is below min_side.
int tutor_png_decode_rgb(const uint8_t *data, size_t size, int max_side, int min_side,
                         uint8_t **out, tutor_png_info *info);

/// Encodes 8-bit RGB as a PNG (tests write PNG first frames with it).
int tutor_png_encode_rgb(const uint8_t *rgb, int width, int height, uint8_t **out, size_t *out_size, char message[200]);

void tutor_png_free(void *p);

#endif
