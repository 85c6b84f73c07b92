import Basics
import Foundation

/// Which ranges a task's drawing and wording are sampled from.
///
/// `canonical` is the drawing the shipped Reasoner was trained on, byte for byte. `varied`
/// samples every part of the look (background, grid lines, colours from the whole gamut,
/// shapes, glyphs, target styles, sizes, maze styles, wording) from the training ranges;
/// `heldout` draws from ranges that `varied` never uses (`Look.heldOutHues`,
/// `Look.heldOutPieceShapes`, `Look.heldOutGlyphs`, `TargetStyle.flag`, mazes of 7 and 8
/// cells, object scales outside `Look.variedScale`, the words of `Wording.heldOut`), so that
/// a benchmark on it measures looks a model trained on `varied` has never seen.
public enum LookSplit: String, CaseIterable, Codable, Sendable {
    case canonical, varied, heldout
}

/// A piece's outline.
enum PieceShape: String, CaseIterable, Sendable {
    case circle, square, triangle, diamond, bar, pentagon, star, hexagon, plus

    /// The shape centred at `c`, about `size` native pixels across (at least 5: every part
    /// stays 2 to 3 pixels wide at 64 x 64).
    func shapes(at c: SIMD2<Float>, size: Float) -> [Shape] {
        let r = size / 2
        func regular(_ n: Int, _ radius: Float, phase: Float) -> [SIMD2<Float>] {
            (0..<n).map { k in
                let a = phase + 2 * Float.pi * Float(k) / Float(n)
                return c + radius * SIMD2(cosf(a), sinf(a))
            }
        }
        switch self {
        case .circle: return [.disc(cx: c.x, cy: c.y, r: r)]
        // Axis-aligned edges land on whole pixels when the centre does (sizes are even), so
        // their masks do not flicker with sub-pixel anti-aliasing.
        case .square: let h = (r * 0.9).rounded(); return [.rect(x0: c.x - h, y0: c.y - h, x1: c.x + h, y1: c.y + h)]
        case .triangle:
            return [.polygon([c + SIMD2(0, -r), c + SIMD2(r, r * 0.8), c + SIMD2(-r, r * 0.8)])]
        case .diamond: return [.polygon(regular(4, r * 1.05, phase: -.pi / 2))]
        case .bar: let h = max(2, (r * 0.55).rounded()); return [.rect(x0: c.x - r, y0: c.y - h, x1: c.x + r, y1: c.y + h)]
        case .pentagon: return [.polygon(regular(5, r, phase: -.pi / 2))]
        case .hexagon: return [.polygon(regular(6, r, phase: 0))]
        case .star:
            // Ten vertices alternating between the outer and inner radius; the inner radius keeps
            // the arms about 3 pixels wide at the smallest size.
            let outer = regular(5, r * 1.1, phase: -.pi / 2), inner = regular(5, r * 0.55, phase: -.pi / 2 + .pi / 5)
            return [.polygon((0..<5).flatMap { [outer[$0], inner[$0]] })]
        case .plus:
            let a = max((r * 0.38).rounded(.up), 1)
            return [.rect(x0: c.x - r, y0: c.y - a, x1: c.x + r, y1: c.y + a),
                    .rect(x0: c.x - a, y0: c.y - r, x1: c.x + a, y1: c.y + r)]
        }
    }
}

/// How an obstacle is drawn.
enum Glyph: String, CaseIterable, Sendable {
    case plus, dot, square, bar, cross, diamond

    /// What the prompt calls them.
    var plural: String {
        switch self {
        case .plus: return "crosses"
        case .dot: return "dots"
        case .square: return "blocks"
        case .bar: return "bars"
        case .cross: return "x shapes"
        case .diamond: return "diamonds"
        }
    }

