import Media

/// The video at the first frame's own size: the first frame itself, with every moving layer
/// lifted off (background where it was) and drawn at its offset, cut out of the full-size
/// picture so that it keeps every pixel of detail.
///
/// A moving layer's full-size coverage is found from its colour: within one working pixel of
/// the layer (`Picture.working`), a pixel of the layer's colour is covered, a blend of the
/// background and that colour next to such a pixel (its anti-aliased rim) covered in
/// proportion, anything else not.
/// Static layers and everything else keep the first frame's pixels exactly, so frame 0
/// reproduces the first frame wherever nothing moves and closely where something does.
/// Offsets are the final video's: whole working pixels (as the teacher judged them), scaled to
/// the output and rounded to whole output pixels.
public enum FullFrames {
    /// The written frames' size: the first frame's, scaled down (aspect kept) only when its longer
    /// side exceeds `longSide` (job.json `frame_long_side`).
    public static func outputSize(width: Int, height: Int, longSide: Int) -> (width: Int, height: Int) {
        max(width, height) <= longSide ? (width, height) : Picture.scaled(width: width, height: height, longSide: longSide)
    }

    /// One moving layer at the output size: coverage over its box `(x0, y0, width, height)`.
    struct Cutout: Sendable {
        var color: SIMD3<Float>
        var x0: Int, y0: Int, width: Int, height: Int
        /// `[height, width]`
        var alpha: [Float]
    }

    /// Every frame at once; `Renderer` draws them one at a time.
    public static func render(firstFrame: RGBImage, working: LayeredFrame, trajectory: Trajectory,
                              size: (width: Int, height: Int), staticThreshold: Float = Compositor.staticThreshold) -> [RGBImage] {
        let r = Renderer(firstFrame: firstFrame, working: working, trajectory: trajectory, size: size, staticThreshold: staticThreshold)
        return (0..<Trajectory.frames).map(r.frame)
    }

    /// The first frame with the moving layers lifted off and their full-size cutouts, ready to
    /// draw any frame. Memory: three floats a pixel for the plate, plus the cutouts.
    public struct Renderer: Sendable {
        public let width: Int
        public let height: Int
        let plate: [Float]
        let cutouts: [Cutout]
        /// `[moving layer][frame]`: whole output pixels.
        let offsets: [[SIMD2<Int>]]

        /// - Parameters:
        ///   - firstFrame: the decoded first frame, any size.
        ///   - working: the layers the trajectory moves, at the teacher's working size.
        ///   - size: the output size (`outputSize`).
        public init(firstFrame: RGBImage, working: LayeredFrame, trajectory: Trajectory,
                    size: (width: Int, height: Int), staticThreshold: Float = Compositor.staticThreshold) {
            let W = size.width, H = size.height
            width = W; height = H
            let base = firstFrame.resizedFloat(width: W, height: H)
            let rx = Float(W) / Float(working.width), ry = Float(H) / Float(working.height)
            let count = min(working.layers.count, Trajectory.maxLayers)
            let moving = (0..<count).filter { trajectory.maxDisplacement(layer: $0) > staticThreshold }
            let bg = working.background
            let cutouts = moving.map { FullFrames.cutout(working.layers[$0], working: working, base: base, W: W, H: H, rx: rx, ry: ry) }
            var plate = base
            for c in cutouts {
                for y in 0..<c.height {
                    for x in 0..<c.width where c.alpha[y * c.width + x] > 0 {
                        let i = 3 * ((c.y0 + y) * W + c.x0 + x)
                        plate[i] = bg.x; plate[i + 1] = bg.y; plate[i + 2] = bg.z
                    }
                }
            }
            self.plate = plate
            self.cutouts = cutouts
            offsets = moving.map { l in
                (0..<Trajectory.frames).map { f in
                    // Whole working pixels, as the teacher judged them, then whole output pixels.
                    let ow = (trajectory.offset(layer: l, frame: f) * working.offsetScale).rounded(.toNearestOrAwayFromZero)
                    // As in `Compositor.region`: an offset that is not finite or far off the frame
                    // leaves the layer off the frame instead of trapping in the conversion to Int.
                    guard abs(ow.x) <= Compositor.maxOffset, abs(ow.y) <= Compositor.maxOffset else { return SIMD2(W, H) }
                    return SIMD2(Int((ow.x * rx).rounded()), Int((ow.y * ry).rounded()))
                }
            }
        }

