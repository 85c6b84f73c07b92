import CImage

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
        if tw == width && th == height { return RGBImage.unitFloats(pixels) }
        var out = [Float](repeating: 0, count: tw * th * 3)
        if tw <= width && th <= height {
            areaAverage(width: tw, height: th, into: &out)
        } else {
            let src = RGBImage.unitFloats(pixels)
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

    /// `Float(b) / 255` for every byte value.
    static let unit: [Float] = (0..<256).map { Float($0) / 255 }

    /// Bytes to floats in [0, 1], the same values as `Float(b) / 255`, by table.
    public static func unitFloats(_ bytes: [UInt8]) -> [Float] {
        [Float](unsafeUninitializedCapacity: bytes.count) { out, count in
            unit.withUnsafeBufferPointer { t in
                bytes.withUnsafeBufferPointer { b in
                    for i in 0..<b.count { out[i] = t[Int(b[i])] }
                }
            }
            count = bytes.count
        }
    }

    /// The instruction set the image code (the area and block averages, the JPEG and PNG
    /// decoders' vector loops) runs with here: "AVX-512", "AVX2" or "baseline".
    public static var imageKernels: String { String(cString: tutor_image_kernels()) }

    /// Area averaging to `tw x th` (neither larger than the image): each target pixel the
    /// coverage-weighted mean of the source pixels under it, in double precision. Separable:
    /// each source row is summed into the target columns once, then the rows into the target
    /// rows, which gives the two-dimensional weights (x share times y share) without visiting
    /// every source pixel for every target pixel it touches. The loops are C's
    /// (`tutor_area_average`, vectorised for the processor, the same values everywhere).
    private func areaAverage(width tw: Int, height th: Int, into out: inout [Float]) {
        if width % tw == 0 && height % th == 0 { return blockAverage(kx: width / tw, ky: height / th, into: &out) }
        let xs = RGBImage.spans(source: width, target: tw), ys = RGBImage.spans(source: height, target: th)
        let xstart = xs.start.map { Int32($0) }, xsource = xs.source.map { Int32($0) }
        let ystart = ys.start.map { Int32($0) }, ysource = ys.source.map { Int32($0) }
        // (written by the kernel before it is read: not zeroed)
        let scratch = UnsafeMutablePointer<Double>.allocate(capacity: height * tw * 3 + width * 3 + 1 + tw * 3)
        defer { scratch.deallocate() }
        pixels.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { o in
                tutor_area_average(px.baseAddress, Int32(width), Int32(height), Int32(tw), Int32(th),
                                   xstart, xsource, xs.weight, xs.total, ystart, ysource, ys.weight, ys.total,
                                   scratch, o.baseAddress)
            }
        }
    }

    /// Area averaging by a whole factor on each side (512 to 64, 384 to 96): every target pixel
    /// the mean of a `kx x ky` block, summed exactly in integers: first the block's `ky` rows
    /// into one row of column sums (16-bit sums while `ky` rows of 255 fit), then `kx` columns
    /// of that row for each target pixel. The loops are C's (`tutor_block_average`, vectorised
    /// for the processor).
    private func blockAverage(kx: Int, ky: Int, into out: inout [Float]) {
        let columns = UnsafeMutableRawPointer.allocate(byteCount: max(1, width * 3 * 4), alignment: 64)
        defer { columns.deallocate() }
        pixels.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { o in
                tutor_block_average(px.baseAddress, Int32(width), Int32(height), Int32(kx), Int32(ky), columns, o.baseAddress)
            }
        }
    }

    /// For each target pixel the source pixels it covers with their shares, in order, the zero
    /// shares left out (target k's are `start[k] ..< start[k + 1]` of `source` and `weight`), and
    /// the sum of its shares.
    static func spans(source n: Int, target t: Int) -> (start: [Int], source: [Int], weight: [Double], total: [Double]) {
        let s = Double(n) / Double(t)
        let width = Int(s.rounded(.up)) + 1
        var start = [Int](repeating: 0, count: t + 1), source: [Int] = [], weight: [Double] = []
        var total = [Double](repeating: 0, count: t)
        for k in 0..<t {
            let a = Double(k) * s, b = a + s
            var i = Int(a)
            while Double(i) < b && i < n && i - Int(a) < width {
                let w = min(b, Double(i + 1)) - max(a, Double(i))
                if w != 0 { source.append(i); weight.append(w); total[k] += w }
                i += 1
            }
            start[k + 1] = source.count
        }
        return (start, source, weight, total)
    }
}
