import Media

/// A task's first frame as the pipeline keeps it: cut into layers at the size the teacher judges
/// at (`working`), and the model's 64 x 64 view of the same layers (`view`), letterboxed, never
/// squashed.
///
/// The view is the part of the frame that holds every layer: a square of the frame's shorter
/// side around them (wider or taller where the layers spread further), scaled to fit 64 x 64
/// and centred on the background colour. On the project's own tasks, drawn on a square at any
/// size, that square is the drawing itself, so the model sees what it was trained on; a
/// margin of plain background carries nothing the model needs. The layers of `view` and
/// `working` are the same, in the same order: the model's offsets (view pixels) become working
/// pixels through `working.offsetScale`.
public struct Picture: Sendable {
    public var working: LayeredFrame
    public var view: LayeredFrame
    /// The part of the working frame the view shows, in working pixels (x, y, width, height).
    public var viewRect: (x: Int, y: Int, width: Int, height: Int)

    /// The frame's aspect at a long side of `LayerCut.size` (64).
    public static func defaultWorkingSize(_ image: RGBImage) -> (width: Int, height: Int) {
        scaled(width: image.width, height: image.height, longSide: LayerCut.size)
    }

    /// `width x height` scaled so that the longer side is `longSide` (never below 1).
    public static func scaled(width: Int, height: Int, longSide: Int) -> (width: Int, height: Int) {
        let s = Double(longSide) / Double(max(width, height))
        return (max(1, Int((Double(width) * s).rounded())), max(1, Int((Double(height) * s).rounded())))
    }

    public init(firstFrame: RGBImage, working size: (width: Int, height: Int)) {
        let w = size.width, h = size.height
        self.init(frame: firstFrame.resizedFloat(width: w, height: h), width: w, height: h)
    }

    /// The same from the first frame already at the working size (floats in [0, 1], `[h, w, 3]`).
    public init(frame: [Float], width w: Int, height h: Int) {
        precondition(frame.count == w * h * 3, "Picture: \(frame.count) floats for \(w) x \(h) x 3")
        var cut = LayerCut.cut(frame: frame, width: w, height: h)

        // The view: a square of the shorter side (at least) around every layer, in the frame.
        var box = SIMD4<Float>(Float(w), Float(h), 0, 0)
        for l in cut.layers {
            box = SIMD4(min(box.x, l.box.x), min(box.y, l.box.y), max(box.z, l.box.z), max(box.w, l.box.w))
        }
        if cut.layers.isEmpty { box = SIMD4(0, 0, Float(w), Float(h)) }
        let side = min(w, h)
        let vw = min(w, max(side, Int((box.z - box.x).rounded(.up)))), vh = min(h, max(side, Int((box.w - box.y).rounded(.up))))
        func place(_ lo: Float, _ hi: Float, _ extent: Int, _ total: Int) -> Int {
            let centre = (lo + hi) / 2
            return min(max(0, Int((centre - Float(extent) / 2).rounded())), total - extent)
        }
        let vx = place(box.x, box.z, vw, w), vy = place(box.y, box.w, vh, h)
        viewRect = (vx, vy, vw, vh)

        // Letterboxed into 64 x 64: k view pixels per working pixel.
        let n = LayerCut.size
        let k = Float(n) / Float(max(vw, vh))
        let mw = max(1, min(n, Int((Float(vw) * k).rounded()))), mh = max(1, min(n, Int((Float(vh) * k).rounded())))
        let px = (n - mw) / 2, py = (n - mh) / 2
        let rect = (x: vx, y: vy, width: vw, height: vh)
        func letterbox(_ plane: [Float], channels c: Int, fill: [Float]) -> [Float] {
            let inner = Resample.plane(plane, width: w, height: h, channels: c, rect: rect, toWidth: mw, toHeight: mh)
            if mw == n && mh == n { return inner }
            var out = [Float](repeating: 0, count: n * n * c)
            for i in 0..<(n * n) { for j in 0..<c { out[i * c + j] = fill[j] } }
            for y in 0..<mh { for x in 0..<mw { for j in 0..<c { out[((y + py) * n + x + px) * c + j] = inner[(y * mw + x) * c + j] } } }
            return out
        }
        let bg = [cut.background.x, cut.background.y, cut.background.z]
        let layers = cut.layers.map { l in Layer(color: l.color, alpha: letterbox(l.alpha, channels: 1, fill: [0]), width: n, height: n) }
        view = LayeredFrame(width: n, height: n, background: cut.background, plate: letterbox(cut.plate, channels: 3, fill: bg),
                            frame: letterbox(frame, channels: 3, fill: bg), layers: layers)
        cut.offsetScale = 1 / k
        working = cut
    }
}
