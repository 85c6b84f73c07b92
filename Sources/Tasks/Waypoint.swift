import Basics

/// A ball to a target square by way of a waypoint: it must pass over the waypoint (a filled
/// shape of its own colour) before it ends on the target. The straight line from the ball to
/// the target misses the waypoint, so going straight there fails.
///
/// The route is two straight legs at constant speed, to the waypoint's centre and on to the
/// target's centre. Layouts are drawn again until the ball on the straight line keeps at least
/// 3 pixels off the waypoint, the first leg keeps the ball off the target, the three are 14
/// pixels apart or more, and the route is at most 70 pixels long (under 5 pixels a frame).
enum WaypointFamily {
    static let maxRoute: Float = 70

    static func build(_ rng: inout SplitMix64, look: inout Look) -> Built {
        let frames = NativeVideo.frames
        let r = max(2.2, min(3.5, 3 * look.scale))
        let waypointSize = (9 * look.scale).rounded()
        let half = (4 * look.scale).rounded()   // half the target's side: its edges on whole pixels
        let (s, p, t) = layout(&rng, ball: r, waypoint: waypointSize / 2, target: half)

        let colours = look.colours(3, avoiding: [])
        let ball = colours[0], mark = colours[1], target = colours[2]
        let shape = look.pieceShape()
        var scene = Scene(background: look.background, layers: look.gridLayer(frames: frames))
        let skip = scene.layers.count
        scene.layers.append(Layer(color: target, shapes: [.rect(x0: t.x - half, y0: t.y - half, x1: t.x + half, y1: t.y + half)], frames: frames))
        scene.layers.append(Layer(color: mark, shapes: shape.shapes(at: p, size: waypointSize), frames: frames))
        let ballLayer = scene.layers.count
        var ballL = Layer(color: ball, shapes: [.disc(cx: s.x, cy: s.y, r: r)], frames: frames)
        ballL.offsets = constantSpeed([s, p, t], frames: frames)
        scene.layers.append(ballL)
        let canonical = look.split == .canonical
        let distractor = !canonical && look.chance(0.35)
            ? Distractor.add(to: &scene, look: &look, avoiding: colours, skipLayers: skip) : nil

        let ballWord = look.words(Wording.ball)
        let ballWords = canonical || look.chance(0.7) ? "\(ball.name) \(ballWord)" : ballWord
        let markWords = "\(mark.name) \(shape.rawValue)"
        let targetWords = canonical || look.chance(0.6) ? "\(target.name) square" : "\(target.name) \(look.words(Wording.target))"
        let objects: [(String, JSONValue)] = [("ball", RulesText.object(ball)), ("waypoint", RulesText.object(mark)),
                                              ("target", RulesText.object(target))]
        let rules = BallTask.rules(
            objects: objects, ballWords: ballWords, radius: r, targetWords: targetWords, target: .string("target"),
            before: [RulesText.question("Does the \(ballWords) pass over the \(markWords) before it reaches the \(targetWords)?", "path",
                                        [("object", .string("ball")), ("through", .array([.string("waypoint"), .string("target")]))])],
            still: [RulesText.question("Does the \(markWords) stay where it is?", "static", [("object", .string("waypoint"))]),
                    RulesText.question("Does the \(targetWords) stay where it is?", "static", [("object", .string("target"))])],
            distractor: distractor)

        let verb = look.words(Wording.move), via = look.words(Wording.waypoint)
        var prompt: String
        switch canonical ? 0 : look.rng.int(0...3) {
        case 0: prompt = "\(verb) the \(ballWords) to the \(targetWords), \(via) \(markWords) first."
        case 1: prompt = "First \(verb.lowercased()) the \(ballWords) over the \(markWords), then on to the \(targetWords)."
        case 2: prompt = "The \(ballWords) must pass over the \(markWords) before it reaches the \(targetWords)."
        default: prompt = "\(verb) the \(ballWords) through the \(markWords) and on to the \(targetWords)."
        }
        prompt += look.words(Wording.extra)
        if let d = distractor, look.chance(0.5) { prompt += " Leave the \(d.words) where it is." }
        var built = Built(scene: scene, prompt: prompt, rules: rules, moving: [ballLayer], primary: ballLayer)
        built.shortcut = constantSpeed([s, t], frames: frames)
        return built
    }

    /// The ball's start, the waypoint's centre and the target's centre, on whole pixels.
    static func layout(_ rng: inout SplitMix64, ball r: Float, waypoint w: Float, target h: Float)
        -> (SIMD2<Float>, SIMD2<Float>, SIMD2<Float>) {
        let margin = Int((max(w, h) + 2).rounded(.up))
        func point() -> SIMD2<Float> {
            SIMD2(Float(rng.int(margin...(NativeVideo.size - margin))), Float(rng.int(margin...(NativeVideo.size - margin))))
        }
        func length(_ v: SIMD2<Float>) -> Float { (v * v).sum().squareRoot() }
        while true {
            let s = point(), p = point(), t = point()
            if length(t - s) < 20 || length(p - s) < 14 || length(t - p) < 14 { continue }
            if length(p - s) + length(t - p) > maxRoute { continue }
            // The straight route keeps the whole ball 3 pixels off the waypoint's box (its
            // centroid then never enters the waypoint), and the first leg off the target.
            if segmentDistance(p, s, t) < w * 1.45 + r + 3 { continue }
            if segmentDistance(t, s, p) < h * 1.45 + r + 2 { continue }
            return (s, p, t)
        }
    }

    /// Distance from `q` to the segment `a`-`b`.
    static func segmentDistance(_ q: SIMD2<Float>, _ a: SIMD2<Float>, _ b: SIMD2<Float>) -> Float {
        let d = b - a, l2 = (d * d).sum()
        let u = l2 > 0 ? min(max(((q - a) * d).sum() / l2, 0), 1) : 0
        let e = q - (a + u * d)
        return (e * e).sum().squareRoot()
    }
}
