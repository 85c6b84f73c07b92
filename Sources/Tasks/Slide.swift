import Basics

/// A sliding puzzle: a tray of 3 x 3 or 4 x 4 tiles with one gap; the tile of its own colour
/// beside the gap slides into it, and every other tile stays.
///
/// Tiles are 11 to 16 pixels square with 2-pixel seams of the tray between them, so the gap
/// and the seams stay visible at 64 x 64; the slide is one tile pitch (13 to 18 pixels) over
/// the video.
enum SlideFamily {
    static func build(_ rng: inout SplitMix64, look: inout Look) -> Built {
        let frames = NativeVideo.frames
        let g = look.split == .canonical ? 3 : rng.int(3...4)
        let seam: Float = 2
        let tile = Float(g == 3 ? rng.int(13...16) : rng.int(11...12))
        let pitch = tile + seam
        let side = Float(g) * pitch + seam
        let ox = Float(rng.int(0...(64 - Int(side)))), oy = Float(rng.int(0...(64 - Int(side))))
        let gap = rng.int(0..<(g * g))
        let gx = gap % g, gy = gap / g
        let neighbours = [(1, 0), (-1, 0), (0, 1), (0, -1)].map { (gx + $0.0, gy + $0.1) }
            .filter { $0.0 >= 0 && $0.0 < g && $0.1 >= 0 && $0.1 < g }
        let mover = rng.pick(neighbours)
        func corner(_ x: Int, _ y: Int) -> SIMD2<Float> { SIMD2(ox + seam + Float(x) * pitch, oy + seam + Float(y) * pitch) }
        func rect(_ o: SIMD2<Float>) -> Shape { .rect(x0: o.x, y0: o.y, x1: o.x + tile, y1: o.y + tile) }

        let tray = look.structureColour()
        let colours = look.colours(2, avoiding: [tray])
        let tileColour = colours[0], moverColour = colours[1]
        var scene = Scene(background: look.background, layers: look.gridLayer(frames: frames))
        scene.layers.append(Layer(color: tray, shapes: [.rect(x0: ox, y0: oy, x1: ox + side, y1: oy + side)], frames: frames))
        var others: [Shape] = []
        for y in 0..<g { for x in 0..<g where y * g + x != gap && (x, y) != mover { others.append(rect(corner(x, y))) } }
        let tilesLayer = scene.layers.count
        scene.layers.append(Layer(color: tileColour, shapes: others, frames: frames))
        let from = corner(mover.0, mover.1), to = corner(gx, gy)
        var m = Layer(color: moverColour, shapes: [rect(from)], frames: frames)
        m.offsets = constantSpeed([from, to], frames: frames)
        let moverLayer = scene.layers.count
        scene.layers.append(m)

        let tileWord = look.split == .canonical ? "tile" : look.chance(0.7) ? "tile" : "block"
        let moverWords = "\(moverColour.name) \(tileWord)"
        let others_ = "\(tileColour.name) \(tileWord)s"
        let gapBox = SIMD4(to.x, to.y, to.x + tile, to.y + tile)
        let rules = RulesText.file(
            objects: [("mover", RulesText.object(moverColour)), ("tiles", RulesText.object(tileColour))],
            goal: RulesText.question("By the end of the video, does the \(moverWords) fill the gap?", "reach",
                                     [("object", .string("mover")), ("target", boxRegion(gapBox, margin: 1)), ("min_fraction", .number(0.9))]),
            process: [
                RulesText.question("Does the \(moverWords) stay clear of the other \(tileWord)s?", "avoid",
                                   [("object", .string("mover")), ("obstacle", .string("tiles"))]),
                RulesText.intact("mover", moverWords),
                RulesText.question("Do the \(others_) stay where they are?", "static", [("object", .string("tiles"))]),
                RulesText.smooth("mover", moverWords),
            ])
        let verb = look.words(Wording.slide)
        var prompt: String
        switch look.split == .canonical ? 0 : look.rng.int(0...2) {
        case 0: prompt = "\(verb) the \(moverWords) into the empty space."
        case 1: prompt = "There is one gap in the tray. \(verb) the \(moverWords) into it and leave the \(others_) where they are."
        default: prompt = "Fill the gap: \(verb.lowercased()) the \(moverWords) across by one place."
        }
        prompt += look.words(Wording.extra)
        return Built(scene: scene, prompt: prompt, rules: rules, moving: [moverLayer], primary: moverLayer, obstacles: tilesLayer)
    }
}
