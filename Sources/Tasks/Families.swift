import Basics
import Media

/// The generated task families.
public enum Family: String, CaseIterable, Codable, Sendable {
    /// A ball through a maze to a target square, without touching the walls.
    case maze
    /// A ball across a grid of crosses to a target square, without touching a cross.
    case obstacles
    /// Two or three coloured pieces moved onto the pale outlines of their own shape.
    case align
    /// Three or four objects rearranged into a given order from left to right.
    case order
    /// Two or three cards onto the outlines of their own shape; every outline the same colour,
    /// so only the shape tells which outline is whose.
    case shapes
    /// Two or three identical pieces into as many identical slots, one piece in each.
    case slots
    /// A grid of tiles with one gap: the marked tile beside the gap slides into it.
    case slide
    /// A ball to a target square, passing over a waypoint on the way (the straight line misses it).
    case waypoint

    /// The families the shipped Reasoner (v6) was trained and measured on: `tutor train`'s and
    /// the benchmarks' default, so that their figures stay comparable.
    public static let original: [Family] = [.maze, .obstacles, .align, .order]
}

/// Task generation: every family, every seed, deterministic.
///
/// Seeds split into a training set and a held-out set: seeds below `heldOutSeedStart`
/// (0 ..< 1,000,000) are for training the Reasoner; seeds from 1,000,000 up are held out
/// for evaluation and benchmarks (the example tasks in spool/incoming use them). The same
/// family and seed give the same task on every machine: randomness comes only from
/// `SplitMix64(seed)` mixed with the family.
public enum Families {
    public static let heldOutSeedStart: UInt64 = 1_000_000

    public static func isHeldOut(seed: UInt64) -> Bool { seed >= heldOutSeedStart }

    /// Parses `WxH` (`--size 512x340`): each side 16 to 4096.
    public static func parseSize(_ text: String) -> (width: Int, height: Int)? {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), (16...4096).contains(w), (16...4096).contains(h)
        else { return nil }
        return (w, h)
    }

    /// Generates one task: prompt, rules, first frame (256 x 256), the solution video at
    /// native size and the track of every moving object. Takes well under 10 ms in a
    /// release build.
    ///
    /// - Parameters:
    ///   - size: the first frame's width and height; nil for the 256 x 256 sample grid. At
    ///     another size and aspect the same task is drawn as large as fits, centred on the
    ///     background, each pixel the mean of 4 x 4 samples (anti-aliased, as renderers draw;
    ///     fewer past a side of 1024, to bound the memory).
    ///     The rules are the same (they name colours only); the solution stays native.
    ///   - identicalPieces: `align` only: every piece the same shape and colour.
    ///   - look: the ranges the drawing and the wording are sampled from (`LookSplit`); the
    ///     canonical look is today's drawing, the same bytes for every seed. A varied or
    ///     held-out look draws the first frame at its own square size when `size` is nil.
    public static func generate(family: Family, seed: UInt64, size: (width: Int, height: Int)? = nil,
                                identicalPieces: Bool = false, look: LookSplit = .canonical) -> GeneratedTask {
        let b = build(family: family, seed: seed, identicalPieces: identicalPieces, look: look)
        let solution = b.scene.render()
        let tracks = b.moving.map { k in
            let layer = b.scene.layers[k]
            return LayerTrack(color: layer.color.bytes, firstFrameCoverage: b.scene.coverage(of: layer),
                              offsets: layer.offsets)
        }
        return GeneratedTask(family: family.rawValue, seed: seed, prompt: b.prompt, rulesJSON: RulesText.pretty(b.rules),
                             firstFrame: drawn(b, frame: 0, size: size),
                             solution: solution, tracks: tracks)
    }

    /// Samples per pixel along each axis for a first frame of this size: 4, fewer past a side
    /// of 1024 (bounds the memory).
    static func samples(for size: (width: Int, height: Int)) -> Int {
        max(1, min(4, 4096 / max(size.width, size.height)))
    }

    /// The solution video with `fault` injected, at native size; nil when the fault does not
    /// apply to this task (a maze has no outlines; a ball one cell from its target cannot teleport).
    public static func faultyVideo(family: Family, seed: UInt64, fault: Fault, look: LookSplit = .canonical) -> Video? {
        let b = build(family: family, seed: seed, look: look)
        guard let scene = fault.apply(to: b) else { return nil }
        return Video(images: scene.render())
    }

    static func build(family: Family, seed: UInt64, identicalPieces: Bool = false, look split: LookSplit = .canonical) -> Built {
        // Mix the family into the stream so that equal seeds of two families are unrelated.
        let salt: UInt64
        switch family {
        case .maze: salt = 0x6d617a65
        case .obstacles: salt = 0x6f627374
        case .align: salt = 0x616c6967
        case .order: salt = 0x6f726472
        case .shapes: salt = 0x73686170
        case .slots: salt = 0x736c6f74
        case .slide: salt = 0x736c6964
        case .waypoint: salt = 0x77617970
        }
        var rng = SplitMix64(seed: seed ^ (salt &* 0x9E37_79B9_7F4A_7C15))
        if split != .canonical || !Family.original.contains(family) {
            var look = Look(split: split, seed: seed, salt: salt)
            var b: Built
            switch family {
            case .maze: b = MazeFamily.buildVaried(&rng, look: &look)
            case .obstacles: b = ObstaclesFamily.buildVaried(&rng, look: &look)
            case .align: b = AlignFamily.buildVaried(&rng, look: &look, identical: identicalPieces)
            case .order: b = OrderFamily.buildVaried(&rng, look: &look)
            case .shapes: b = ShapesFamily.build(&rng, look: &look)
            case .slots: b = SlotsFamily.build(&rng, look: &look)
            case .slide: b = SlideFamily.build(&rng, look: &look)
            case .waypoint: b = WaypointFamily.build(&rng, look: &look)
            }
            b.frameSide = look.frameSide
            b.scene.scale = Look.samples
            return b
        }
        switch family {
        case .maze: return MazeFamily.build(&rng)
        case .obstacles: return ObstaclesFamily.build(&rng)
        case .align: return AlignFamily.build(&rng, identical: identicalPieces)
        case .order: return OrderFamily.build(&rng)
        default: fatalError("unreachable: the new families are built above")
        }
    }
}

