// The kernels' bodies at one vector width, included by kernels.c once per width: W floats a
// vector (8 for AVX2 and baseline x86-64, 16 for AVX-512), every name suffixed by SFX so that
// the widths live side by side. Keys, values and queries are padded to whole vectors of W.
// (No include guard: this file is meant to be included more than once.)

typedef float SFX(vf) __attribute__((vector_size(4 * W)));
typedef float SFX(vfu) __attribute__((vector_size(4 * W), aligned(4)));
typedef int32_t SFX(vi) __attribute__((vector_size(4 * W)));
#define vf SFX(vf)
#define vfu SFX(vfu)
#define vi SFX(vi)
#define load SFX(load)
#define store SFX(store)
#define splat SFX(splat)
#define hsum SFX(hsum)
#define hmax SFX(hmax)
#define vexp SFX(vexp)
#define put SFX(put)
#define four_rows SFX(four_rows)
#define rows_times_columns SFX(rows_times_columns)
#define weighted_rows SFX(weighted_rows)
#define copy_padded SFX(copy_padded)
#define copy_transposed SFX(copy_transposed)
#define softmax_rows_body SFX(softmax_rows_body)
#define attention_forward_body SFX(attention_forward_body)
#define attention_backward_body SFX(attention_backward_body)
#define gelu_tanh SFX(gelu_tanh)
#define gelu_of_tanh SFX(gelu_of_tanh)
#define gelu_grad_of_tanh SFX(gelu_grad_of_tanh)
#define gelu_v SFX(gelu_v)
#define gelu_grad_v SFX(gelu_grad_v)
#define gelu_both SFX(gelu_both)
#define gelu_keep_body SFX(gelu_keep_body)
#define gelu_forward_body SFX(gelu_forward_body)
#define gelu_backward_body SFX(gelu_backward_body)

INLINE vf load(const float *p) { return *(const vfu *)p; }
INLINE void store(float *p, vf x) { *(vfu *)p = x; }
INLINE vf splat(float x) { vf z = {0}; return z + x; }
// Sums pairs, then pairs of pairs: the same order at every width for the first 8 lanes.
INLINE float hsum(vf x) {
    float t[W];
    store(t, x);
    for (int w = W / 2; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) t[i] = t[2 * i] + t[2 * i + 1];
    return t[0];
}
INLINE float hmax(vf x) {
    float m = x[0];
    for (int i = 1; i < W; i++) m = x[i] > m ? x[i] : m;
    return m;
}

// exp(x): Cephes' expf as in the engine's FastMath.swift (relative error under 1e-7 where exp
// is a normal float), 0 below -87.34 and for -inf, inputs above 88.38 clamped there.
INLINE vf vexp(vf x) {
    const vf lo = splat(-87.33654f), hi = splat(88.37626f);
    vf xc = __builtin_elementwise_min(__builtin_elementwise_max(x, lo), hi);
    vf t = xc * 1.442695040888963f + 12582912.0f;  // n + 1.5·2^23: n in the low mantissa bits
    vf n = t - 12582912.0f;
    vf r = xc - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    vf p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    vi bits = ((vi)t - 0x4B400000 + 127) << 23;  // 2^n
    vf e = p * (vf)bits;
    vi keep = x >= lo;
    return (vf)((vi)e & keep);
}

// ---- the two products ----

// Writes the first `cols` (at most W) lanes of `a`, times alpha, to dst (adding if accumulate).
INLINE void put(float *dst, vf a, long cols, float alpha, int accumulate) {
    if (cols == W) {
        store(dst, accumulate ? load(dst) + alpha * a : alpha * a);
        return;
    }
    float tmp[W];
    store(tmp, a);
    if (accumulate) { for (long l = 0; l < cols; l++) dst[l] += alpha * tmp[l]; }
    else { for (long l = 0; l < cols; l++) dst[l] = alpha * tmp[l]; }
}