        /// Frame `f`: the plate, then the moving layers, largest first, at their offsets.
        public func frame(_ f: Int) -> RGBImage {
            let W = width, H = height
            var out = plate
            for (m, c) in cutouts.enumerated() {
                let d = offsets[m][f], col = c.color
                for y in 0..<c.height {
                    let ty = c.y0 + y + d.y
                    if ty < 0 || ty >= H { continue }
                    for x in 0..<c.width {
                        let a = c.alpha[y * c.width + x]
                        let tx = c.x0 + x + d.x
                        if a == 0 || tx < 0 || tx >= W { continue }
                        let i = 3 * (ty * W + tx)
                        out[i] = out[i] * (1 - a) + col.x * a
                        out[i + 1] = out[i + 1] * (1 - a) + col.y * a
                        out[i + 2] = out[i + 2] * (1 - a) + col.z * a
                    }
                }
            }
            var px = [UInt8](repeating: 0, count: W * H * 3)
            for i in 0..<px.count { px[i] = UInt8(max(0, min(255, (out[i] * 255).rounded()))) }
            return RGBImage(width: W, height: H, pixels: px)
        }
    }

    /// The layer's coverage at the output size, from the colours of the full-size first frame
    /// within one working pixel of the layer.
    static func cutout(_ layer: Layer, working: LayeredFrame, base: [Float], W: Int, H: Int, rx: Float, ry: Float) -> Cutout {
        let w = working.width, h = working.height
        // The layer's working pixels grown by one.
        var near = [Bool](repeating: false, count: w * h)
        let bx0 = max(0, Int(layer.box.x) - 1), by0 = max(0, Int(layer.box.y) - 1)
        let bx1 = min(w, Int(layer.box.z) + 1), by1 = min(h, Int(layer.box.w) + 1)
        for y in by0..<by1 {
            for x in bx0..<bx1 {
                var hit = false
                for yy in max(0, y - 1)...min(h - 1, y + 1) {
                    for xx in max(0, x - 1)...min(w - 1, x + 1) where layer.alpha[yy * w + xx] > 0 { hit = true }
                }
                near[y * w + x] = hit
            }
        }
        let x0 = max(0, Int((Float(bx0) * rx).rounded(.down))), y0 = max(0, Int((Float(by0) * ry).rounded(.down)))
        let x1 = min(W, Int((Float(bx1) * rx).rounded(.up))), y1 = min(H, Int((Float(by1) * ry).rounded(.up)))
        let cw = max(0, x1 - x0), ch = max(0, y1 - y0)
        var alpha = [Float](repeating: 0, count: cw * ch)
        let c = layer.color * 255, bg = working.background * 255
        let d = c - bg, len2 = max((d * d).sum(), 1)
        // Pass 1: the layer's own colour (core); pass 2: blends of it and the background that
        // touch a core pixel (its anti-aliased rim, one output pixel wide). A wider reach would
        // take in a pale shape of the same hue beside it (an outline next to its piece).
        var core = [Bool](repeating: false, count: cw * ch)
        var blendA = [Float](repeating: -1, count: cw * ch)
        for y in 0..<ch {
            let wy = min(h - 1, Int(Float(y0 + y) / ry))
            for x in 0..<cw {
                let wx = min(w - 1, Int(Float(x0 + x) / rx))
                if !near[wy * w + wx] { continue }
                let i = 3 * ((y0 + y) * W + x0 + x)
                let p = SIMD3<Float>(base[i], base[i + 1], base[i + 2]) * 255
                let a = ((p - bg) * d).sum() / len2
                let off = p - (bg + a * d), residual = (off * off).sum().squareRoot()
                let toColour = ((p - c) * (p - c)).sum().squareRoot()
                if toColour <= LayerCut.sameColorTolerance {
                    core[y * cw + x] = true
                    alpha[y * cw + x] = a >= 0.93 ? 1 : max(0, a)
                } else if residual <= LayerCut.rimResidualTolerance && a > 0.04 {
                    blendA[y * cw + x] = min(1, a)
                }
            }
        }
        for y in 0..<ch {
            for x in 0..<cw where blendA[y * cw + x] > 0 {
                var touches = false
                for yy in max(0, y - 1)...min(ch - 1, y + 1) {
                    for xx in max(0, x - 1)...min(cw - 1, x + 1) where core[yy * cw + xx] { touches = true }
                }
                if touches { alpha[y * cw + x] = blendA[y * cw + x] }
            }
        }
        return Cutout(color: layer.color, x0: x0, y0: y0, width: cw, height: ch, alpha: alpha)
    }
}