    /// The glyph centred in a cell at `c`, inside a `7 x 7` box (arms at least 2.5 pixels wide).
    func shapes(at c: SIMD2<Float>, vertical: Bool) -> [Shape] {
        switch self {
        case .plus:
            return [.rect(x0: c.x - 3.5, y0: c.y - 1.5, x1: c.x + 3.5, y1: c.y + 1.5),
                    .rect(x0: c.x - 1.5, y0: c.y - 3.5, x1: c.x + 1.5, y1: c.y + 3.5)]
        case .dot: return [.disc(cx: c.x, cy: c.y, r: 3.2)]
        case .square: return [.rect(x0: c.x - 3, y0: c.y - 3, x1: c.x + 3, y1: c.y + 3)]
        case .bar:
            return vertical ? [.rect(x0: c.x - 1.5, y0: c.y - 3.5, x1: c.x + 1.5, y1: c.y + 3.5)]
                : [.rect(x0: c.x - 3.5, y0: c.y - 1.5, x1: c.x + 3.5, y1: c.y + 1.5)]
        case .cross:
            // Two bars along the diagonals, 2.6 pixels thick.
            let h: Float = 1.3 * Float(2).squareRoot(), e: Float = 3.2
            return [.polygon([c + SIMD2(-e, -e + h), c + SIMD2(-e + h, -e), c + SIMD2(e, e - h), c + SIMD2(e - h, e)]),
                    .polygon([c + SIMD2(e - h, -e), c + SIMD2(e, -e + h), c + SIMD2(-e + h, e), c + SIMD2(-e, e - h)])]
        case .diamond:
            return [.polygon([c + SIMD2(0, -3.8), c + SIMD2(3.8, 0), c + SIMD2(0, 3.8), c + SIMD2(-3.8, 0)])]
        }
    }
}

/// How a ball's target is drawn.
enum TargetStyle: String, CaseIterable, Sendable {
    /// A filled square in a colour of its own (the canonical look, in red).
    case filled
    /// A pale square: the ball's colour mixed with the background.
    case pale
    /// The outline of a square, 2 pixels thick.
    case outlined
    /// A grey square.
    case slot
    /// A small flag on a pole (held out).
    case flag
    /// A bullseye: a ring around a dot.
    case icon

    /// Whether the judge should test arrival against a box instead of the target's pixels
    /// (the ball does not cover an outline's, a flag's or an icon's pixels when it arrives).
    var needsBox: Bool { self == .outlined || self == .flag || self == .icon }
}

/// A task's sampled look. The canonical look draws nothing from here; the families keep
/// their own drawing for it.
struct Look {
    let split: LookSplit
    /// The look's own random stream, apart from the layout's, so that the layout of a seed
    /// does not depend on how its look was drawn.
    var rng: SplitMix64
    let background: Colour
    /// Faint grid lines over the background, and their spacing in native pixels.
    let grid: (colour: Colour, pitch: Float, offset: Float)?
    /// The first frame's side in pixels (square: the pipeline squashes other aspects until it
    /// letterboxes them): 128 or 256, 64 held out. Each native pixel of the solution is the
    /// mean of `Look.samples` x `Look.samples` samples, and each pixel of the first frame the
    /// mean of the same samples, so the first frame averaged down is the solution's first frame.
    let frameSide: Int
    static let samples = 4
    /// Objects' size relative to the canonical drawing.
    let scale: Float
    /// Whether a colour of a held-out hue is in the task already (`heldout` draws the first
    /// object colour from those hues, the others from anywhere).
    var heldOutDrawn = false

    /// Hue bands (degrees) that only `heldout` draws from.
    static let heldOutHues: [ClosedRange<Float>] = [95...125, 290...320]
    static let heldOutPieceShapes: [PieceShape] = [.star, .hexagon, .plus]
    static let variedPieceShapes: [PieceShape] = [.circle, .square, .triangle, .diamond, .bar, .pentagon]
    static let heldOutGlyphs: [Glyph] = [.cross, .diamond]
    static let variedGlyphs: [Glyph] = [.plus, .dot, .square, .bar]
    static let heldOutTargets: [TargetStyle] = [.flag]
    static let variedTargets: [TargetStyle] = [.filled, .pale, .outlined, .slot, .icon]
    static let variedScale: ClosedRange<Float> = 0.85...1.15
    static let heldOutScales: [ClosedRange<Float>] = [0.72...0.8, 1.2...1.3]
    static let variedFrameSides = [128, 256]
    static let heldOutFrameSides = [64]

