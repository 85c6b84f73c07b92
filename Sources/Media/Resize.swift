extension RGBImage {
    /// Resamples to `width x height`. Shrinking averages every source pixel that
    /// falls into a target pixel (area averaging, with fractional coverage at the
    /// edges), so thin features fade in proportion instead of vanishing or aliasing;
    /// enlarging is bilinear.
    public func resized(width tw: Int, height th: Int) -> RGBImage {
        precondition(tw > 0 && th > 0)
        if tw == width && th == height { return self }
        let f = resizedFloat(width: tw, height: th)
        var out = [UInt8](repeating: 0, count: tw * th * 3)
        for i in 0..<out.count { out[i] = UInt8(max(0, min(255, (f[i] * 255).rounded()))) }
        return RGBImage(width: tw, height: th, pixels: out)
    }

    /// As `resized`, but returns floats in [0, 1], `[th, tw, 3]`, without rounding to 8 bits.
    public func resizedFloat(width tw: Int, height th: Int) -> [Float] {
        var out = [Float](repeating: 0, count: tw * th * 3)
        let src = pixels.map { Float($0) / 255 }
        if tw <= width && th <= height {
            let sx = Double(width) / Double(tw), sy = Double(height) / Double(th)
            for ty in 0..<th {
                let y0 = Double(ty) * sy, y1 = y0 + sy
                for tx in 0..<tw {
                    let x0 = Double(tx) * sx, x1 = x0 + sx
                    var acc: (Double, Double, Double) = (0, 0, 0)
                    var wsum = 0.0
                    var y = Int(y0)
                    while Double(y) < y1 && y < height {
                        let wy = min(y1, Double(y + 1)) - max(y0, Double(y))
                        var x = Int(x0)
                        while Double(x) < x1 && x < width {
                            let wx = min(x1, Double(x + 1)) - max(x0, Double(x))
                            let w = wx * wy
                            let i = 3 * (y * width + x)
                            acc.0 += w * Double(src[i]); acc.1 += w * Double(src[i + 1]); acc.2 += w * Double(src[i + 2])
                            wsum += w
                            x += 1
                        }
                        y += 1
                    }
                    let o = 3 * (ty * tw + tx)
                    out[o] = Float(acc.0 / wsum); out[o + 1] = Float(acc.1 / wsum); out[o + 2] = Float(acc.2 / wsum)
                }
            }
        } else {
            // Bilinear with pixel centres aligned.
            for ty in 0..<th {
                let fy = max(0, min(Double(height - 1), (Double(ty) + 0.5) * Double(height) / Double(th) - 0.5))
                let y0 = Int(fy), y1 = min(height - 1, y0 + 1), wy = Float(fy - Double(y0))
                for tx in 0..<tw {
                    let fx = max(0, min(Double(width - 1), (Double(tx) + 0.5) * Double(width) / Double(tw) - 0.5))
                    let x0 = Int(fx), x1 = min(width - 1, x0 + 1), wx = Float(fx - Double(x0))
                    for c in 0..<3 {
                        let a = src[3 * (y0 * width + x0) + c], b = src[3 * (y0 * width + x1) + c]
                        let d = src[3 * (y1 * width + x0) + c], e = src[3 * (y1 * width + x1) + c]
                        out[3 * (ty * tw + tx) + c] = (a * (1 - wx) + b * wx) * (1 - wy) + (d * (1 - wx) + e * wx) * wy
                    }
                }
            }
        }
        return out
    }
}
