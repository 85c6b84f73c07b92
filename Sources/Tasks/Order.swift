import Basics

/// Three or four objects in a row, rearranged into a given order from left to right.
///
/// Slots are 14 native pixels apart. In local layouts one adjacent pair is swapped; in the
/// others the arrangement is shuffled. Each object that must move steps out of the row into
/// its own lane (9 or 18 pixels above or below; the lanes go to the movers from left to
/// right), slides to its slot's column, and steps back, all objects in the same three phases,
/// so no two ever overlap.
enum OrderFamily {
    static let spacing: Float = 14
    static let lanes: [Float] = [9, -9, 18, -18]

    static func build(_ rng: inout SplitMix64) -> Built {
        let frames = NativeVideo.frames, W = Float(NativeVideo.size)
        let count = rng.int(3...4)
        let bg = rng.pick(Palette.backgrounds)
        let colours = Palette.pick(count, avoiding: [bg], &rng, minDistance: 150)
        let discs = rng.chance(0.5)
        let x0 = ((W - spacing * Float(count - 1)) / 2).rounded(.down) + Float(rng.int(-2...2))
        let rowY = Float(32 + rng.int(-4...4))
        // goal[k] = the object that must end in slot k; colours[i] is object i.
        let (goal, startSlot) = orderTask(count, &rng)
        func slotCentre(_ s: Int) -> SIMD2<Float> { SIMD2(x0 + spacing * Float(s), rowY) }

        var layers: [Layer] = []
        for i in 0..<count {
            let c = slotCentre(startSlot[i])
            let shape: Shape = discs ? .disc(cx: c.x, cy: c.y, r: 3.6)
                : .rect(x0: (c.x - 3.5).rounded(), y0: (c.y - 3.5).rounded(), x1: (c.x - 3.5).rounded() + 7, y1: (c.y - 3.5).rounded() + 7)
            layers.append(Layer(color: colours[i], shapes: [shape], frames: frames))
        }
        let solution = plan(from: startSlot, to: goal, frames: frames)
        for i in 0..<count { layers[i].offsets = solution[i] }
        let scene = Scene(background: bg, layers: layers)

        let noun = discs ? "disc" : "square"
        let names = colours.map(\.name)
        let objects = colours.map { ($0.name, RulesText.object($0)) }
        let ordered = goal.map { names[$0] }
        var process: [JSONValue] = []
        for n in names { process.append(RulesText.intact(n, "\(n) \(noun)")) }
        for n in names { process.append(RulesText.smooth(n, "\(n) \(noun)", maxStep: 0.12)) }
        let rules = RulesText.file(
            objects: objects,
            goal: RulesText.question("By the end of the video, are the \(noun)s in the order \(ordered.joined(separator: ", ")) from left to right?",
                                     "order", [("objects", .array(ordered.map { .string($0) })), ("axis", .string("x"))]),
            process: process)
        let prompt = "Rearrange the \(noun)s so that from left to right they read \(ordered.joined(separator: ", ")). Move them without overlapping."

        // The wrong ending: an adjacent pair of the requested order swapped.
        var wrongGoal = goal
        let k = rng.int(0..<(count - 1)); wrongGoal.swapAt(k, k + 1)
        let wrongPlan = plan(from: startSlot, to: wrongGoal, frames: frames)
        var wrong: [Int: [SIMD2<Float>]] = [:]
        for i in 0..<count { wrong[i] = wrongPlan[i] }
        let primary = (0..<count).first { startSlot[$0] != goal.firstIndex(of: $0)! } ?? 0
        var built = Built(scene: scene, prompt: prompt, rules: rules, moving: Array(0..<count), primary: primary,
                          goalNeedsArrival: false, wrongEnding: wrong)
        built.obstacles = nil
        return built
    }

    /// Offsets of every object, `[objects][frames]`, moving object i from slot `from[i]` to the
    /// slot where `to` puts it, in three phases (out to a lane, across, back).
    static func plan(from startSlot: [Int], to goal: [Int], frames: Int) -> [[SIMD2<Float>]] {
        let count = startSlot.count
        var endSlot = [Int](repeating: 0, count: count)
        for (slot, obj) in goal.enumerated() { endSlot[obj] = slot }
        var lane = [Float](repeating: 0, count: count)
        var next = 0
        // Lanes go to the moving objects from left to right as they start, so the plan is a
        // function of the first frame and the prompt.
        for i in (0..<count).sorted(by: { startSlot[$0] < startSlot[$1] }) where endSlot[i] != startSlot[i] {
            lane[i] = lanes[next % lanes.count]; next += 1
        }
        let V = lane.map(abs).max() ?? 0
        let H = (0..<count).map { abs(Float(endSlot[$0] - startSlot[$0])) * spacing }.max() ?? 0
        let T = Float(frames - 1)
        let t1 = V + H > 0 ? T * V / (2 * V + H) : 0, t2 = T - t1
        var out: [[SIMD2<Float>]] = []
        for i in 0..<count {
            let dxTotal = Float(endSlot[i] - startSlot[i]) * spacing
            var o: [SIMD2<Float>] = []
            for f in 0..<frames {
                let t = Float(f)
                var y: Float = 0, x: Float = 0
                if t <= t1 { y = t1 > 0 ? lane[i] * t / t1 : lane[i] }
                else if t < t2 { y = lane[i]; x = dxTotal * (t - t1) / max(t2 - t1, 1e-6) }
                else { x = dxTotal; y = t1 > 0 ? lane[i] * (T - t) / t1 : 0 }
                o.append(SIMD2(x, y))
            }
            out.append(o)
        }
        return out
    }
}

