#ifndef TUTOR_CPNG_DIRECT_H
#define TUTOR_CPNG_DIRECT_H
#include <stddef.h>
#include <stdint.h>

/// Decodes an 8-bit RGB, grey, RGB-and-alpha or grey-and-alpha, non-interlaced PNG without a
/// tRNS chunk to 8-bit RGB (alpha composited over white) with libdeflate, the same bytes as
/// libpng through the shim, into pixels (capacity bytes; the image
/// needs width x height x 3). Returns 1 and sets *width and *height; returns 0 for any other
/// file, anything irregular in it, or too small a capacity (libpng's path then decodes it or
/// says what is wrong). pixels may have been written to either way.
int tutor_png_decode_direct(const uint8_t *data, size_t size, int max_side, int min_side, uint8_t *pixels,
                            size_t capacity, int *width, int *height);

#endif
