import Media

/// Offsets of every layer slot in every frame, the Reasoner's output.
///
/// `offsets` is `[maxLayers, frames, 2]` in native pixels (x right, y down), row-major; slots
/// past the frame's layer count are padding and are ignored by the compositor.
public struct Trajectory: Sendable, Equatable {
    public static let maxLayers = LayerCut.maxLayers
    public static let frames = 16
    /// Floats in one trajectory: `maxLayers * frames * 2` (1024).
    public static let count = maxLayers * frames * 2

    /// `[maxLayers, frames, 2]`
    public var offsets: [Float]

    public init(offsets: [Float]) {
        precondition(offsets.count == Trajectory.count, "Trajectory: \(offsets.count) floats, expected \(Trajectory.count)")
        self.offsets = offsets
    }

    public static var zero: Trajectory { Trajectory(offsets: [Float](repeating: 0, count: count)) }

    @inlinable public func offset(layer l: Int, frame f: Int) -> SIMD2<Float> {
        let i = (l * Trajectory.frames + f) * 2
        return SIMD2(offsets[i], offsets[i + 1])
    }

    /// The largest offset a layer reaches over the frames, in pixels.
    public func maxDisplacement(layer l: Int) -> Float {
        var m: Float = 0
        for f in 0..<Trajectory.frames { let o = offset(layer: l, frame: f); m = max(m, (o * o).sum().squareRoot()) }
        return m
    }
}

/// Renders layers at their offsets over the plate, and the gradient of the frames with respect to
/// the offsets.
///
/// Frame t = the plate, then every layer from back to front alpha-composited over it, its alpha
/// sampled bilinearly at `x - offset_t` (zero outside the frame) and filled with its colour:
/// `out = out * (1 - A) + color * A`. Back to front means the static layers first, then the
/// moving ones (offsets beyond `staticThreshold`), each group largest area first: a moving
/// object passes over targets, outlines and walls rather than under them.
public enum Compositor {
    /// Layers whose offsets never exceed this many pixels are drawn static in the final video.
    ///
    /// docs/DESIGN.md (decision 2) used about 1.5 px. On the shipped model's base checkpoint, 200
    /// held-out tasks, `tutor bench reasoner`: static objects stayed put in 74% of tasks at 1.5 px
    /// and 92% at 3 px (moving pieces intact 54% -> 88%, their pale outlines no longer drawn
    /// shifted over them), with no change to the goal rate. Every generated mover travels much
    /// farther than 3 px.
    public static let staticThreshold: Float = 3

    /// The offsets the final video uses: layers that never move more than `staticThreshold` are
    /// held at zero, the others are rounded to whole pixels, so that static walls do not blur and
    /// moving objects stay sharp (a fractional shift smears a layer over two pixels).
    public static func finalOffsets(_ trajectory: Trajectory, layerCount: Int, staticThreshold: Float = staticThreshold) -> Trajectory {
        var out = Trajectory.zero
        for l in 0..<min(layerCount, Trajectory.maxLayers) where trajectory.maxDisplacement(layer: l) > staticThreshold {
            for f in 0..<Trajectory.frames {
                let i = (l * Trajectory.frames + f) * 2
                out.offsets[i] = trajectory.offsets[i].rounded()
                out.offsets[i + 1] = trajectory.offsets[i + 1].rounded()
            }
        }
        return out
    }

    /// Layer indices in drawing order: static layers, then moving ones, each largest first
    /// (the layers are stored largest first).
    public static func drawOrder(_ frame: LayeredFrame, _ trajectory: Trajectory,
                                 staticThreshold: Float = staticThreshold) -> [Int] {
        let idx = Array(0..<min(frame.layers.count, Trajectory.maxLayers))
        let moving = idx.map { trajectory.maxDisplacement(layer: $0) > staticThreshold }
        return idx.filter { !moving[$0] } + idx.filter { moving[$0] }
    }

    /// Layer `l`'s offset in frame `f`, in the pixels of `frame`: the trajectory's offset times
    /// the frame's `offsetScale`; in the final video a static layer's is zero and a moving
    /// layer's is rounded to whole pixels of the frame drawn.
    @inline(__always)
    static func drawnOffset(_ frame: LayeredFrame, _ trajectory: Trajectory, layer l: Int, frame f: Int,
                            final: Bool, moving: Bool) -> SIMD2<Float> {
        let o = trajectory.offset(layer: l, frame: f) * frame.offsetScale
        if !final { return o }
        return moving ? o.rounded(.toNearestOrAwayFromZero) : .zero
    }

