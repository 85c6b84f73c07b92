import Media

/// A first frame resampled to the size the Teacher judges at (area averaging), floats in [0, 1].
struct NativeFrame {
    /// `[size, size, 3]`
    var pixels: [Float]
    var size: Int

    init(image: RGBImage, size: Int) {
        self.size = size
        pixels = image.resizedFloat(width: size, height: size)
    }
}

/// Colour masks: soft (differentiable in the pixels) for the scores, hard (thresholded)
/// for the judge.
///
/// Soft membership of a pixel p (RGB in [0, 1]) in an object of colour c and tolerance T,
/// with `d = |255 p - c|` (Euclidean, 0-255 units): 1 for `d <= T - w`, 0 for `d >= T + w`,
/// and the smoothstep `3u^2 - 2u^3`, `u = (T + w - d) / 2w`, between. It is 0.5 exactly on the
/// hard mask's boundary `d = T`, so soft and hard masks agree on every pixel outside the band.
/// The band is wide (`w` = 60 for the default tolerance), so that the anti-aliased rim of an
/// object, where a renderer's gradient lives, carries gradient; and it ends, so that the
/// background adds no stray mass to areas, centroids and spreads.
enum ColorMask {
    /// Half-width of the soft band, in 0-255 colour units, for a tolerance `t`.
    static func band(_ t: Float) -> Float { max(4, min(60, t)) }

    /// Soft membership and its derivative factor.
    ///
    /// - Parameters:
    ///   - mask: out, `[n]`, membership in [0, 1].
    ///   - dmask: out, `[n, 3]`, d mask / d pixel, or nil.
    ///   - pixels: `[n, 3]` in [0, 1].
    static func soft(mask: UnsafeMutablePointer<Float>, dmask: UnsafeMutablePointer<Float>?,
                     pixels: UnsafePointer<Float>, count n: Int, color: SIMD3<Float>, tolerance: Float) {
        let w = band(tolerance)
        let lo = max(tolerance - w, 0), hi = tolerance + w
        let lo2 = lo * lo, hi2 = hi * hi
        let inv2w = 1 / (2 * w)
        for i in 0..<n {
            let r = pixels[3 * i] * 255 - color.x
            let g = pixels[3 * i + 1] * 255 - color.y
            let b = pixels[3 * i + 2] * 255 - color.z
            let d2 = r * r + g * g + b * b
            if d2 >= hi2 {
                mask[i] = 0
                if let dm = dmask { dm[3 * i] = 0; dm[3 * i + 1] = 0; dm[3 * i + 2] = 0 }
                continue
            }
            if d2 <= lo2 {
                mask[i] = 1
                if let dm = dmask { dm[3 * i] = 0; dm[3 * i + 1] = 0; dm[3 * i + 2] = 0 }
                continue
            }
            let d = d2.squareRoot()
            let u = (hi - d) * inv2w
            mask[i] = u * u * (3 - 2 * u)
            if let dm = dmask {
                // dm/dp_c = S'(u) * (-1 / 2w) * 255 * (255 p_c - c_c) / d
                let k = -6 * u * (1 - u) * inv2w * 255 / max(d, 1e-3)
                dm[3 * i] = k * r; dm[3 * i + 1] = k * g; dm[3 * i + 2] = k * b
            }
        }
    }

    /// Hard membership: RGB distance (0-255 units) at most `tolerance`.
    ///
    /// - Parameters:
    ///   - mask: out, `[n]`, 0 or 1.
    ///   - pixels: `[n, 3]` in [0, 1].
    static func hard(mask: UnsafeMutablePointer<UInt8>, pixels: UnsafePointer<Float>, count n: Int,
                     color: SIMD3<Float>, tolerance: Float) {
        let t2 = tolerance * tolerance
        for i in 0..<n {
            mask[i] = within(pixels[3 * i] * 255, pixels[3 * i + 1] * 255, pixels[3 * i + 2] * 255, color, t2) ? 1 : 0
        }
    }

    /// The membership test of `hard`: a pixel in 0-255 units within sqrt(`t2`) of `color`.
    @inline(__always)
    static func within(_ r: Float, _ g: Float, _ b: Float, _ color: SIMD3<Float>, _ t2: Float) -> Bool {
        let dr = r - color.x, dg = g - color.y, db = b - color.z
        return dr * dr + dg * dg + db * db <= t2
    }

    /// `hard`'s pixel counts for several colours in one pass over `[n, 3]` pixels, each channel
    /// read through `value` (to [0, 1]). A run of equal pixels, most of a drawing, is compared
    /// once.
    static func hardCounts<P: Equatable>(_ px: UnsafeBufferPointer<P>, count n: Int, colors: [SIMD3<Float>],
                                         tolerances: [Float], value: (P) -> Float) -> [Int] {
        let t2 = tolerances.map { $0 * $0 }
        var counts = [Int](repeating: 0, count: colors.count)
        var i = 0
        while i < n {
            let p0 = px[3 * i], p1 = px[3 * i + 1], p2 = px[3 * i + 2]
            var j = i + 1
            while j < n && px[3 * j] == p0 && px[3 * j + 1] == p1 && px[3 * j + 2] == p2 { j += 1 }
            let r = value(p0) * 255, g = value(p1) * 255, b = value(p2) * 255
            for k in colors.indices where within(r, g, b, colors[k], t2[k]) { counts[k] += j - i }
            i = j
        }
        return counts
    }