// Rows r0 ..< r0 + 4 of m (row stride ld); those from nr on repeat row r0 + nr - 1, so a
// block of 4 rows can always be computed (and only the first nr stored).
INLINE void four_rows(const float *m, long ld, long r0, long nr, const float *p[4]) {
    for (long r = 0; r < 4; r++) p[r] = m + (r0 + min_l(r, nr - 1)) * ld;
}

// s[r, j] = Σ_d x[r, d] · yt[d, j] for r < nrows, j < tp.
// x: [nrows, hdp] contiguous; yt: [hdp, tp]; s: [nrows, tp]. hdp and tp are multiples of W.
INLINE void rows_times_columns(long nrows, const float *x, long hdp, const float *yt, long tp, float *s) {
    for (long r0 = 0; r0 < nrows; r0 += 4) {
        long nr = min_l(4, nrows - r0);
        const float *xr[4];
        four_rows(x, hdp, r0, nr, xr);
        const float *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3];
        long jb = 0;
        for (; jb + 2 * W <= tp; jb += 2 * W) {
            vf a0 = splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            for (long d = 0; d < hdp; d++) {
                vf y = load(yt + d * tp + jb), z = load(yt + d * tp + jb + W);
                a0 += x0[d] * y; a1 += x1[d] * y; a2 += x2[d] * y; a3 += x3[d] * y;
                b0 += x0[d] * z; b1 += x1[d] * z; b2 += x2[d] * z; b3 += x3[d] * z;
            }
            store(s + r0 * tp + jb, a0); store(s + r0 * tp + jb + W, b0);
            if (nr > 1) { store(s + (r0 + 1) * tp + jb, a1); store(s + (r0 + 1) * tp + jb + W, b1); }
            if (nr > 2) { store(s + (r0 + 2) * tp + jb, a2); store(s + (r0 + 2) * tp + jb + W, b2); }
            if (nr > 3) { store(s + (r0 + 3) * tp + jb, a3); store(s + (r0 + 3) * tp + jb + W, b3); }
        }
        for (; jb < tp; jb += W) {
            vf a0 = splat(0), a1 = a0, a2 = a0, a3 = a0;
            for (long d = 0; d < hdp; d++) {
                vf y = load(yt + d * tp + jb);
                a0 += x0[d] * y; a1 += x1[d] * y; a2 += x2[d] * y; a3 += x3[d] * y;
            }
            store(s + r0 * tp + jb, a0);
            if (nr > 1) store(s + (r0 + 1) * tp + jb, a1);
            if (nr > 2) store(s + (r0 + 2) * tp + jb, a2);
            if (nr > 3) store(s + (r0 + 3) * tp + jb, a3);
        }
    }
}

