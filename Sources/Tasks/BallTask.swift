import Basics

/// The varied look of the ball tasks (maze, obstacles): a ball along a route to a target,
/// past still obstacles, drawn and worded from a `Look`.
enum BallTask {
    /// - Parameters:
    ///   - obstacleShapes: the walls or glyphs, one static layer.
    ///   - route: the ball's centres along its route (the first is `start`).
    ///   - targetCell: the free square around the target's centre, native pixels.
    ///   - obstacleWords: how the prompt and the questions name the obstacles ("walls", "dots").
    static func build(look: inout Look, frames: Int, obstacleShapes: [Shape], route: [SIMD2<Float>],
                      target t: SIMD2<Float>, targetCell: SIMD4<Float>, radius r: Float,
                      obstacleName: String, obstacleWords: String, ballWord: String, avoidPhrase: String,
                      via: String) -> Built {
        let walls = look.structureColour()
        let ball = look.colours(1, avoiding: [walls])[0]
        let cell = min(targetCell.z - targetCell.x, targetCell.w - targetCell.y)
        var style = look.targetStyle()
        let side = min(cell - 1, max(2 * r + 1, 6))
        if (style == .outlined || style == .flag || style == .icon) && side < 6 { style = .filled }
        var targetColour = look.colours(1, avoiding: [walls, ball])[0]
        var tolerance: Int? = nil
        var targetWords = "\(targetColour.name) square"
        switch style {
        case .pale:
            let tint = targetColour.mixed(with: look.background, 0.5, name: "pale \(targetColour.name)")
            if tint.distance(look.background) >= 60 && tint.distance(ball) >= 100 && tint.distance(walls) >= 100
                && Look.segmentDistance(tint, ball, look.background) >= 45 && Look.segmentDistance(tint, walls, look.background) >= 45 {
                targetColour = tint; tolerance = 30; targetWords = "\(tint.name) square"
            } else { style = .filled }
        case .slot:
            let grey = look.slotColour()
            if grey.distance(walls) >= 100 && grey.distance(ball) >= 100 && grey.distance(look.background) >= 60
                && Look.segmentDistance(grey, ball, look.background) >= 50 && Look.segmentDistance(grey, walls, look.background) >= 50 {
                targetColour = grey; tolerance = 40; targetWords = "grey square"
            } else { style = .filled }
        case .outlined: targetWords = look.chance(0.5) ? "outlined square" : "square outline"
        case .flag: targetWords = "flag"
        case .icon: targetWords = "bullseye"
        case .filled: break
        }
        if style == .filled && look.chance(0.4) { targetWords = "\(targetColour.name) \(look.words(Wording.target))" }
        var targetShapes: [Shape]
        switch style {
        case .filled, .pale, .slot:
            targetShapes = [.rect(x0: t.x - side / 2, y0: t.y - side / 2, x1: t.x + side / 2, y1: t.y + side / 2)]
        case .outlined:
            let a = side / 2, b = a - 2
            targetShapes = [.rect(x0: t.x - a, y0: t.y - a, x1: t.x + a, y1: t.y - b), .rect(x0: t.x - a, y0: t.y + b, x1: t.x + a, y1: t.y + a),
                            .rect(x0: t.x - a, y0: t.y - b, x1: t.x - b, y1: t.y + b), .rect(x0: t.x + b, y0: t.y - b, x1: t.x + a, y1: t.y + b)]
        case .flag:
            let a = side / 2
            targetShapes = [.rect(x0: t.x - a, y0: t.y - a, x1: t.x - a + 2, y1: t.y + a),
                            .polygon([SIMD2(t.x - a + 2, t.y - a), SIMD2(t.x + a, t.y - a / 3), SIMD2(t.x - a + 2, t.y + a / 3)])]
        case .icon:
            targetShapes = AlignFamily.outline(of: [.disc(cx: t.x, cy: t.y, r: side / 2 - 1)], width: 2)
                + [.disc(cx: t.x, cy: t.y, r: max(1.2, side / 6))]
        }

        var scene = Scene(background: look.background, layers: look.gridLayer(frames: frames))
        let skip = scene.layers.count
        let wallLayer = scene.layers.count
        scene.layers.append(Layer(color: walls, shapes: obstacleShapes, frames: frames))
        scene.layers.append(Layer(color: targetColour, shapes: targetShapes, frames: frames))
        let ballLayer = scene.layers.count
        var ballL = Layer(color: ball, shapes: [.disc(cx: route[0].x, cy: route[0].y, r: r)], frames: frames)
        ballL.offsets = constantSpeed(route, frames: frames)
        scene.layers.append(ballL)
        let distractor = look.chance(0.35)
            ? Distractor.add(to: &scene, look: &look, avoiding: [walls, ball, targetColour], skipLayers: skip) : nil

        let colourWords = look.chance(0.6)
        let ballWords = colourWords ? "\(ball.name) \(ballWord)" : ballWord
        let targetRegion: JSONValue = style.needsBox ? boxRegion(targetCell) : .string("target")
        var objects: [(String, JSONValue)] = [("ball", RulesText.object(ball))]
        if !style.needsBox { objects.append(("target", RulesText.object(targetColour, tolerance: tolerance))) }
        objects.append((obstacleName, RulesText.object(walls, tolerance: 70)))
        let rules = BallTask.rules(
            objects: objects, ballWords: ballWords, radius: r, targetWords: targetWords, target: targetRegion,
            before: [RulesText.question("Does the \(ballWords) avoid the \(obstacleWords)?", "avoid",
                                        [("object", .string("ball")), ("obstacle", .string(obstacleName))])],
            still: [RulesText.question("Do the \(obstacleWords) stay where they are?", "static", [("object", .string(obstacleName))])],
            distractor: distractor)

        let verb = look.words(Wording.move), reach = look.words(Wording.reach)
        var prompt: String
        switch look.rng.int(0...2) {
        case 0: prompt = "\(verb) the \(ballWords) \(via)\(reach) the \(targetWords) \(avoidPhrase)."
        case 1: prompt = Wording.sentence("\(avoidPhrase), \(verb.lowercased()) the \(ballWords) \(via)\(reach) the \(targetWords).")
        default: prompt = "The \(ballWords) must reach the \(targetWords). \(verb) it \(via)\(avoidPhrase)."
        }
        prompt += look.words(Wording.extra)
        if let d = distractor, look.chance(0.5) { prompt += " Leave the \(d.words) where it is." }
        return Built(scene: scene, prompt: prompt, rules: rules, moving: [ballLayer], primary: ballLayer, obstacles: wallLayer)
    }

    /// A ball task's rule file: the goal that the ball reaches `target`; the process questions
    /// `before`, the ball intact, `still`, the ball smooth, and the distractor's, when there is one.
    static func rules(objects: [(String, JSONValue)], ballWords: String, radius r: Float, targetWords: String, target: JSONValue,
                      before: [JSONValue], still: [JSONValue],
                      distractor: (name: String, words: String, colour: Colour, question: JSONValue)?) -> JSONValue {
        var objects = objects
        var process = before + [RulesText.intact("ball", ballWords, areaTolerance: r < 2.8 ? 0.7 : 0.5)] + still
            + [RulesText.smooth("ball", ballWords)]
        if let d = distractor {
            objects.append((d.name, RulesText.object(d.colour)))
            process.append(d.question)
        }
        return RulesText.file(
            objects: objects,
            goal: RulesText.question("By the end of the video, does the \(ballWords) reach the \(targetWords)?", "reach",
                                     [("object", .string("ball")), ("target", target)]),
            process: process)
    }
}
