// Hand-written kernels for the engine's short products and elementwise ops, where OpenBLAS's
// fixed cost per call or scalar Swift loops would dominate: attention over one (sequence, head)
// and GELU. Compiled twice (AVX2 + FMA, and baseline x86-64), chosen once at run time.
// Shapes are written beside every pointer; every buffer is row-major Float.
#ifndef TUTOR_CKERNELS_H
#define TUTOR_CKERNELS_H

#include <stdbool.h>

/// Attention forward for one (sequence, head), query rows [i0, i0 + rows):
///   att[i, :] = softmax(scale · q_i · Kᵀ over valid keys), out_i = att[i, :] · V.
/// q, k, v: [T, HD] with row stride ld (columns of the packed qkv). valid: [T] or NULL (all).
/// att: [rows, T] (stride T), the probabilities of rows i0..; out: [rows, HD], stride ldo, the
/// output of row i0 first. A row with no valid key gets zero probabilities and a zero output.
void tutor_attention_forward(const float *q, const float *k, const float *v, long ld,
                             const bool *valid, long T, long HD, float scale, long i0, long rows,
                             float *att, float *out, long ldo);

/// Attention backward for one (sequence, head): adds the gradients of the forward into dq, dk,
/// dv ([T, HD], stride ld), or writes them when accumulate is 0. att: [T, T] from the forward;
/// dout: [T, HD], stride ldo.
void tutor_attention_backward(const float *q, const float *k, const float *v, long ld,
                              const float *att, const float *dout, long ldo, long T, long HD,
                              float scale, float *dq, float *dk, float *dv, int accumulate);

/// Softmax of each row of m ([rows, cols], contiguous) in place, over the columns where valid
/// ([cols], NULL = all) is true; masked columns become 0, a row with no valid column all 0.
void tutor_softmax_rows(float *m, long rows, long cols, const bool *valid);

/// out[i] = gelu(inp[i]) (tanh form), i < n.
void tutor_gelu_forward(float *out, const float *inp, long n);
/// dinp[i] += gelu'(inp[i]) · dout[i], i < n.
void tutor_gelu_backward(float *dinp, const float *dout, const float *inp, long n);

/// out[i] = gelu(x), and inp_grad[i] = gelu'(x) in place of x = inp_grad[i], i < n: the forward
/// of a pass whose backward needs only the derivative.
void tutor_gelu_forward_keeping_gradient(float *out, float *inp_grad, long n);

/// The kernels' version in use: 0 baseline x86-64, 1 AVX2 + FMA, 2 AVX-512 (chosen at start:
/// the best the processor has, or less where TUTOR_KERNELS=baseline|avx2 asks).
int tutor_kernels_level(void);
/// The best version this processor can run.
int tutor_kernels_best_level(void);
/// Uses `level` (clamped to what the processor has) from now on; returns the level before.
/// For tests and measurements: every version must give the same results to rounding.
int tutor_kernels_set_level(int level);

#endif