    /// - Parameter split: `canonical` gives the plain look of the families added after the
    ///   shipped model (a light background from the canonical palette, no grid, 256 x 256,
    ///   canonical sizes, colours from the canonical palette, the first wording of each
    ///   choice); the four first families keep their own canonical drawing and never build one.
    init(split: LookSplit, seed: UInt64, salt: UInt64) {
        self.split = split
        var rng = SplitMix64(seed: seed ^ (salt &* 0xD1B5_4A32_D192_ED03) ^ 0x4C6F_6F6B)
        if split == .canonical {
            frameSide = 256; scale = 1; grid = nil
            background = rng.pick(Palette.backgrounds)
            self.rng = rng
            return
        }
        let held = split == .heldout
        frameSide = held ? rng.pick(Look.heldOutFrameSides) : rng.pick(Look.variedFrameSides)
        if held && rng.chance(0.6) {
            let r = rng.pick(Look.heldOutScales)
            scale = r.lowerBound + rng.uniform() * (r.upperBound - r.lowerBound)
        } else {
            scale = Look.variedScale.lowerBound + rng.uniform() * (Look.variedScale.upperBound - Look.variedScale.lowerBound)
        }
        let dark = rng.chance(0.35)
        let hue = Look.hue(&rng, split: split, heldOutFirst: false)
        let bg = dark ? Look.colour(hue, rng.uniform() * 0.3, 0.08 + rng.uniform() * 0.14)
            : Look.colour(hue, rng.uniform() * 0.12, 0.88 + rng.uniform() * 0.1)
        background = bg
        if rng.chance(0.4) {
            // 22 to 30 levels from the background: visible, far from every object's tolerance.
            let shift = Float(22 + rng.int(0...8)) * (dark ? 1 : -1)
            func c(_ v: UInt8) -> UInt8 { UInt8(max(0, min(255, Float(v) + shift))) }
            let g = Colour(r: c(bg.r), g: c(bg.g), b: c(bg.b), name: "grid")
            let pitch = Float(rng.int(6...12))
            grid = (g, pitch, Float(rng.int(0..<Int(pitch))))
        } else {
            grid = nil
        }
        self.rng = rng
    }

    /// The grid lines as a static layer, 1 native pixel thick (faint: no rule names them).
    func gridLayer(frames: Int) -> [Layer] {
        guard let g = grid else { return [] }
        var shapes: [Shape] = []
        var p = g.offset
        let W = Float(NativeVideo.size)
        while p < W {
            shapes.append(.rect(x0: p, y0: 0, x1: p + 1, y1: W))
            shapes.append(.rect(x0: 0, y0: p, x1: W, y1: p + 1))
            p += g.pitch
        }
        return [Layer(color: g.colour, shapes: shapes, frames: frames)]
    }

    // MARK: colours

    /// HSV (hue in degrees, saturation and value in [0, 1]) to a colour named for its hue.
    static func colour(_ h: Float, _ s: Float, _ v: Float) -> Colour {
        let c = v * s, hp = (h.truncatingRemainder(dividingBy: 360)) / 60
        let x = c * (1 - abs(hp.truncatingRemainder(dividingBy: 2) - 1)), m = v - c
        var rgb: (Float, Float, Float)
        switch Int(hp) {
        case 0: rgb = (c, x, 0)
        case 1: rgb = (x, c, 0)
        case 2: rgb = (0, c, x)
        case 3: rgb = (0, x, c)
        case 4: rgb = (x, 0, c)
        default: rgb = (c, 0, x)
        }
        func b(_ f: Float) -> UInt8 { UInt8(min(255, max(0, ((f + m) * 255).rounded()))) }
        var col = Colour(r: b(rgb.0), g: b(rgb.1), b: b(rgb.2), name: "")
        col.name = name(of: col)
        return col
    }

    /// Hue (degrees), saturation and value of a colour.
    static func hsv(_ c: Colour) -> (h: Float, s: Float, v: Float) {
        let r = Float(c.r) / 255, g = Float(c.g) / 255, b = Float(c.b) / 255
        let mx = max(r, g, b), mn = min(r, g, b), d = mx - mn
        var h: Float = 0
        if d > 0 {
            if mx == r { h = 60 * ((g - b) / d).truncatingRemainder(dividingBy: 6) }
            else if mx == g { h = 60 * ((b - r) / d + 2) }
            else { h = 60 * ((r - g) / d + 4) }
        }
        if h < 0 { h += 360 }
        return (h, mx > 0 ? d / mx : 0, mx)
    }

