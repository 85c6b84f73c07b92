/// Resampling of float planes (colour frames, alpha masks): area averaging when shrinking,
/// bilinear with aligned pixel centres when enlarging, as `RGBImage.resizedFloat` does.
public enum Resample {
    /// - Parameters:
    ///   - values: `[height, width, channels]`.
    ///   - rect: the part of the source to resample, in source pixels (x, y, width, height),
    ///     whole pixels; nil for all of it.
    /// - Returns: `[th, tw, channels]`; the input itself when no resampling is needed.
    public static func plane(_ values: [Float], width: Int, height: Int, channels: Int,
                             rect: (x: Int, y: Int, width: Int, height: Int)? = nil, toWidth tw: Int, toHeight th: Int) -> [Float] {
        precondition(values.count == width * height * channels && tw > 0 && th > 0, "Resample.plane: bad sizes")
        let r = rect ?? (0, 0, width, height)
        precondition(r.x >= 0 && r.y >= 0 && r.width > 0 && r.height > 0 && r.x + r.width <= width && r.y + r.height <= height,
                     "Resample.plane: the rectangle leaves the source")
        if r.x == 0 && r.y == 0 && r.width == width && r.height == height && tw == width && th == height { return values }
        var out = [Float](repeating: 0, count: tw * th * channels)
        let C = channels
        if tw <= r.width && th <= r.height {
            // Each target column's source columns and their shares (`RGBImage.spans`), and the
            // same for rows, listed once; a target pixel then sums (column share x row share) x
            // value over them, row by row, in the order and with the values of the definition
            // (one channel, the layers' alpha planes and most of the calls, without the array of
            // sums).
            let xs = RGBImage.spans(source: r.width, target: tw), ys = RGBImage.spans(source: r.height, target: th)
            values.withUnsafeBufferPointer { v in
                out.withUnsafeMutableBufferPointer { o in
                    var acc = [Double](repeating: 0, count: C)
                    for ty in 0..<th {
                        for tx in 0..<tw {
                            var wsum = 0.0
                            let at = C * (ty * tw + tx)
                            if C == 1 {
                                var sum = 0.0
                                for j in ys.start[ty]..<ys.start[ty + 1] {
                                    let wy = ys.weight[j], row = (r.y + ys.source[j]) * width + r.x
                                    for i in xs.start[tx]..<xs.start[tx + 1] {
                                        let wgt = xs.weight[i] * wy
                                        sum += wgt * Double(v[row + xs.source[i]])
                                        wsum += wgt
                                    }
                                }
                                o[at] = Float(sum / wsum)
                            } else {
                                for c in 0..<C { acc[c] = 0 }
                                for j in ys.start[ty]..<ys.start[ty + 1] {
                                    let wy = ys.weight[j], row = (r.y + ys.source[j]) * width + r.x
                                    for i in xs.start[tx]..<xs.start[tx + 1] {
                                        let wgt = xs.weight[i] * wy, k = C * (row + xs.source[i])
                                        for c in 0..<C { acc[c] += wgt * Double(v[k + c]) }
                                        wsum += wgt
                                    }
                                }
                                for c in 0..<C { o[at + c] = Float(acc[c] / wsum) }
                            }
                        }
                    }
                }
            }
        } else {
            for ty in 0..<th {
                let fy = max(0, min(Double(r.height - 1), (Double(ty) + 0.5) * Double(r.height) / Double(th) - 0.5))
                let y0 = Int(fy), y1 = min(r.height - 1, y0 + 1), wy = Float(fy - Double(y0))
                for tx in 0..<tw {
                    let fx = max(0, min(Double(r.width - 1), (Double(tx) + 0.5) * Double(r.width) / Double(tw) - 0.5))
                    let x0 = Int(fx), x1 = min(r.width - 1, x0 + 1), wx = Float(fx - Double(x0))
                    for c in 0..<C {
                        func at(_ x: Int, _ y: Int) -> Float { values[C * ((r.y + y) * width + r.x + x) + c] }
                        out[C * (ty * tw + tx) + c] = (at(x0, y0) * (1 - wx) + at(x1, y0) * wx) * (1 - wy)
                            + (at(x0, y1) * (1 - wx) + at(x1, y1) * wx) * wy
                    }
                }
            }
        }
        return out
    }
}