    /// Renders `Trajectory.frames` frames at the frame's own size (the model's 64 x 64 view, or
    /// the teacher's working size, whose `offsetScale` turns the trajectory into its pixels).
    ///
    /// - Parameters:
    ///   - final: draw the final video (static layers held still, movers at whole pixels) instead
    ///     of the differentiable rendering at the exact offsets.
    ///   - staticThreshold: the final video's limit for a static layer, in trajectory pixels.
    public static func render(_ frame: LayeredFrame, _ trajectory: Trajectory, final: Bool = false,
                              staticThreshold: Float = staticThreshold) -> Video {
        let count = min(frame.layers.count, Trajectory.maxLayers)
        let moving = (0..<count).map { trajectory.maxDisplacement(layer: $0) > staticThreshold }
        let order = drawOrder(frame, trajectory, staticThreshold: staticThreshold)
        let w = frame.width, h = frame.height, fs = w * h * 3
        var video = Video(frames: Trajectory.frames, height: h, width: w)
        video.pixels.withUnsafeMutableBufferPointer { out in
            for f in 0..<Trajectory.frames {
                let o = out.baseAddress! + f * fs
                frame.plate.withUnsafeBufferPointer { o.update(from: $0.baseAddress!, count: fs) }
                for l in order {
                    composite(o, frame.layers[l], drawnOffset(frame, trajectory, layer: l, frame: f, final: final, moving: moving[l]), w, h)
                }
            }
        }
        return video
    }

    /// Gradient of a scalar with respect to the offsets, given its gradient with respect to the
    /// frames of `render(frame, trajectory, final: false)`.
    ///
    /// - Parameter dVideo: `[frames, height, width, 3]`.
    /// - Returns: `[maxLayers, frames, 2]`, per trajectory pixel, zero on padding slots. Bilinear
    ///   sampling is piecewise linear in the offset, so this is the exact derivative away from
    ///   whole-pixel offsets.
    public static func renderBackward(_ frame: LayeredFrame, _ trajectory: Trajectory, dVideo: [Float]) -> [Float] {
        let w = frame.width, h = frame.height, fs = w * h * 3, order = drawOrder(frame, trajectory), k = order.count
        precondition(dVideo.count == Trajectory.frames * fs, "renderBackward: dVideo has \(dVideo.count) floats")
        let scale = frame.offsetScale
        var dTraj = [Float](repeating: 0, count: Trajectory.count)
        // The frame before each layer is drawn, `[k, height, width, 3]`.
        var before = [Float](repeating: 0, count: max(1, k) * fs)
        var cur = [Float](repeating: 0, count: fs)
        var dOut = [Float](repeating: 0, count: fs)
        for f in 0..<Trajectory.frames {
            cur = frame.plate
            cur.withUnsafeMutableBufferPointer { c in
                before.withUnsafeMutableBufferPointer { b in
                    for (p, l) in order.enumerated() {
                        (b.baseAddress! + p * fs).update(from: c.baseAddress!, count: fs)
                        composite(c.baseAddress!, frame.layers[l], trajectory.offset(layer: l, frame: f) * scale, w, h)
                    }
                }
            }
            for i in 0..<fs { dOut[i] = dVideo[f * fs + i] }
            for p in stride(from: k - 1, through: 0, by: -1) {
                let l = order[p]
                let g = before.withUnsafeBufferPointer { b in
                    dOut.withUnsafeMutableBufferPointer { d in
                        compositeBackward(d.baseAddress!, b.baseAddress! + p * fs, frame.layers[l],
                                          trajectory.offset(layer: l, frame: f) * scale, w, h)
                    }
                }
                let i = (l * Trajectory.frames + f) * 2
                dTraj[i] += g.x * scale; dTraj[i + 1] += g.y * scale
            }
        }
        return dTraj
    }

