import Media

/// An 8-bit RGB colour with a name for prompts.
struct Colour: Sendable, Equatable {
    var r: UInt8, g: UInt8, b: UInt8
    var name: String

    var bytes: [UInt8] { [r, g, b] }
    var hex: String {
        func h(_ v: UInt8) -> String { let s = String(v, radix: 16); return s.count == 1 ? "0" + s : s }
        return "#" + h(r) + h(g) + h(b)
    }
    func distance(_ o: Colour) -> Float {
        let dr = Float(r) - Float(o.r), dg = Float(g) - Float(o.g), db = Float(b) - Float(o.b)
        return (dr * dr + dg * dg + db * db).squareRoot()
    }
    /// `self * a + other * (1 - a)`, rounded.
    func mixed(with o: Colour, _ a: Float, name: String) -> Colour {
        func m(_ x: UInt8, _ y: UInt8) -> UInt8 { UInt8((Float(x) * a + Float(y) * (1 - a)).rounded()) }
        return Colour(r: m(r, o.r), g: m(g, o.g), b: m(b, o.b), name: name)
    }
}

/// A shape in native pixel coordinates (x right, y down; pixel (i, j) covers [i, i+1) x [j, j+1)).
enum Shape: Sendable, Equatable {
    case rect(x0: Float, y0: Float, x1: Float, y1: Float)
    case disc(cx: Float, cy: Float, r: Float)

    @inline(__always) func contains(_ x: Float, _ y: Float) -> Bool {
        switch self {
        case let .rect(x0, y0, x1, y1): return x >= x0 && x < x1 && y >= y0 && y < y1
        case let .disc(cx, cy, r): return (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r
        }
    }

    /// x0, y0, x1, y1
    var bounds: SIMD4<Float> {
        switch self {
        case let .rect(x0, y0, x1, y1): return SIMD4(x0, y0, x1, y1)
        case let .disc(cx, cy, r): return SIMD4(cx - r, cy - r, cx + r, cy + r)
        }
    }
}

/// Where a layer's shapes are drawn in one frame: shifted by `offset`, and only the part
/// with (unshifted) x in `clipX` (used to split an object in two).
struct Placement: Sendable, Equatable {
    var offset: SIMD2<Float>
    var clipX: ClosedRange<Float>? = nil

    static let identity = Placement(offset: .zero)
}

/// One colour's shapes and where they are in every frame. Layers are drawn in order, later on top.
struct Layer: Sendable {
    var color: Colour
    var shapes: [Shape]
    /// `[frames]`: the placements in each frame (none: the layer is absent from that frame).
    var placements: [[Placement]]

    init(color: Colour, shapes: [Shape], frames: Int) {
        self.color = color; self.shapes = shapes
        placements = Array(repeating: [.identity], count: frames)
    }

    var isStatic: Bool { placements.allSatisfy { $0 == [.identity] } }

    /// Per-frame offsets of a single placement.
    var offsets: [SIMD2<Float>] {
        get { placements.map { $0.first?.offset ?? .zero } }
        set { placements = newValue.map { [Placement(offset: $0)] } }
    }

    var bounds: SIMD4<Float> {
        var b = SIMD4<Float>(.infinity, .infinity, -.infinity, -.infinity)
        for s in shapes {
            let sb = s.bounds
            b = SIMD4(min(b.x, sb.x), min(b.y, sb.y), max(b.z, sb.z), max(b.w, sb.w))
        }
        return b
    }

    @inline(__always) func covers(_ x: Float, _ y: Float, _ p: Placement) -> Bool {
        let u = x - p.offset.x, v = y - p.offset.y
        if let c = p.clipX, !c.contains(u) { return false }
        for s in shapes where s.contains(u, v) { return true }
        return false
    }
}

/// A task's picture: a background colour and layers, rendered at the native size with
/// `scale x scale` samples per native pixel (the first frame is those samples as pixels).
struct Scene: Sendable {
    var background: Colour
    var layers: [Layer]
    var frames: Int = NativeVideo.frames
    var size: Int = NativeVideo.size
    /// Samples per native pixel along each axis; also the first frame's scale (256 = 64 x 4).
    var scale: Int = 4

    var sampleSide: Int { size * scale }

    /// The sample grid of the layers that never move, `[side, side, 3]`.
    private func staticSamples() -> [UInt8] {
        let side = sampleSide
        var s = [UInt8](repeating: 0, count: side * side * 3)
        for i in 0..<(side * side) { s[3 * i] = background.r; s[3 * i + 1] = background.g; s[3 * i + 2] = background.b }
        for layer in layers where layer.isStatic { paint(&s, layer, .identity) }
        return s
    }

