/// Ops for video token grids: patchify and unpatchify, factorised learned (time, row, column)
/// position embeddings, concatenation of token groups, and the frame/position transpose that
/// turns attention within frames into attention across frames (factorised space-time attention).
///
/// Token grids are `[B, F, S, C]`: F frames of S = (H/P)·(W/P) patches each, row-major patches.

/// Cutting frames into P×P patches and back. Video: `[B, F, H, W, Ch]` (channels last, as
/// `Media.Video`); tokens: `[B, F, (H/P)·(W/P), P·P·Ch]`, each token's values in (dy, dx, ch) order.
public enum Patchify {
    /// tokens ← video. H and W must be multiples of P.
    public static func forward(tokens out: FloatPointer, video inp: ConstFloatPointer,
                               b B: Int, frames F: Int, height H: Int, width W: Int, channels Ch: Int, patch P: Int) {
        precondition(H % P == 0 && W % P == 0, "Patchify: frame \(H)x\(W) is not a multiple of the patch size \(P)")
        walk(B, F, H, W, Ch, P) { tokenIndex, pixelIndex in out[tokenIndex] = inp[pixelIndex] }
    }

    /// dvideo += scatter of dtokens (the backward of `forward`).
    public static func backward(dvideo: FloatPointer, dtokens: ConstFloatPointer,
                                b B: Int, frames F: Int, height H: Int, width W: Int, channels Ch: Int, patch P: Int) {
        walk(B, F, H, W, Ch, P) { tokenIndex, pixelIndex in dvideo[pixelIndex] += dtokens[tokenIndex] }
    }

    /// video ← tokens (the inverse of `forward`).
    public static func unpatchify(video out: FloatPointer, tokens inp: ConstFloatPointer,
                                  b B: Int, frames F: Int, height H: Int, width W: Int, channels Ch: Int, patch P: Int) {
        walk(B, F, H, W, Ch, P) { tokenIndex, pixelIndex in out[pixelIndex] = inp[tokenIndex] }
    }

    /// dtokens += gather of dvideo (the backward of `unpatchify`).
    public static func unpatchifyBackward(dtokens: FloatPointer, dvideo: ConstFloatPointer,
                                          b B: Int, frames F: Int, height H: Int, width W: Int, channels Ch: Int, patch P: Int) {
        walk(B, F, H, W, Ch, P) { tokenIndex, pixelIndex in dtokens[tokenIndex] += dvideo[pixelIndex] }
    }

    /// Calls `body(tokenIndex, pixelIndex)` for every value, each index visited once.
    @inline(__always)
    private static func walk(_ B: Int, _ F: Int, _ H: Int, _ W: Int, _ Ch: Int, _ P: Int,
                             _ body: (Int, Int) -> Void) {
        let gw = W / P, gh = H / P, D = P * P * Ch
        for bf in 0..<(B * F) {
            for gy in 0..<gh {
                for gx in 0..<gw {
                    let token = (bf * gh * gw + gy * gw + gx) * D
                    for dy in 0..<P {
                        for dx in 0..<P {
                            let pixel = ((bf * H + gy * P + dy) * W + gx * P + dx) * Ch
                            let t = token + (dy * P + dx) * Ch
                            for ch in 0..<Ch { body(t + ch, pixel + ch) }
                        }
                    }
                }
            }
        }
    }
}

/// Learned position embeddings for (time, row, column), factorised as a sum of three tables:
/// `out[b, f, y·GW + x, :] += time[f, :] + row[y, :] + col[x, :]`.
public enum PositionEmbedding3D {
    /// out: `[B, F, GH·GW, C]`, added to; time: `[F, C]`; row: `[GH, C]`; col: `[GW, C]`.
    public static func forward(out: FloatPointer, time: ConstFloatPointer, row: ConstFloatPointer, col: ConstFloatPointer,
                               b B: Int, frames F: Int, rows GH: Int, cols GW: Int, c C: Int) {
        parallelFor(B * F, grain: 1) { range in
            for bf in range {
                let f = bf % F
                for y in 0..<GH {
                    for x in 0..<GW {
                        let o = out + ((bf * GH + y) * GW + x) * C
                        let tt = time + f * C, rr = row + y * C, cc = col + x * C
                        for c in 0..<C { o[c] += tt[c] + rr[c] + cc[c] }
                    }
                }
            }
        }
    }

    /// Adds the tables' gradients (any may be nil); dout: `[B, F, GH·GW, C]`.
    /// Sums run in a fixed order on one thread per table, so they do not depend on thread count.
    public static func backward(dtime: FloatPointer?, drow: FloatPointer?, dcol: FloatPointer?, dout: ConstFloatPointer,
                                b B: Int, frames F: Int, rows GH: Int, cols GW: Int, c C: Int) {
        for bf in 0..<(B * F) {
            let f = bf % F
            for y in 0..<GH {
                for x in 0..<GW {
                    let g = dout + ((bf * GH + y) * GW + x) * C
                    if let dtime { let d = dtime + f * C; for c in 0..<C { d[c] += g[c] } }
                    if let drow { let d = drow + y * C; for c in 0..<C { d[c] += g[c] } }
                    if let dcol { let d = dcol + x * C; for c in 0..<C { d[c] += g[c] } }
                }
            }
        }
    }
}