    /// A plain colour word for a colour (what a person would call it).
    static func name(of c: Colour) -> String {
        let (h, s, v) = hsv(c)
        if s < 0.25 { return v > 0.8 ? "white" : v < 0.3 ? "black" : "grey" }
        let words: [(Float, String)] = [(12, "red"), (40, "orange"), (66, "yellow"), (95, "lime"), (155, "green"),
                                        (185, "teal"), (205, "cyan"), (255, "blue"), (285, "purple"), (330, "magenta"),
                                        (350, "pink"), (361, "red")]
        let word = words.first { h < $0.0 }!.1
        return v < 0.5 ? "dark \(word)" : word
    }

    /// Whether a colour is chromatic enough for its hue to count as a look (the held-out hue
    /// bands apply to these).
    static func isChromatic(_ c: Colour) -> Bool { let (_, s, v) = hsv(c); return s >= 0.3 && v >= 0.3 }

    static func inHeldOutHues(_ h: Float) -> Bool { heldOutHues.contains { $0.contains(h) } }

    /// A hue for this split: `varied` keeps 4 degrees clear of the held-out bands (8-bit
    /// rounding moves a hue by up to about 2).
    static func hue(_ rng: inout SplitMix64, split: LookSplit, heldOutFirst: Bool) -> Float {
        if split == .heldout && heldOutFirst {
            let band = rng.pick(heldOutHues)
            return band.lowerBound + 3 + rng.uniform() * (band.upperBound - band.lowerBound - 6)
        }
        while true {
            let h = rng.uniform() * 360
            if split == .heldout || !heldOutHues.contains(where: { ($0.lowerBound - 4)...($0.upperBound + 4) ~= h }) { return h }
        }
    }

    /// Distance from `c` to the segment between `a` and `b` (the colours an anti-aliased edge
    /// between them takes).
    static func segmentDistance(_ c: Colour, _ a: Colour, _ b: Colour) -> Float {
        let p = SIMD3<Float>(Float(c.r), Float(c.g), Float(c.b)), u = SIMD3<Float>(Float(a.r), Float(a.g), Float(a.b))
        let w = SIMD3<Float>(Float(b.r), Float(b.g), Float(b.b)) - u
        let t = max(0, min(1, ((p - u) * w).sum() / max((w * w).sum(), 1e-6)))
        let d = p - (u + t * w)
        return (d * d).sum().squareRoot()
    }

    /// `count` saturated colours from the whole gamut (minus the held-out hues in `varied`;
    /// in `heldout` the first from a held-out band), each at least `minDistance` from the
    /// others and 150 from the background, with distinct names, and none within `tolerance +
    /// 20` of an edge blend between two others or the background (so colour masks stay
    /// unambiguous and the rules' tolerances valid).
    mutating func colours(_ count: Int, avoiding fixed: [Colour], minDistance: Float = 130, tolerance: Float = 70) -> [Colour] {
        if let c = tryColours(count, avoiding: fixed, minDistance: minDistance, tolerance: tolerance, attempts: 4000) { return c }
        fatalError("Look: no \(count) colours \(minDistance) apart on \(background.hex)")
    }

    /// `colours`, or nil after `attempts` draws (the blend margin relaxes from 20 to 0 over them).
    mutating func tryColours(_ count: Int, avoiding fixed: [Colour], minDistance: Float = 130, tolerance: Float = 70,
                             attempts: Int) -> [Colour]? {
        if split == .canonical {
            let pool = Palette.brights.filter { c in !fixed.contains { $0.name == c.name } && (fixed + [background]).allSatisfy { $0.distance(c) >= 140 } }
            for _ in 0..<50 {
                var p = pool
                rng.shuffle(&p)
                var chosen: [Colour] = []
                for c in p where chosen.count < count && chosen.allSatisfy({ $0.distance(c) >= 140 }) { chosen.append(c) }
                if chosen.count == count { return chosen }
            }
            return nil
        }
        for attempt in 0..<attempts {
            var chosen: [Colour] = []
            var ok = true
            for k in 0..<count {
                var found = false
                for _ in 0..<60 {
                    let h = Look.hue(&rng, split: split, heldOutFirst: k == 0 && !heldOutDrawn && attempt < attempts / 2)
                    let c = Look.colour(h, 0.6 + rng.uniform() * 0.4, 0.5 + rng.uniform() * 0.5)
                    if c.distance(background) < 150 { continue }
                    if (fixed + chosen).contains(where: { $0.distance(c) < minDistance || $0.name == c.name }) { continue }
                    chosen.append(c); found = true; break
                }
                if !found { ok = false; break }
            }
            if ok && blendsClear(chosen, fixed, tolerance: tolerance + 20 - Float(min(3 * attempt / attempts, 2)) * 10) {
                if split == .heldout && chosen.contains(where: { Look.inHeldOutHues(Look.hsv($0).h) }) { heldOutDrawn = true }
                return chosen
            }
        }
        return nil
    }