    /// Paints a layer's placement into a sample grid.
    private func paint(_ s: inout [UInt8], _ layer: Layer, _ p: Placement) {
        let side = sampleSide, k = Float(scale)
        for shape in layer.shapes {
            var b = shape.bounds
            b += SIMD4(p.offset.x, p.offset.y, p.offset.x, p.offset.y)
            let x0 = max(0, Int((b.x * k).rounded(.down))), x1 = min(side - 1, Int((b.z * k).rounded(.up)))
            let y0 = max(0, Int((b.y * k).rounded(.down))), y1 = min(side - 1, Int((b.w * k).rounded(.up)))
            if x0 > x1 || y0 > y1 { continue }
            for sy in y0...y1 {
                let y = (Float(sy) + 0.5) / k
                for sx in x0...x1 {
                    let x = (Float(sx) + 0.5) / k
                    let u = x - p.offset.x, v = y - p.offset.y
                    if let c = p.clipX, !c.contains(u) { continue }
                    if shape.contains(u, v) {
                        let i = 3 * (sy * side + sx)
                        s[i] = layer.color.r; s[i + 1] = layer.color.g; s[i + 2] = layer.color.b
                    }
                }
            }
        }
    }

    /// Frame `t` at the sample resolution (`sampleSide` square): the first frame of a task folder.
    func sampleImage(frame t: Int = 0) -> RGBImage {
        var s = staticSamples()
        for layer in layers where !layer.isStatic { for p in layer.placements[t] { paint(&s, layer, p) } }
        return RGBImage(width: sampleSide, height: sampleSide, pixels: s)
    }

    /// Frame `t` drawn at `width x height`: the native square scaled uniformly to fit and
    /// centred, the margins background; each pixel the mean of `samples x samples` samples.
    func image(width: Int, height: Int, frame t: Int = 0, samples: Int = 4) -> RGBImage {
        let k = Float(min(width, height)) / Float(size)
        let ox = (Float(width) - k * Float(size)) / 2, oy = (Float(height) - k * Float(size)) / 2
        let sw = width * samples, sh = height * samples, ks = k * Float(samples)
        var grid = [UInt8](repeating: 0, count: sw * sh * 3)
        for i in 0..<(sw * sh) { grid[3 * i] = background.r; grid[3 * i + 1] = background.g; grid[3 * i + 2] = background.b }
        // Static layers first, then the moving ones, each in order (later on top), as `render` does.
        let ordered = layers.filter(\.isStatic).map { ($0, [Placement.identity]) }
            + layers.filter { !$0.isStatic }.map { ($0, $0.placements[t]) }
        for (layer, placements) in ordered {
            for p in placements {
                for shape in layer.shapes {
                    var b = shape.bounds
                    b += SIMD4(p.offset.x, p.offset.y, p.offset.x, p.offset.y)
                    let x0 = max(0, Int((ox * Float(samples) + b.x * ks).rounded(.down)))
                    let x1 = min(sw - 1, Int((ox * Float(samples) + b.z * ks).rounded(.up)))
                    let y0 = max(0, Int((oy * Float(samples) + b.y * ks).rounded(.down)))
                    let y1 = min(sh - 1, Int((oy * Float(samples) + b.w * ks).rounded(.up)))
                    if x0 > x1 || y0 > y1 { continue }
                    for sy in y0...y1 {
                        let v = ((Float(sy) + 0.5) / Float(samples) - oy) / k - p.offset.y
                        for sx in x0...x1 {
                            let u = ((Float(sx) + 0.5) / Float(samples) - ox) / k - p.offset.x
                            if let c = p.clipX, !c.contains(u) { continue }
                            if shape.contains(u, v) {
                                let i = 3 * (sy * sw + sx)
                                grid[i] = layer.color.r; grid[i + 1] = layer.color.g; grid[i + 2] = layer.color.b
                            }
                        }
                    }
                }
            }
        }
        var px = [UInt8](repeating: 0, count: width * height * 3)
        let den = samples * samples
        for y in 0..<height {
            for x in 0..<width {
                var r = 0, g = 0, b = 0
                for j in 0..<samples {
                    for m in 0..<samples {
                        let i = 3 * ((y * samples + j) * sw + x * samples + m)
                        r += Int(grid[i]); g += Int(grid[i + 1]); b += Int(grid[i + 2])
                    }
                }
                let o = 3 * (y * width + x)
                px[o] = UInt8((r + den / 2) / den); px[o + 1] = UInt8((g + den / 2) / den); px[o + 2] = UInt8((b + den / 2) / den)
            }
        }
        return RGBImage(width: width, height: height, pixels: px)
    }

