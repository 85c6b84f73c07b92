/// Rotary position embedding over three axes (time, row, column), for q and k packed in
/// `qkv: [N, 3C]` as `Attention` takes them: each head's HD channels are cut into three groups
/// of `split` = (dt, dy, dx) channels (even sizes, summing to HD); in group a, channel pair
/// (2i, 2i+1) is rotated by the angle `position_a · base^(-2i / d_a)`. Values (v) pass unchanged.
/// Attention scores then depend on relative positions along each axis.
public enum Rotary3D {
    /// - Parameters:
    ///   - out: `[N, 3C]`; inp: `[N, 3C]` (may not alias).
    ///   - positions: `[N, 3]` (time, row, column) per token.
    ///   - split: channels per axis in each head, each even, summing to C / heads.
    public static func forward(out: FloatPointer, inp: ConstFloatPointer, positions: ConstFloatPointer,
                               n N: Int, c C: Int, heads NH: Int, split: (Int, Int, Int), base: Float = 10_000) {
        rotate(out, inp, positions, N, C, NH, split, base, sign: 1, accumulate: false)
    }

    /// dinp `[N, 3C]` += the rotation's transpose applied to dout `[N, 3C]`.
    public static func backward(dinp: FloatPointer, dout: ConstFloatPointer, positions: ConstFloatPointer,
                                n N: Int, c C: Int, heads NH: Int, split: (Int, Int, Int), base: Float = 10_000) {
        rotate(dinp, dout, positions, N, C, NH, split, base, sign: -1, accumulate: true)
    }

    private static func rotate(_ out: FloatPointer, _ inp: ConstFloatPointer, _ positions: ConstFloatPointer,
                               _ N: Int, _ C: Int, _ NH: Int, _ split: (Int, Int, Int), _ base: Float,
                               sign: Float, accumulate: Bool) {
        let HD = C / NH
        let groups = [split.0, split.1, split.2]
        precondition(C % NH == 0 && groups.allSatisfy { $0 % 2 == 0 } && groups.reduce(0, +) == HD,
                     "Rotary3D: split \(split) must be three even sizes summing to the head width \(HD)")
        parallelFor(N, grain: 16) { rows in
            for r in rows {
                let src = inp + r * 3 * C, dst = out + r * 3 * C
                // q and k: rotate each head's groups
                for part in 0..<2 {
                    for h in 0..<NH {
                        var c0 = part * C + h * HD
                        for a in 0..<3 {
                            let d = groups[a], p = Double(positions[r * 3 + a])
                            for i in 0..<(d / 2) {
                                let theta = p * _exp(-_log(Double(base)) * Double(2 * i) / Double(d))
                                let cs = Float(_cos(theta)), sn = sign * Float(_sin(theta))
                                let x0 = src[c0 + 2 * i], x1 = src[c0 + 2 * i + 1]
                                let y0 = x0 * cs - x1 * sn, y1 = x0 * sn + x1 * cs
                                if accumulate { dst[c0 + 2 * i] += y0; dst[c0 + 2 * i + 1] += y1 } else { dst[c0 + 2 * i] = y0; dst[c0 + 2 * i + 1] = y1 }
                            }
                            c0 += d
                        }
                    }
                }
                // v unchanged
                for c in (2 * C)..<(3 * C) {
                    if accumulate { dst[c] += src[c] } else { dst[c] = src[c] }
                }
            }
        }
    }
}
