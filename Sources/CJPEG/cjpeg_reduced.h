// Private to the shim: the direct 1/8 and 1/4 decode of baseline files (cjpeg_reduced.c).
#ifndef TUTOR_CJPEG_REDUCED_H
#define TUTOR_CJPEG_REDUCED_H
#include <stdint.h>

struct jpeg_decompress_struct;

/// Decodes a file whose header `c` has read (up to its first scan), with the output size set
/// to 1/8 or 1/4 (`jpeg_calc_output_dimensions`), into `out` ([output_height, output_width, 3] RGB):
/// 1 when done, the same bytes libjpeg would write; 0 when the file is one this path does not
/// take (libjpeg decodes it then). Reads `c` and its source, changes neither.
int tutor_jpeg_decode_reduced_direct(struct jpeg_decompress_struct *c, uint8_t *out);

#endif