    /// Every frame at the native size, each native pixel the mean of its samples
    /// (anti-aliased); `[frames]` images of `size x size`.
    func render() -> [RGBImage] {
        let side = sampleSide, n = size, k = scale
        let base = staticSamples()
        // The static picture at native size, as sums of samples.
        var staticSum = [Int](repeating: 0, count: n * n * 3)
        for sy in 0..<side {
            for sx in 0..<side {
                let i = 3 * (sy * side + sx), o = 3 * ((sy / k) * n + sx / k)
                staticSum[o] += Int(base[i]); staticSum[o + 1] += Int(base[i + 1]); staticSum[o + 2] += Int(base[i + 2])
            }
        }
        let dynamic = layers.filter { !$0.isStatic }
        let den = k * k
        var out: [RGBImage] = []
        for t in 0..<frames {
            var dirty = [Bool](repeating: false, count: n * n)
            for layer in dynamic {
                let lb = layer.bounds
                for p in layer.placements[t] {
                    let x0 = max(0, Int((lb.x + p.offset.x).rounded(.down)) - 1), x1 = min(n - 1, Int((lb.z + p.offset.x).rounded(.up)) + 1)
                    let y0 = max(0, Int((lb.y + p.offset.y).rounded(.down)) - 1), y1 = min(n - 1, Int((lb.w + p.offset.y).rounded(.up)) + 1)
                    if x0 > x1 || y0 > y1 { continue }
                    for y in y0...y1 { for x in x0...x1 { dirty[y * n + x] = true } }
                }
            }
            var px = [UInt8](repeating: 0, count: n * n * 3)
            for i in 0..<(n * n) {
                var r = staticSum[3 * i], g = staticSum[3 * i + 1], b = staticSum[3 * i + 2]
                if dirty[i] {
                    r = 0; g = 0; b = 0
                    let nx = i % n, ny = i / n
                    for j in 0..<k {
                        let sy = ny * k + j, y = (Float(sy) + 0.5) / Float(k)
                        for m in 0..<k {
                            let sx = nx * k + m, x = (Float(sx) + 0.5) / Float(k)
                            let si = 3 * (sy * side + sx)
                            var c = (Int(base[si]), Int(base[si + 1]), Int(base[si + 2]))
                            for layer in dynamic {
                                for p in layer.placements[t] where layer.covers(x, y, p) {
                                    c = (Int(layer.color.r), Int(layer.color.g), Int(layer.color.b))
                                }
                            }
                            r += c.0; g += c.1; b += c.2
                        }
                    }
                }
                px[3 * i] = UInt8((r + den / 2) / den); px[3 * i + 1] = UInt8((g + den / 2) / den); px[3 * i + 2] = UInt8((b + den / 2) / den)
            }
            out.append(RGBImage(width: n, height: n, pixels: px))
        }
        return out
    }

    /// Fraction of each native pixel's samples the layer covers in frame `t`, `[size * size]`.
    func coverage(of layer: Layer, frame t: Int = 0) -> [Float] {
        let n = size, k = scale
        var cov = [Float](repeating: 0, count: n * n)
        let lb = layer.bounds
        for p in layer.placements[t] {
            let x0 = max(0, Int((lb.x + p.offset.x).rounded(.down)) - 1), x1 = min(n - 1, Int((lb.z + p.offset.x).rounded(.up)) + 1)
            let y0 = max(0, Int((lb.y + p.offset.y).rounded(.down)) - 1), y1 = min(n - 1, Int((lb.w + p.offset.y).rounded(.up)) + 1)
            if x0 > x1 || y0 > y1 { continue }
            for ny in y0...y1 {
                for nx in x0...x1 {
                    var hits = 0
                    for j in 0..<k {
                        let y = (Float(ny * k + j) + 0.5) / Float(k)
                        for m in 0..<k where layer.covers((Float(nx * k + m) + 0.5) / Float(k), y, p) { hits += 1 }
                    }
                    cov[ny * n + nx] = max(cov[ny * n + nx], Float(hits) / Float(k * k))
                }
            }
        }
        return cov
    }
}
