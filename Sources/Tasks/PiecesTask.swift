import Basics

/// The varied look of the piece tasks (align, shapes, slots): pieces moved onto where they
/// belong, drawn and worded from a `Look`.
enum PiecesTask {
    /// - Parameters:
    ///   - kinds: each piece's shape name (the prompt's noun).
    ///   - colours: each piece's colour (all one when `identical`).
    ///   - pieces, targets: each piece's shapes where it starts and where it belongs.
    ///   - offsets: each piece's offsets, `[frames]`.
    ///   - wrong: the wrong ending (the first two pieces trade places), when the pieces differ.
    static func build(look: inout Look, frames: Int, kinds: [String], colours: [Colour], identical: Bool,
                      style requested: AlignFamily.SlotStyle, pieces: [[Shape]], targets: [[Shape]],
                      offsets: [[SIMD2<Float>]], wrong: [[SIMD2<Float>]]?, maxStep: Double,
                      nounOverride: String? = nil, allowPale: Bool = true) -> Built {
        let count = pieces.count, bg = look.background
        // The first of the requested style, pale, slot that keeps every colour mask apart.
        var style = requested
        var targetColour = bg
        var tolerance = 30
        for s in [requested, .pale, .slot, .outlined] where !(identical && s == .outlined) && (allowPale || s != .pale) {
            switch s {
            case .pale:
                let tints = colours.map { $0.mixed(with: bg, 0.45, name: "pale \($0.name)") }
                if tints.allSatisfy({ $0.distance(bg) >= 50 }) { style = .pale; tolerance = 30 }
                else { continue }
            case .slot:
                let grey = look.slotColour()
                if grey.distance(bg) >= 60 && colours.allSatisfy({ $0.distance(grey) >= 100 && Look.segmentDistance(grey, $0, bg) >= 50 }) {
                    style = .slot; targetColour = grey; tolerance = 40
                } else { continue }
            case .outlined:
                let c = look.structureColour()
                if colours.allSatisfy({ $0.distance(c) >= 120 && Look.segmentDistance(c, $0, bg) >= 70 }) {
                    style = .outlined; targetColour = c; tolerance = 50
                } else { continue }
            }
            break
        }
        let tints = colours.map { $0.mixed(with: bg, 0.45, name: "pale \($0.name)") }

        var scene = Scene(background: bg, layers: look.gridLayer(frames: frames))
        let skip = scene.layers.count
        switch style {
        case .pale:
            if identical { scene.layers.append(Layer(color: tints[0], shapes: targets.flatMap { $0 }, frames: frames)) }
            else { for k in 0..<count { scene.layers.append(Layer(color: tints[k], shapes: targets[k], frames: frames)) } }
        case .slot: scene.layers.append(Layer(color: targetColour, shapes: targets.flatMap { $0 }, frames: frames))
        case .outlined: scene.layers.append(Layer(color: targetColour, shapes: AlignFamily.outline(of: targets.flatMap { $0 }), frames: frames))
        }
        let first = scene.layers.count
        for k in 0..<count {
            var l = Layer(color: colours[k], shapes: pieces[k], frames: frames)
            l.offsets = offsets[k]
            scene.layers.append(l)
        }
        let used = (identical ? [colours[0]] : colours) + (style == .pale ? [] : [targetColour])
        let distractor = look.chance(0.3) ? Distractor.add(to: &scene, look: &look, avoiding: used, skipLayers: skip) : nil

        let outlineWord = nounOverride ?? look.words(Wording.outline)
        let pieceWord = look.words(Wording.piece)
        let targetNoun: String
        switch style {
        case .pale: targetNoun = identical ? "\(tints[0].name) \(outlineWord)" : "pale \(outlineWord)"
        case .slot: targetNoun = "grey \(outlineWord)"
        case .outlined: targetNoun = outlineWord
        }
        var objects: [(String, JSONValue)] = []
        var process: [JSONValue] = []
        let goal: JSONValue
        var prompt: String
        let verb = look.words(Wording.move)
        if identical {
            let plural = "\(colours[0].name) \(kinds[0])s"
            objects.append(("pieces", RulesText.object(colours[0])))
            objects.append(("targets", RulesText.object(style == .pale ? tints[0] : targetColour, tolerance: tolerance)))
            goal = RulesText.question("By the end of the video, is each \(colours[0].name) \(kinds[0]) on a different \(targetNoun)?", "align",
                                      [("object", .string("pieces")), ("target", .string("targets")), ("min_fraction", .number(0.75))])
            process.append(RulesText.question("Do the \(plural) stay \(count) separate whole pieces?", "count",
                                              [("object", .string("pieces")), ("n", .number(Double(count)))]))
            // A pale target is a blend of its piece and the background, the colour of the
            // piece's own rim: its mask in the first frame holds the rims, which move away.
            if style != .pale {
                process.append(RulesText.question("Do the \(targetNoun)s stay where they are?", "static",
                                                  [("object", .string("targets")), ("max_change", .number(0.2))]))
            }
            // The pieces' joint centroid swings by a few pixels as thin pieces lose rim pixels at
            // sub-pixel offsets; one piece teleporting still moves it by more than 0.14.
            process.append(RulesText.smooth("pieces", plural, maxStep: max(maxStep, 0.14)))
            switch look.rng.int(0...1) {
            case 0: prompt = "\(verb) the \(count) \(plural) onto the \(count) \(targetNoun)s, one on each."
            default: prompt = "Fill every \(targetNoun) with one of the \(plural)."
            }
        } else {
            let colourWords = look.chance(0.6) || look.split == .canonical
            func name(_ k: Int) -> String { "\(colours[k].name)_\(kinds[k])" }
            func words(_ k: Int) -> String { colourWords ? "\(colours[k].name) \(kinds[k])" : kinds[k] }
            for k in 0..<count {
                objects.append((name(k), RulesText.object(colours[k])))
                if style == .pale { objects.append(("\(colours[k].name)_target", RulesText.object(tints[k], tolerance: tolerance))) }
            }
            if style != .pale { objects.append(("targets", RulesText.object(targetColour, tolerance: tolerance))) }
            func alignQ(_ k: Int) -> JSONValue {
                let target: JSONValue = style == .pale ? .string("\(colours[k].name)_target")
                    : boxRegion(Layer(color: bg, shapes: targets[k], frames: 1).bounds, margin: 1)
                return RulesText.question("By the end of the video, is the \(words(k)) on its \(targetNoun)?", "align",
                                          [("object", .string(name(k))), ("target", target), ("min_fraction", .number(0.75))])
            }
            goal = alignQ(0)
            process = (1..<count).map(alignQ)
            for k in 0..<count {
                // Rim-heavy small shapes change area by up to half as they move, more on their target.
                process.append(RulesText.intact(name(k), words(k), areaTolerance: 0.75))
                process.append(RulesText.smooth(name(k), words(k), maxStep: maxStep))
            }
            if style != .pale {
                process.append(RulesText.question("Do the \(targetNoun)s stay where they are?", "static",
                                                  [("object", .string("targets")), ("max_change", .number(0.2))]))
            }
            let list = (0..<count).map { "the " + words($0) }
            let listText = list.dropLast().joined(separator: ", ") + " and " + list.last!
            let match = style == .pale ? "of its own shape and colour" : "of its own shape"
            switch look.rng.int(0...2) {
            case 0: prompt = "\(verb) each \(pieceWord) onto the \(targetNoun) \(match): \(listText)."
            case 1: prompt = "\(verb) \(listText) onto their matching \(targetNoun)s."
            default: prompt = "Every \(pieceWord) belongs on the \(targetNoun) \(match). \(verb) \(listText) there."
            }
        }
        if let d = distractor {
            objects.append((d.name, RulesText.object(d.colour)))
            process.append(d.question)
        }
        prompt += look.words(Wording.extraMany)
        if let d = distractor, look.chance(0.5) { prompt += " Leave the \(d.words) where it is." }
        var wrongEnding: [Int: [SIMD2<Float>]] = [:]
        if let w = wrong, !identical { for (k, o) in w.enumerated() { wrongEnding[first + k] = o } }
        return Built(scene: scene, prompt: prompt, rules: RulesText.file(objects: objects, goal: goal, process: process),
                     moving: Array(first..<(first + count)), primary: first, wrongEnding: wrongEnding)
    }
}