// o[r, d] (+)= alpha · Σ_n w(r, n) · y[n, d] for r < nrows, d < hd, n < nsum,
// where w(r, n) = w[r·wrs + n·wcs] (so a transposed w is just other strides).
// y: [nsum, hdp], row stride ldy, hdp a multiple of W; o: [nrows, hd], row stride ldo.
INLINE void weighted_rows(long nrows, long hdp, long hd, long nsum, const float *w, long wrs, long wcs,
                          const float *y, long ldy, float alpha, float *o, long ldo, int accumulate) {
    for (long r0 = 0; r0 < nrows; r0 += 4) {
        long nr = min_l(4, nrows - r0);
        const float *wr[4];
        four_rows(w, wrs, r0, nr, wr);
        const float *w0 = wr[0], *w1 = wr[1], *w2 = wr[2], *w3 = wr[3];
        float *o0 = o + r0 * ldo;
        long dc = 0;
        for (; dc + 2 * W <= hdp; dc += 2 * W) {
            vf a00 = splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            for (long n = 0; n < nsum; n++) {
                const float *yr = y + n * ldy + dc;
                vf y0 = load(yr), y1 = load(yr + W);
                float c0 = w0[n * wcs], c1 = w1[n * wcs], c2 = w2[n * wcs], c3 = w3[n * wcs];
                a00 += c0 * y0; a01 += c0 * y1;
                a10 += c1 * y0; a11 += c1 * y1;
                a20 += c2 * y0; a21 += c2 * y1;
                a30 += c3 * y0; a31 += c3 * y1;
            }
            long c_lo = min_l(W, hd - dc), c_hi = min_l(W, hd - dc - W);
            vf a[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
            for (long r = 0; r < nr; r++) {
                if (c_lo > 0) put(o0 + r * ldo + dc, a[r][0], c_lo, alpha, accumulate);
                if (c_hi > 0) put(o0 + r * ldo + dc + W, a[r][1], c_hi, alpha, accumulate);
            }
        }
        for (; dc < hdp; dc += W) {
            vf a0 = splat(0), a1 = a0, a2 = a0, a3 = a0;
            for (long n = 0; n < nsum; n++) {
                vf y0 = load(y + n * ldy + dc);
                a0 += w0[n * wcs] * y0; a1 += w1[n * wcs] * y0; a2 += w2[n * wcs] * y0; a3 += w3[n * wcs] * y0;
            }
            long c = min_l(W, hd - dc);
            vf a[4] = {a0, a1, a2, a3};
            for (long r = 0; r < nr && c > 0; r++) put(o0 + r * ldo + dc, a[r], c, alpha, accumulate);
        }
    }
}

// Copies the [rows, cols] block at src (row stride ld) into dst ([rows_p, cols_p], contiguous),
// times alpha, zero-padded.
INLINE void copy_padded(float *dst, long rows_p, long cols_p, const float *src, long rows, long cols, long ld, float alpha) {
    if (cols == cols_p) {   // whole vectors a row: only the padding rows are zeroed
        for (long i = 0; i < rows; i++)
            for (long d = 0; d < cols; d += W) store(dst + i * cols_p + d, alpha * load(src + i * ld + d));
        memset(dst + rows * cols_p, 0, sizeof(float) * (size_t)((rows_p - rows) * cols_p));
        return;
    }
    memset(dst, 0, sizeof(float) * (size_t)(rows_p * cols_p));
    for (long i = 0; i < rows; i++)
        for (long d = 0; d < cols; d++) dst[i * cols_p + d] = alpha * src[i * ld + d];
}

// dst[d, j] = src[j, d]: [cols_p, rows_p] from the [rows, cols] block at src, zero-padded.
INLINE void copy_transposed(float *dst, long rows_p, long cols_p, const float *src, long rows, long cols, long ld) {
    if (rows != rows_p || cols != cols_p) memset(dst, 0, sizeof(float) * (size_t)(rows_p * cols_p));
    // W rows at a time, each of their columns written as one vector
    long j = 0;
    for (; j + W <= rows; j += W)
        for (long d = 0; d < cols; d++) {
            vf col;
            for (int l = 0; l < W; l++) col[l] = src[(j + l) * ld + d];
            store(dst + d * rows_p + j, col);
        }
    for (; j < rows; j++)
        for (long d = 0; d < cols; d++) dst[d * rows_p + j] = src[j * ld + d];
}

// ---- softmax over rows (both attention paths) ----

INLINE int softmax_rows_body(float *m, long rows, long cols, const bool *valid) {
    long full = cols & ~(long)(W - 1);
    for (long i = 0; i < rows; i++) {
        float *row = m + i * cols;
        if (valid) { for (long j = 0; j < cols; j++) row[j] = valid[j] ? row[j] : -INFINITY; }
        vf mv = splat(-INFINITY);
        for (long j = 0; j < full; j += W) mv = __builtin_elementwise_max(mv, load(row + j));
        float mx = hmax(mv);
        for (long j = full; j < cols; j++) mx = row[j] > mx ? row[j] : mx;
        if (mx == -INFINITY) { memset(row, 0, sizeof(float) * (size_t)cols); continue; }
        vf sum = splat(0);
        for (long j = 0; j < full; j += W) {
            vf e = vexp(load(row + j) - mx);
            store(row + j, e);
            sum += e;
        }
        float total = hsum(sum);
        if (full < cols) {
            float t[W];
            for (long l = 0; l < W; l++) t[l] = full + l < cols ? row[full + l] - mx : -INFINITY;
            store(t, vexp(load(t)));
            for (long l = 0; full + l < cols; l++) { row[full + l] = t[l]; total += t[l]; }
        }
        float inv = 1.0f / total;
        for (long j = 0; j < cols; j++) row[j] *= inv;
    }
    return 0;
}

// ---- attention ----

INLINE int attention_forward_body(const float *q, const float *k, const float *v, long ld, const bool *valid,
                                  long T, long HD, float scale, long i0, long rows, float *att, float *out, long ldo) {
    long HDp = (HD + W - 1) & ~(long)(W - 1), Tp = (T + W - 1) & ~(long)(W - 1);
    float *kt = scratch((size_t)(2 * HDp * Tp + Tp + rows * HDp + rows * Tp));
    if (kt == NULL) return -1;
    float *vp = kt + HDp * Tp, *neg = vp + Tp * HDp, *qp = neg + Tp, *s = qp + rows * HDp;
    copy_transposed(kt, Tp, HDp, k, T, HD, ld);
    copy_padded(vp, Tp, HDp, v, T, HD, ld, 1);
    copy_padded(qp, rows, HDp, q + i0 * ld, rows, HD, ld, scale);
    for (long j = 0; j < Tp; j++) neg[j] = (j < T && (valid == NULL || valid[j])) ? 0.0f : -INFINITY;

    // Without padding columns the probabilities are computed where they are kept.
    if (T == Tp) s = att;
    rows_times_columns(rows, qp, HDp, kt, Tp, s);
    if (valid != NULL || T != Tp)
        for (long i = 0; i < rows; i++)
            for (long jb = 0; jb < Tp; jb += W) store(s + i * Tp + jb, load(s + i * Tp + jb) + load(neg + jb));
    softmax_rows_body(s, rows, Tp, NULL);
    if (s != att) for (long i = 0; i < rows; i++) memcpy(att + i * T, s + i * Tp, sizeof(float) * (size_t)T);
    weighted_rows(rows, HDp, HD, T, s, Tp, 1, vp, HDp, 1.0f, out, ldo, 0);
    return 0;
}

INLINE int attention_backward_body(const float *q, const float *k, const float *v, long ld, const float *att,
                                   const float *dout, long ldo, long T, long HD, float scale,
                                   float *dq, float *dk, float *dv, int accumulate) {
    long HDp = (HD + W - 1) & ~(long)(W - 1), Tp = (T + W - 1) & ~(long)(W - 1);
    float *qp = scratch((size_t)(4 * Tp * HDp + T * Tp));
    if (qp == NULL) return -1;
    float *kp = qp + Tp * HDp, *vt = kp + Tp * HDp, *dop = vt + HDp * Tp, *ds = dop + Tp * HDp;
    copy_padded(qp, Tp, HDp, q, T, HD, ld, 1);
    copy_padded(kp, Tp, HDp, k, T, HD, ld, 1);
    copy_transposed(vt, Tp, HDp, v, T, HD, ld);
    copy_padded(dop, Tp, HDp, dout, T, HD, ldo, 1);
    // dP = dO · Vᵀ
    rows_times_columns(T, dop, HDp, vt, Tp, ds);
    // dS = P ⊙ (dP - rowsum(P ⊙ dP)); the padding columns become 0
    for (long i = 0; i < T; i++) {
        const float *p = att + i * T;
        float *d = ds + i * Tp;
        vf acc = splat(0);
        long j = 0;
        for (; j + W <= T; j += W) acc += load(p + j) * load(d + j);
        float dot = hsum(acc);
        for (; j < T; j++) dot += p[j] * d[j];
        for (j = 0; j + W <= T; j += W) store(d + j, load(p + j) * (load(d + j) - dot));
        for (; j < T; j++) d[j] = p[j] * (d[j] - dot);
        for (; j < Tp; j++) d[j] = 0;
    }
    // dQ (+)= scale · dS · K ; dK (+)= scale · dSᵀ · Q ; dV (+)= Pᵀ · dO
    weighted_rows(T, HDp, HD, T, ds, Tp, 1, kp, HDp, scale, dq, ld, accumulate);
    weighted_rows(T, HDp, HD, T, ds, 1, Tp, qp, HDp, scale, dk, ld, accumulate);
    weighted_rows(T, HDp, HD, T, att, 1, T, dop, HDp, 1.0f, dv, ld, accumulate);
    return 0;
}

// ---- GELU (tanh form) ----

#ifndef GELU_K
#define GELU_K 0.7978845608028654f  // sqrt(2/π)
#endif

// tanh(k (x + 0.044715 x³)), from one exp.
INLINE vf gelu_tanh(vf x) { return 1.0f - 2.0f / (vexp(2.0f * GELU_K * (x + 0.044715f * x * x * x)) + 1.0f); }
INLINE vf gelu_of_tanh(vf x, vf th) { return 0.5f * x * (1.0f + th); }
INLINE vf gelu_grad_of_tanh(vf x, vf th) {
    return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * GELU_K * (1.0f + 0.134145f * x * x);
}
INLINE vf gelu_v(vf x) { return gelu_of_tanh(x, gelu_tanh(x)); }
INLINE vf gelu_grad_v(vf x) { return gelu_grad_of_tanh(x, gelu_tanh(x)); }

// gelu(x) into *out and gelu'(x) into *grad from one exp.
INLINE void gelu_both(vf x, vf *out, vf *grad) {
    vf th = gelu_tanh(x);
    *out = gelu_of_tanh(x, th);
    *grad = gelu_grad_of_tanh(x, th);
}

INLINE void gelu_keep_body(float *out, float *inp_grad, long n) {
    long i = 0;
    vf o, g;
    for (; i + W <= n; i += W) {
        gelu_both(load(inp_grad + i), &o, &g);
        store(out + i, o);
        store(inp_grad + i, g);
    }
    if (i < n) {
        float t[W] = {0}, to[W], tg[W];
        memcpy(t, inp_grad + i, sizeof(float) * (size_t)(n - i));
        gelu_both(load(t), &o, &g);
        store(to, o); store(tg, g);
        memcpy(out + i, to, sizeof(float) * (size_t)(n - i));
        memcpy(inp_grad + i, tg, sizeof(float) * (size_t)(n - i));
    }
}

INLINE void gelu_forward_body(float *out, const float *inp, long n) {
    long i = 0;
    for (; i + W <= n; i += W) store(out + i, gelu_v(load(inp + i)));
    if (i < n) {
        float t[W] = {0};
        memcpy(t, inp + i, sizeof(float) * (size_t)(n - i));
        store(t, gelu_v(load(t)));
        memcpy(out + i, t, sizeof(float) * (size_t)(n - i));
    }
}

INLINE void gelu_backward_body(float *dinp, const float *dout, const float *inp, long n) {
    long i = 0;
    for (; i + W <= n; i += W) store(dinp + i, load(dinp + i) + gelu_grad_v(load(inp + i)) * load(dout + i));
    if (i < n) {
        float t[W] = {0};
        memcpy(t, inp + i, sizeof(float) * (size_t)(n - i));
        store(t, gelu_grad_v(load(t)));
        for (long l = 0; l < n - i; l++) dinp[i + l] += t[l] * dout[i + l];
    }
}


#undef vf
#undef vfu
#undef vi
#undef load
#undef store
#undef splat
#undef hsum
#undef hmax
#undef vexp
#undef put
#undef four_rows
#undef rows_times_columns
#undef weighted_rows
#undef copy_padded
#undef copy_transposed
#undef softmax_rows_body
#undef attention_forward_body
#undef attention_backward_body
#undef gelu_tanh
#undef gelu_of_tanh
#undef gelu_grad_of_tanh
#undef gelu_v
#undef gelu_grad_v
#undef gelu_both
#undef gelu_keep_body
#undef gelu_forward_body
#undef gelu_backward_body