/// What a family builds for one seed, with what the fault injector needs to know.
struct Built {
    var scene: Scene
    var prompt: String
    var rules: JSONValue
    /// Layers that move in the solution, in track order.
    var moving: [Int]
    /// The layer the generic faults act on (the ball, the first piece, the first object that moves).
    var primary: Int
    /// The static obstacles (walls, crosses), when the family has them.
    var obstacles: Int? = nil
    /// Whether stopping halfway defeats the goal (not so for `order`, where only the order counts).
    var goalNeedsArrival = true
    /// Offsets for the family's own fault (`wrongOutline`, `wrongOrder`): layer -> `[frames]`.
    var wrongEnding: [Int: [SIMD2<Float>]] = [:]
    /// The primary layer's straight route to its end, when the task forbids it (`skipsWaypoint`).
    var shortcut: [SIMD2<Float>]? = nil
    /// The first frame's side in pixels, when the look chose one (nil: the 256 x 256 sample grid).
    var frameSide: Int? = nil
}

/// Palettes from which each task picks colours far enough apart that colour masks never
/// confuse two objects, nor an object with the blend at another's edge.
enum Palette {
    static let backgrounds = [
        Colour(r: 245, g: 245, b: 240, name: "white"), Colour(r: 236, g: 241, b: 248, name: "pale blue"),
        Colour(r: 248, g: 241, b: 228, name: "cream"),
    ]
    static let darks = [
        Colour(r: 35, g: 35, b: 35, name: "black"), Colour(r: 30, g: 32, b: 84, name: "dark blue"),
        Colour(r: 84, g: 52, b: 30, name: "brown"),
    ]
    static let brights = [
        Colour(r: 240, g: 190, b: 0, name: "yellow"), Colour(r: 30, g: 90, b: 220, name: "blue"),
        Colour(r: 30, g: 150, b: 60, name: "green"), Colour(r: 200, g: 40, b: 170, name: "magenta"),
        Colour(r: 245, g: 120, b: 10, name: "orange"), Colour(r: 0, g: 175, b: 210, name: "cyan"),
        Colour(r: 125, g: 60, b: 205, name: "purple"), Colour(r: 210, g: 30, b: 30, name: "red"),
    ]