    /// Whether no colour lies near a blend of two others (or of one with the background).
    func blendsClear(_ chosen: [Colour], _ fixed: [Colour], tolerance: Float) -> Bool {
        let all = [background] + fixed + chosen
        for c in all.dropFirst() {
            for i in all.indices { for j in all.indices where j > i {
                if all[i] == c || all[j] == c { continue }
                if Look.segmentDistance(c, all[i], all[j]) < tolerance { return false }
            } }
        }
        return true
    }

    /// A wall or obstacle colour: dark on a light background, light on a dark one, or now and
    /// then a saturated colour; 150 or more from the background.
    mutating func structureColour() -> Colour {
        if split == .canonical { return rng.pick(Palette.darks) }
        let darkBackground = Look.hsv(background).v < 0.5
        for _ in 0..<1000 {
            let h = Look.hue(&rng, split: split, heldOutFirst: false)
            let c: Colour
            if rng.chance(0.25) { c = Look.colour(h, 0.5 + rng.uniform() * 0.5, 0.35 + rng.uniform() * 0.3) }
            else if darkBackground { c = Look.colour(h, rng.uniform() * 0.2, 0.8 + rng.uniform() * 0.2) }
            else { c = Look.colour(h, rng.uniform() * 0.8, 0.1 + rng.uniform() * 0.2) }
            if c.distance(background) >= 160 { return c }
        }
        fatalError("Look: no structure colour for \(background.hex)")
    }

    /// The background mixed toward grey, for slots: at least 60 from the background.
    func slotColour() -> Colour {
        let darkBackground = Look.hsv(background).v < 0.5
        let v: UInt8 = darkBackground ? 120 : 150
        return Colour(r: v, g: v, b: v, name: "grey")
    }

    // MARK: choices

    /// One of the varied options, or in `heldout` mostly one of the held-out ones.
    mutating func choose<T>(_ varied: [T], _ heldOut: [T]) -> T {
        if split == .canonical { return rng.pick(varied) }
        if split == .heldout && !heldOut.isEmpty && (varied.isEmpty || rng.chance(0.7)) { return rng.pick(heldOut) }
        return rng.pick(varied)
    }

    mutating func pieceShape() -> PieceShape { choose(Look.variedPieceShapes, Look.heldOutPieceShapes) }
    mutating func glyph() -> Glyph { choose(Look.variedGlyphs, Look.heldOutGlyphs) }
    mutating func targetStyle() -> TargetStyle { choose(Look.variedTargets, Look.heldOutTargets) }
    mutating func words(_ w: Wording.Choice) -> String { split == .canonical ? w.varied[0] : choose(w.varied, w.heldOut) }
    mutating func chance(_ p: Double) -> Bool { rng.chance(p) }
}

/// Normalised box of a region in native pixels, for rule files: `[x0, y0, x1, y1]` in [0, 1].
func boxRegion(_ b: SIMD4<Float>, margin: Float = 0) -> JSONValue {
    let W = Float(NativeVideo.size)
    func n(_ v: Float) -> JSONValue {
        let x = Double(max(0, min(W, v))) / Double(W)
        return .number((x * 10_000).rounded() / 10_000)
    }
    return .object([("box", .array([n(b.x - margin), n(b.y - margin), n(b.z + margin), n(b.w + margin)]))])
}
