import Media

/// Area-averaging shrink of a solution frame to the working size, as `RGBImage.resizedFloat`
/// computes it (every source pixel weighted by the share of it inside the target pixel), done
/// as two separable passes with the spans computed once: the tracker shrinks every frame it
/// reads, and the direct form costs more than decoding the frame.
enum AreaShrink {
    /// `[th, tw, 3]`, floats in [0, 1]; falls back to `resizedFloat` when either side grows.
    static func shrink(_ image: RGBImage, width tw: Int, height th: Int) -> [Float] {
        let w = image.width, h = image.height
        if tw > w || th > h { return image.resizedFloat(width: tw, height: th) }
        let xs = spans(source: w, target: tw), ys = spans(source: h, target: th)
        // Rows first: every source row summed into the target columns.
        var rows = [Float](repeating: 0, count: h * tw * 3)
        image.pixels.withUnsafeBufferPointer { px in
            rows.withUnsafeMutableBufferPointer { r in
                xs.first.withUnsafeBufferPointer { first in
                    xs.weight.withUnsafeBufferPointer { wts in
                        for y in 0..<h {
                            let src = y * w * 3, dst = y * tw * 3
                            for tx in 0..<tw {
                                var a: Float = 0, b: Float = 0, c: Float = 0
                                var i = src + 3 * first[tx]
                                for j in (tx * xs.width)..<((tx + 1) * xs.width) {
                                    let wt = wts[j]
                                    if i + 2 < px.count {
                                        a += wt * Float(px[i]); b += wt * Float(px[i + 1]); c += wt * Float(px[i + 2])
                                    }
                                    i += 3
                                }
                                r[dst + 3 * tx] = a; r[dst + 3 * tx + 1] = b; r[dst + 3 * tx + 2] = c
                            }
                        }
                    }
                }
            }
        }
        let area = Float(w) / Float(tw) * Float(h) / Float(th) * 255
        var out = [Float](repeating: 0, count: th * tw * 3)
        let n = tw * 3
        rows.withUnsafeBufferPointer { r in
            out.withUnsafeMutableBufferPointer { o in
                for ty in 0..<th {
                    let dst = ty * n
                    for j in 0..<ys.width {
                        let y = ys.first[ty] + j, wt = ys.weight[ty * ys.width + j]
                        if wt == 0 || y >= h { continue }
                        let src = y * n
                        for i in 0..<n { o[dst + i] += wt * r[src + i] }
                    }
                    for i in 0..<n { o[dst + i] /= area }
                }
            }
        }
        return out
    }

    /// For each target pixel the first source pixel it covers, and the share of each of the
    /// next `width` source pixels inside it (zero past its end): one flat table, no arrays of
    /// arrays in the inner loop.
    static func spans(source n: Int, target t: Int) -> (first: [Int], weight: [Float], width: Int) {
        let s = Double(n) / Double(t)
        let width = Int(s.rounded(.up)) + 1
        var first = [Int](repeating: 0, count: t), weight = [Float](repeating: 0, count: t * width)
        for k in 0..<t {
            let a = Double(k) * s, b = a + s
            first[k] = Int(a)
            var i = Int(a)
            while Double(i) < b && i < n && i - first[k] < width {
                weight[k * width + i - first[k]] = Float(min(b, Double(i + 1)) - max(a, Double(i)))
                i += 1
            }
        }
        return (first, weight, width)
    }
}