    /// Picks `count` bright colours, each at least `minDistance` from the others and from `fixed`.
    static func pick(_ count: Int, avoiding fixed: [Colour], _ rng: inout SplitMix64, minDistance: Float = 140,
                     from pool: [Colour] = brights) -> [Colour] {
        for _ in 0..<500 {
            var p = pool
            rng.shuffle(&p)
            var chosen: [Colour] = []
            for c in p where chosen.count < count {
                if (fixed + chosen).allSatisfy({ $0.distance(c) >= minDistance }) { chosen.append(c) }
            }
            if chosen.count == count { return chosen }
        }
        fatalError("Palette: no \(count) colours \(minDistance) apart; the palette is too small")
    }
}

/// Building blocks for the rule files the families write.
enum RulesText {
    static func object(_ c: Colour, tolerance: Int? = nil) -> JSONValue {
        var kv: [(String, JSONValue)] = [("color", .string(c.hex))]
        if let t = tolerance { kv.append(("tolerance", .number(Double(t)))) }
        return .object(kv)
    }

    static func question(_ q: String, _ type: String, _ fields: [(String, JSONValue)]) -> JSONValue {
        .object([("question", .string(q)), ("check", .object([("type", .string(type))] + fields))])
    }

    static func file(objects: [(String, JSONValue)], goal: JSONValue, process: [JSONValue], lambda: Double = 0.5) -> JSONValue {
        .object([("version", .number(1)), ("objects", .object(objects)), ("goal", goal),
                 ("process", .array(process)), ("lambda", .number(lambda))])
    }

    /// - Parameter areaTolerance: nil for the default (0.35); small round objects need more,
    ///   because their pixel area varies with their sub-pixel position.
    static func intact(_ name: String, _ words: String, areaTolerance: Double? = nil) -> JSONValue {
        var fields: [(String, JSONValue)] = [("object", .string(name))]
        if let a = areaTolerance { fields.append(("area_tolerance", .number(a))) }
        return question("Does the \(words) stay intact, without splitting or vanishing?", "intact", fields)
    }

    /// - Parameter maxStep: in frame widths per frame; the families move at most 4 to 5.2
    ///   pixels (0.06 to 0.08) a frame, and a teleport jumps at least 10.
    static func smooth(_ name: String, _ words: String, maxStep: Double = 0.1) -> JSONValue {
        question("Does the \(words) move smoothly, without jumping?", "smooth",
                 [("object", .string(name)), ("max_step", .number(maxStep))])
    }

    /// The rule file as people read it: one object, question or check per line.
    static func pretty(_ v: JSONValue) -> String {
        guard case .object(let top) = v else { return v.serialized() }
        var lines: [String] = []
        for (k, val) in top {
            var text = "  \"\(k)\": "
            switch val {
            case .object(let kv) where k == "objects":
                text += "{\n" + kv.map { "    \(JSONValue.string($0.0).serialized()): \($0.1.serialized())" }.joined(separator: ",\n") + "\n  }"
            case .array(let a):
                text += a.isEmpty ? "[]" : "[\n" + a.map { "    " + $0.serialized() }.joined(separator: ",\n") + "\n  ]"
            default: text += val.serialized()
            }
            lines.append(text)
        }
        return "{\n" + lines.joined(separator: ",\n") + "\n}\n"
    }
}

/// Motion along a polyline at constant speed, as offsets from its first point.
///
/// - Returns: `[frames]`; frame 0 at the first point, the last frame at the last point.
func constantSpeed(_ points: [SIMD2<Float>], frames: Int) -> [SIMD2<Float>] {
    var lengths: [Float] = [0]
    for k in 1..<max(points.count, 1) {
        let d = points[k] - points[k - 1]
        lengths.append(lengths[k - 1] + (d * d).sum().squareRoot())
    }
    let total = lengths.last ?? 0
    var out: [SIMD2<Float>] = []
    for t in 0..<frames {
        let s = total * Float(t) / Float(max(frames - 1, 1))
        var k = 1
        while k < points.count - 1 && lengths[k] < s { k += 1 }
        if points.count < 2 || total == 0 { out.append(.zero); continue }
        let seg = max(lengths[k] - lengths[k - 1], 1e-6)
        let a = min(max((s - lengths[k - 1]) / seg, 0), 1)
        out.append(points[k - 1] + a * (points[k] - points[k - 1]) - points[0])
    }
    return out
}

/// Offsets at fractional frame `u` (linear between frames).
func offset(_ o: [SIMD2<Float>], at u: Float) -> SIMD2<Float> {
    let k = min(max(Int(u.rounded(.down)), 0), o.count - 1), k1 = min(k + 1, o.count - 1)
    let a = u - Float(k)
    return o[k] + a * (o[k1] - o[k])
}