    /// The same for 8-bit pixels (each channel / 255), the same counts: a run is followed four
    /// pixels (12 bytes) at a time, against the run's pixel repeated, and a colour's objects
    /// worked out once.
    static func hardCounts(bytes px: UnsafeBufferPointer<UInt8>, count n: Int, colors: [SIMD3<Float>],
                           tolerances: [Float]) -> [Int] {
        // (the objects of a colour are a 32-bit mask below)
        if colors.count > 32 { return hardCounts(px, count: n, colors: colors, tolerances: tolerances) { Float($0) / 255 } }
        let t2 = tolerances.map { $0 * $0 }
        var counts = [Int](repeating: 0, count: colors.count)
        guard n > 0, let base = px.baseAddress else { return counts }
        precondition(px.count >= 3 * n, "hardCounts: \(px.count) bytes for \(n) pixels")
        let raw = UnsafeRawPointer(base)
        // A picture with texture has few runs but few colours too: each colour's objects are
        // kept in a small table (4,096 slots by a hash of the colour).
        let cache = UnsafeMutablePointer<(key: UInt32, hits: UInt32)>.allocate(capacity: 4096)
        cache.initialize(repeating: (0, 0), count: 4096)
        defer { cache.deallocate() }
        var i = 0
        while i < n {
            let p0 = base[3 * i], p1 = base[3 * i + 1], p2 = base[3 * i + 2]
            let a = UInt64(p0) | UInt64(p1) << 8 | UInt64(p2) << 16
            // bytes p0 p1 p2 p0 p1 p2 p0 p1, then p2 p0 p1 p2 (little-endian loads)
            let head = a | a << 24 | (a & 0xFFFF) << 48, tail = UInt32(p2) | UInt32(p0) << 8 | UInt32(p1) << 16 | UInt32(p2) << 24
            var j = i + 1
            while j + 4 <= n && raw.loadUnaligned(fromByteOffset: 3 * j, as: UInt64.self) == head
                && raw.loadUnaligned(fromByteOffset: 3 * j + 8, as: UInt32.self) == tail { j += 4 }
            while j < n && base[3 * j] == p0 && base[3 * j + 1] == p1 && base[3 * j + 2] == p2 { j += 1 }
            // a colour's objects, looked up where this colour was seen before
            let key = UInt32(p0) | UInt32(p1) << 8 | UInt32(p2) << 16 | 1 << 24
            let slot = Int((key &* 0x9E37_79B1) >> 20)
            var hits = cache[slot].hits
            if cache[slot].key != key {
                let r = Float(p0) / 255 * 255, g = Float(p1) / 255 * 255, b = Float(p2) / 255 * 255
                hits = 0
                for k in colors.indices where within(r, g, b, colors[k], t2[k]) { hits |= 1 << UInt32(k) }
                cache[slot] = (key, hits)
            }
            while hits != 0 { counts[hits.trailingZeroBitCount] += j - i; hits &= hits - 1 }
            i = j
        }
        return counts
    }

    static func hard(_ pixels: [Float], count n: Int, color: SIMD3<Float>, tolerance: Float) -> [UInt8] {
        var m = [UInt8](repeating: 0, count: n)
        pixels.withUnsafeBufferPointer { p in
            m.withUnsafeMutableBufferPointer { hard(mask: $0.baseAddress!, pixels: p.baseAddress!, count: n, color: color, tolerance: tolerance) }
        }
        return m
    }

    static func hardCount(_ pixels: [Float], count n: Int, color: SIMD3<Float>, tolerance: Float) -> Int {
        hard(pixels, count: n, color: color, tolerance: tolerance).reduce(0) { $0 + Int($1) }
    }
}

/// The 4-connected components of a hard mask.
struct Blobs {
    /// `[h * w]`: component index, or -1 for pixels outside the mask.
    var label: [Int32]
    /// Pixel count per component.
    var areas: [Int]
    /// Components at least as large as the speck limit, largest first.
    var kept: [Int]

    /// - Parameter minArea: components smaller than this are specks and are not `kept`.
    init(mask: UnsafePointer<UInt8>, width w: Int, height h: Int, minArea: Double) {
        var label = [Int32](repeating: -1, count: w * h)
        var areas: [Int] = []
        var stack: [Int] = []
        for start in 0..<(w * h) where mask[start] != 0 && label[start] < 0 {
            let id = Int32(areas.count)
            var area = 0
            label[start] = id
            stack.append(start)
            while let p = stack.popLast() {
                area += 1
                let x = p % w, y = p / w
                if x > 0, mask[p - 1] != 0, label[p - 1] < 0 { label[p - 1] = id; stack.append(p - 1) }
                if x < w - 1, mask[p + 1] != 0, label[p + 1] < 0 { label[p + 1] = id; stack.append(p + 1) }
                if y > 0, mask[p - w] != 0, label[p - w] < 0 { label[p - w] = id; stack.append(p - w) }
                if y < h - 1, mask[p + w] != 0, label[p + w] < 0 { label[p + w] = id; stack.append(p + w) }
            }
            areas.append(area)
        }
        self.label = label
        self.areas = areas
        kept = areas.indices.filter { Double(areas[$0]) >= minArea }.sorted { areas[$0] > areas[$1] }
    }

    init(mask: [UInt8], width: Int, height: Int, minArea: Double) {
        self = mask.withUnsafeBufferPointer { Blobs(mask: $0.baseAddress!, width: width, height: height, minArea: minArea) }
    }

    var keptArea: Int { kept.reduce(0) { $0 + areas[$1] } }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
