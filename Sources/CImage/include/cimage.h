// Image kernels for Media that Swift cannot compile for the processor at hand: Swift builds for
// baseline x86-64 (16-byte vectors), these pick AVX-512 or AVX2 once at start.
#ifndef CIMAGE_H
#define CIMAGE_H

#include <stdint.h>

/// Area averaging of an RGB image `px: [height, width, 3]` to `out: [th, tw, 3]` (floats),
/// separable, in double precision, with the spans RGBImage.spans lists: target column `tx`
/// takes source columns `xsource[xstart[tx] ..< xstart[tx + 1]]` with weights `xweight[...]`,
/// whose sum is `xtotal[tx]` (the same for rows). Each source row is summed into the target
/// columns (a byte's level is Float(b) / 255), then the rows into each target row, then divided by
/// xtotal[tx] * ytotal[ty]: every product, sum and quotient in the order and precision of the
/// scalar definition (no fused multiply-add), so the values are the same on every processor.
/// `scratch` holds at least height * tw * 3 + width * 3 + 1 + tw * 3 doubles.
void tutor_area_average(const uint8_t *px, int width, int height, int tw, int th,
                        const int32_t *xstart, const int32_t *xsource, const double *xweight, const double *xtotal,
                        const int32_t *ystart, const int32_t *ysource, const double *yweight, const double *ytotal,
                        double *scratch, float *out);

/// The block average of `px: [height, width, 3]` to `out: [height / ky, width / kx, 3]`: each
/// target pixel the sum of its kx x ky block (exact, in integers) times 1 / (255 kx ky) in double
/// precision, as a float. `columns` holds width * 3 32-bit integers.
void tutor_block_average(const uint8_t *px, int width, int height, int kx, int ky, void *columns, float *out);

/// The instruction set the image code runs with here (the kernels above, and the JPEG and PNG
/// decoders' vector loops): 0 baseline x86-64 (plain C), 1 AVX2, 2 AVX-512. The best the
/// processor has, unless tutor_image_kernels_use asked for less.
int tutor_image_level(void);

/// The same as a name: "AVX-512", "AVX2" or "baseline".
const char *tutor_image_kernels(void);

/// For tests: run the image code as `level` (0 baseline, 1 AVX2, 2 AVX-512; -1 or one the
/// processor lacks: the best it has) from now on; returns the level taken. Every level gives
/// the same values.
int tutor_image_kernels_use(int level);

#endif