extension OrderFamily {
    /// The same task in a sampled look: one shape of the look for every object (6 to 8 pixels
    /// across, so the lanes 9 pixels apart stay clear), colours from the gamut, the order
    /// worded in several ways.
    static func buildVaried(_ rng: inout SplitMix64, look: inout Look) -> Built {
        let frames = NativeVideo.frames, W = Float(NativeVideo.size)
        let count = rng.int(3...4)
        let colours = look.colours(count, avoiding: [])
        let kind = look.pieceShape()
        let size = max(6, min(8, 2 * (3.6 * look.scale).rounded()))
        let x0 = ((W - spacing * Float(count - 1)) / 2).rounded(.down) + Float(rng.int(-2...2))
        let rowY = Float(32 + rng.int(-4...4))
        let (goal, startSlot) = orderTask(count, &rng)
        var scene = Scene(background: look.background, layers: look.gridLayer(frames: frames))
        let skip = scene.layers.count
        let solution = plan(from: startSlot, to: goal, frames: frames)
        for i in 0..<count {
            var l = Layer(color: colours[i], shapes: kind.shapes(at: SIMD2(x0 + spacing * Float(startSlot[i]), rowY), size: size), frames: frames)
            l.offsets = solution[i]
            scene.layers.append(l)
        }
        let distractor = look.chance(0.3) ? Distractor.add(to: &scene, look: &look, avoiding: colours, skipLayers: skip) : nil

        let noun = kind.rawValue
        let names = colours.map(\.name)
        var objects = colours.map { ($0.name, RulesText.object($0)) }
        let ordered = goal.map { names[$0] }
        var process: [JSONValue] = []
        for n in names { process.append(RulesText.intact(n, "\(n) \(noun)", areaTolerance: 0.5)) }
        for n in names { process.append(RulesText.smooth(n, "\(n) \(noun)", maxStep: 0.12)) }
        if let d = distractor {
            objects.append((d.name, RulesText.object(d.colour)))
            process.append(d.question)
        }
        let rules = RulesText.file(
            objects: objects,
            goal: RulesText.question("By the end of the video, are the \(noun)s in the order \(ordered.joined(separator: ", ")) from left to right?",
                                     "order", [("objects", .array(ordered.map { .string($0) })), ("axis", .string("x"))]),
            process: process)
        let list = ordered.dropLast().joined(separator: ", ") + " and " + ordered.last!
        var prompt: String
        switch look.rng.int(0...1) {
        case 0: prompt = "\(look.words(Wording.arrange)) the \(noun)s so that \(look.words(Wording.orderPhrase)) \(list)."
        default: prompt = "From left to right the \(noun)s should be \(list). \(look.words(Wording.arrange)) them."
        }
        prompt += look.words(Wording.extra)
        if let d = distractor, look.chance(0.5) { prompt += " Leave the \(d.words) where it is." }

        var wrongGoal = goal
        let k = rng.int(0..<(count - 1)); wrongGoal.swapAt(k, k + 1)
        let wrongPlan = plan(from: startSlot, to: wrongGoal, frames: frames)
        var wrong: [Int: [SIMD2<Float>]] = [:]
        for i in 0..<count { wrong[skip + i] = wrongPlan[i] }
        let primary = skip + ((0..<count).first { startSlot[$0] != goal.firstIndex(of: $0)! } ?? 0)
        return Built(scene: scene, prompt: prompt, rules: rules, moving: Array(skip..<(skip + count)), primary: primary,
                     goalNeedsArrival: false, wrongEnding: wrong)
    }
}

/// The order to reach and the order to start from, for `count` objects: `goal[k]` is the object
/// that must end in slot k, `startSlot[i]` the slot object i starts in. 40% of tasks need one
/// swap of neighbours; the others differ from the goal in at least two places.
func orderTask(_ count: Int, _ rng: inout SplitMix64) -> (goal: [Int], startSlot: [Int]) {
    var goal = Array(0..<count); rng.shuffle(&goal)
    var startOrder = goal
    if rng.chance(0.4) {
        let k = rng.int(0..<(count - 1)); startOrder.swapAt(k, k + 1)
    } else {
        while startOrder == goal || zip(startOrder, goal).filter({ $0 != $1 }).count < 2 { rng.shuffle(&startOrder) }
    }
    var startSlot = [Int](repeating: 0, count: count)
    for (slot, obj) in startOrder.enumerated() { startSlot[obj] = slot }
    return (goal, startSlot)
}
