import Basics

/// Distractors: objects that belong to no part of the task and must stay where they are.
enum Distractor {
    /// The space a layer takes over the whole video: its bounds at every placement.
    static func footprint(_ layer: Layer) -> SIMD4<Float> {
        let b = layer.bounds
        var f = SIMD4<Float>(.infinity, .infinity, -.infinity, -.infinity)
        for ps in layer.placements { for p in ps {
            f = SIMD4(min(f.x, b.x + p.offset.x), min(f.y, b.y + p.offset.y), max(f.z, b.z + p.offset.x), max(f.w, b.w + p.offset.y))
        } }
        return f
    }

    /// Adds a still object of its own colour where nothing else is drawn, at least 3 pixels
    /// from every other layer's footprint (grid lines aside), and the rule that it stays.
    ///
    /// - Returns: the object's name, its colour and the `static` question, or nil when there
    ///   is no room (the scene is unchanged then).
    static func add(to scene: inout Scene, look: inout Look, avoiding colours: [Colour], skipLayers: Int)
        -> (name: String, words: String, colour: Colour, question: JSONValue)? {
        let boxes = scene.layers.dropFirst(skipLayers).map(footprint)
        // Axis-aligned or round: a small still object with slanted edges flickers in a colour mask.
        let shape = look.choose([PieceShape.square, .circle, .bar], [.plus])
        let size: Float = 8
        let W = Float(NativeVideo.size)
        for _ in 0..<60 {
            let c = SIMD2(Float(look.rng.int(Int(size / 2 + 1)...Int(W - size / 2 - 1))),
                          Float(look.rng.int(Int(size / 2 + 1)...Int(W - size / 2 - 1))))
            let shapes = shape.shapes(at: c, size: size)
            let probe = Layer(color: look.background, shapes: shapes, frames: 1)
            let b = probe.bounds
            let clear = boxes.allSatisfy { o in b.z + 3 <= o.x || o.z + 3 <= b.x || b.w + 3 <= o.y || o.w + 3 <= b.y }
            if !clear { continue }
            guard let colour = look.tryColours(1, avoiding: colours, attempts: 100)?.first else { return nil }
            scene.layers.append(Layer(color: colour, shapes: shapes, frames: scene.frames))
            let words = "\(colour.name) \(shape.rawValue)"
            let name = "still_\(shape.rawValue)"
            return (name, words, colour,
                    // A small object's JPEG-blurred rim flips a few of its pixels: a quarter may
                    // change (a move of 3 pixels changes over half of it).
                    RulesText.question("Does the \(words) stay where it is?", "static",
                                       [("object", .string(name)), ("max_change", .number(0.25))]))
        }
        return nil
    }
}