    /// The pixel range a layer covers when shifted by `o`, one pixel of margin, clipped.
    ///
    /// An offset that is not finite, or so large that the layer is far off the frame, covers no
    /// pixel: a diverging adaptation (or a damaged model) can produce one, and converting it to
    /// Int would trap. Within `maxOffset` every conversion here and in `sample` is exact.
    @inline(__always)
    static func region(_ layer: Layer, _ o: SIMD2<Float>, _ w: Int, _ h: Int) -> (Int, Int, Int, Int) {
        guard abs(o.x) <= maxOffset, abs(o.y) <= maxOffset else { return (0, 0, 0, 0) }
        let x0 = max(0, Int((layer.box.x + o.x).rounded(.down)) - 1)
        let y0 = max(0, Int((layer.box.y + o.y).rounded(.down)) - 1)
        let x1 = min(w, Int((layer.box.z + o.x).rounded(.up)) + 1)
        let y1 = min(h, Int((layer.box.w + o.y).rounded(.up)) + 1)
        return (x0, y0, x1, y1)
    }

    /// Offsets beyond this many pixels (and NaN) leave a layer off the frame.
    static let maxOffset: Float = 1_048_576

    /// Bilinear alpha at pixel (x, y) of a layer shifted by `o`, with its derivatives with respect
    /// to the sampling position (the derivative with respect to the offset is the negative).
    @inline(__always)
    static func sample(_ alpha: UnsafePointer<Float>, _ x: Int, _ y: Int, _ o: SIMD2<Float>, _ w: Int, _ h: Int) -> (Float, Float, Float) {
        let sx = Float(x) - o.x, sy = Float(y) - o.y
        let fx0 = sx.rounded(.down), fy0 = sy.rounded(.down)
        let ix = Int(fx0), iy = Int(fy0)
        let wx = sx - fx0, wy = sy - fy0
        @inline(__always) func at(_ xx: Int, _ yy: Int) -> Float {
            (xx < 0 || yy < 0 || xx >= w || yy >= h) ? 0 : alpha[yy * w + xx]
        }
        let a00 = at(ix, iy), a10 = at(ix + 1, iy), a01 = at(ix, iy + 1), a11 = at(ix + 1, iy + 1)
        let top = a00 + wx * (a10 - a00), bottom = a01 + wx * (a11 - a01)
        let a = top + wy * (bottom - top)
        let dx = (1 - wy) * (a10 - a00) + wy * (a11 - a01)
        let dy = bottom - top
        return (a, dx, dy)
    }

    /// Alpha-composites one shifted layer over `out` (`[h, w, 3]`) in place.
    static func composite(_ out: UnsafeMutablePointer<Float>, _ layer: Layer, _ o: SIMD2<Float>, _ w: Int, _ h: Int) {
        let (x0, y0, x1, y1) = region(layer, o, w, h)
        if x0 >= x1 || y0 >= y1 { return }
        layer.alpha.withUnsafeBufferPointer { al in
            for y in y0..<y1 {
                for x in x0..<x1 {
                    let a = sample(al.baseAddress!, x, y, o, w, h).0
                    if a == 0 { continue }
                    let p = out + 3 * (y * w + x)
                    p[0] = p[0] * (1 - a) + layer.color.x * a
                    p[1] = p[1] * (1 - a) + layer.color.y * a
                    p[2] = p[2] * (1 - a) + layer.color.z * a
                }
            }
        }
    }

    /// Backward of `composite`: returns d/d(offset) and turns `dOut` (gradient after the layer)
    /// into the gradient before it, in place. `before` is the frame before the layer was drawn.
    static func compositeBackward(_ dOut: UnsafeMutablePointer<Float>, _ before: UnsafePointer<Float>, _ layer: Layer,
                                  _ o: SIMD2<Float>, _ w: Int, _ h: Int) -> SIMD2<Float> {
        let (x0, y0, x1, y1) = region(layer, o, w, h)
        if x0 >= x1 || y0 >= y1 { return .zero }
        var g = SIMD2<Float>.zero
        layer.alpha.withUnsafeBufferPointer { al in
            for y in y0..<y1 {
                for x in x0..<x1 {
                    let (a, dax, day) = sample(al.baseAddress!, x, y, o, w, h)
                    if a == 0 && dax == 0 && day == 0 { continue }
                    let i = 3 * (y * w + x)
                    let d = dOut + i, b = before + i
                    // out = b * (1 - a) + color * a  =>  dA = sum_c dOut_c * (color_c - b_c)
                    let dA = d[0] * (layer.color.x - b[0]) + d[1] * (layer.color.y - b[1]) + d[2] * (layer.color.z - b[2])
                    g.x -= dA * dax; g.y -= dA * day
                    d[0] *= 1 - a; d[1] *= 1 - a; d[2] *= 1 - a
                }
            }
        }
        return g
    }
}