/// Concatenation of token groups along the token axis, per sequence:
/// `out[b] = [part0[b]; part1[b]; ...]`, part i `[B, T_i, C]`, out `[B, ΣT_i, C]`.
public enum Concat {
    /// parts: (pointer, tokens) for each group, in order.
    public static func forward(out: FloatPointer, parts: [(ConstFloatPointer, Int)], b B: Int, c C: Int) {
        let total = parts.reduce(0) { $0 + $1.1 }
        for b in 0..<B {
            var t0 = 0
            for (p, T) in parts {
                (out + (b * total + t0) * C).update(from: p + b * T * C, count: T * C)
                t0 += T
            }
        }
    }

    /// The backward (a split): dpart_i += the matching slice of dout; a nil part is skipped.
    public static func backward(dparts: [(FloatPointer?, Int)], dout: ConstFloatPointer, b B: Int, c C: Int) {
        let total = dparts.reduce(0) { $0 + $1.1 }
        for b in 0..<B {
            var t0 = 0
            for (p, T) in dparts {
                if let p {
                    let d = p + b * T * C, g = dout + (b * total + t0) * C
                    for i in 0..<(T * C) { d[i] += g[i] }
                }
                t0 += T
            }
        }
    }

    /// Split (the inverse of `forward`): part_i ← its slice of `inp`.
    public static func split(parts: [(FloatPointer, Int)], inp: ConstFloatPointer, b B: Int, c C: Int) {
        let total = parts.reduce(0) { $0 + $1.1 }
        for b in 0..<B {
            var t0 = 0
            for (p, T) in parts {
                (p + b * T * C).update(from: inp + (b * total + t0) * C, count: T * C)
                t0 += T
            }
        }
    }
}

/// Swaps the frame and position axes of a token grid: `out[b, s, f, :] = inp[b, f, s, :]`.
/// Attention over `[B·F, S]` sequences attends within frames; transposed, attention over
/// `[B·S, F]` attends across frames at each position: together, factorised space-time attention.
/// The op is its own backward with F and S exchanged.
public enum FrameTranspose {
    /// out: `[B, S, F, C]`; inp: `[B, F, S, C]`.
    public static func forward(out: FloatPointer, inp: ConstFloatPointer, b B: Int, frames F: Int, positions S: Int, c C: Int) {
        parallelFor(B * F, grain: 1) { range in
            for bf in range {
                let b = bf / F, f = bf % F
                for s in 0..<S {
                    (out + ((b * S + s) * F + f) * C).update(from: inp + ((b * F + f) * S + s) * C, count: C)
                }
            }
        }
    }

    /// dinp `[B, F, S, C]` += transpose of dout `[B, S, F, C]`.
    public static func backward(dinp: FloatPointer, dout: ConstFloatPointer, b B: Int, frames F: Int, positions S: Int, c C: Int) {
        parallelFor(B * F, grain: 1) { range in
            for bf in range {
                let b = bf / F, f = bf % F
                for s in 0..<S {
                    let d = dinp + ((b * F + f) * S + s) * C, g = dout + ((b * S + s) * F + f) * C
                    for c in 0..<C { d[c] += g[c] }
                }
            }
        }
    }
}

/// Attention across frames at each position (the temporal half of factorised space-time
/// attention): transposes q, k, v to `[B, S, F, 3C]`, attends over F, transposes the result back.
/// The spatial half is plain `Attention` on `[B·F, S]` sequences.
public enum TemporalAttention {
    /// - Parameters:
    ///   - out: `[B, F, S, C]`.
    ///   - qkvT: `[B, S, F, 3C]`, outT: `[B, S, F, C]`, att: `[B·S, NH, F, F]`: kept for backward.
    ///   - qkv: `[B, F, S, 3C]`.
    public static func forward(out: FloatPointer, qkvT: FloatPointer, outT: FloatPointer, att: FloatPointer,
                               qkv: ConstFloatPointer, b B: Int, frames F: Int, positions S: Int, c C: Int, heads NH: Int) {
        FrameTranspose.forward(out: qkvT, inp: qkv, b: B, frames: F, positions: S, c: 3 * C)
        Attention.forward(out: outT, att: att, qkv: qkvT, keyValid: nil, b: B * S, t: F, c: C, heads: NH)
        FrameTranspose.forward(out: out, inp: outT, b: B, frames: S, positions: F, c: C)
    }

    /// dqkv `[B, F, S, 3C]` += gradient. Scratch: doutT `[B, S, F, C]`, dqkvT `[B, S, F, 3C]`,
    /// datt `[B·S, NH, F, F]`, all overwritten.
    public static func backward(dqkv: FloatPointer, doutT: FloatPointer, dqkvT: FloatPointer, datt: FloatPointer,
                                dout: ConstFloatPointer, qkvT: ConstFloatPointer, att: ConstFloatPointer,
                                b B: Int, frames F: Int, positions S: Int, c C: Int, heads NH: Int) {
        FrameTranspose.forward(out: doutT, inp: dout, b: B, frames: F, positions: S, c: C)
        dqkvT.update(repeating: 0, count: B * S * F * 3 * C)
        Attention.backward(dqkv: dqkvT, scratch: datt, dout: doutT, qkv: qkvT, att: att, b: B * S, t: F, c: C, heads: NH)
        FrameTranspose.backward(dinp: dqkv, dout: dqkvT, b: B, frames: F, positions: S, c: 3 * C)
    }
}
