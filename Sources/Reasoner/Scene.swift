import Media

/// Everything the Reasoner conditions on for one task: the layered first frame and the prompt's
/// tokens, with the model's input features precomputed.
///
/// Shapes: P = 64 patch tokens (8 x 8 patches of the 64 x 64 frame, 192 values each),
/// K = `Trajectory.maxLayers` layer slots, `Scene.layerFeatures` values each.
public struct Scene: Sendable {
    public static let patchSide = 8
    public static let patches = (LayerCut.size / patchSide) * (LayerCut.size / patchSide)
    /// Values per patch token: 8 x 8 pixels x RGB.
    public static let patchFeatures = patchSide * patchSide * 3
    /// Side of the pooled alpha a layer token carries.
    public static let pooledSide = 8
    /// Values per layer token before its trajectory: colour 3, box 4, area 1, centroid 2,
    /// pooled alpha 64, present 1.
    public static let layerFeatures = 3 + 4 + 1 + 2 + pooledSide * pooledSide + 1

    public var prompt: String
    /// The model's view: the first frame letterboxed into 64 x 64 (`Picture`).
    public var layered: LayeredFrame
    /// The same layers at the size the teacher judges at, in the same order; `layered` itself
    /// when the scene was built from a 64 x 64 view alone.
    public var working: LayeredFrame
    /// Prompt token ids, 1...`PromptTokenizer.maxTokens` of them.
    public var tokens: [Int]
    /// `[patches, patchFeatures]`, pixel values centred on 0 (value - 0.5).
    public var patchInputs: [Float]
    /// `[K, layerFeatures]`, zero on padding slots.
    public var layerInputs: [Float]

    /// Number of real layers (the rest of the K slots is padding).
    public var layerCount: Int { layered.layers.count }

    /// - Parameter working: the size the teacher judges at (`WorkingSize`); nil for the frame's
    ///   aspect at a long side of 64.
    public init(prompt: String, firstFrame: RGBImage, working: (width: Int, height: Int)? = nil,
                tokenizer: PromptTokenizer = PromptTokenizer()) {
        let p = Picture(firstFrame: firstFrame, working: working ?? Picture.defaultWorkingSize(firstFrame))
        self.init(prompt: prompt, layered: p.view, working: p.working, tokenizer: tokenizer)
    }

    public init(prompt: String, layered: LayeredFrame, working: LayeredFrame? = nil, tokenizer: PromptTokenizer = PromptTokenizer()) {
        self.prompt = prompt
        self.layered = layered
        self.working = working ?? layered
        self.tokens = tokenizer.encode(prompt)
        let s = layered.size, ps = Scene.patchSide, grid = s / ps
        precondition(s == LayerCut.size, "Scene: frames must be \(LayerCut.size) x \(LayerCut.size)")
        var patch = [Float](repeating: 0, count: Scene.patches * Scene.patchFeatures)
        for py in 0..<grid {
            for px in 0..<grid {
                let base = (py * grid + px) * Scene.patchFeatures
                for y in 0..<ps {
                    for x in 0..<ps {
                        for c in 0..<3 {
                            patch[base + (y * ps + x) * 3 + c] = layered.frame[((py * ps + y) * s + px * ps + x) * 3 + c] - 0.5
                        }
                    }
                }
            }
        }
        patchInputs = patch
        let f = Scene.layerFeatures, fs = Float(s), pool = Scene.pooledSide, cell = s / pool
        var lay = [Float](repeating: 0, count: Trajectory.maxLayers * f)
        for (l, layer) in layered.layers.enumerated() {
            let o = l * f
            lay[o] = layer.color.x - 0.5; lay[o + 1] = layer.color.y - 0.5; lay[o + 2] = layer.color.z - 0.5
            lay[o + 3] = layer.box.x / fs; lay[o + 4] = layer.box.y / fs
            lay[o + 5] = layer.box.z / fs; lay[o + 6] = layer.box.w / fs
            lay[o + 7] = layer.area.squareRoot() / fs
            lay[o + 8] = layer.centroid.x / fs; lay[o + 9] = layer.centroid.y / fs
            for gy in 0..<pool {
                for gx in 0..<pool {
                    var acc: Float = 0
                    for y in 0..<cell { for x in 0..<cell { acc += layer.alpha[(gy * cell + y) * s + gx * cell + x] } }
                    lay[o + 10 + gy * pool + gx] = acc / Float(cell * cell)
                }
            }
            lay[o + f - 1] = 1
        }
        layerInputs = lay
    }

    /// The layer whose colour is nearest `color` (RGB 0-255), within 60; nil when none is.
    public func layerIndex(matching color: [UInt8], excluding used: Set<Int> = []) -> Int? {
        let c = SIMD3<Float>(Float(color[0]), Float(color[1]), Float(color[2]))
        var best: Int? = nil, bestD: Float = 60
        for (l, layer) in layered.layers.enumerated() where !used.contains(l) {
            let d = layer.color * 255 - c
            let dist = (d * d).sum().squareRoot()
            if dist < bestD { best = l; bestD = dist }
        }
        return best
    }

    /// The training target for a generated task: each track's offsets on the layer whose colour
    /// matches the track's (nearest colour within 60 on the 0-255 scale), zero elsewhere.
    /// Returns nil when some track has no matching layer.
    public func trajectory(from tracks: [(color: [UInt8], offsets: [SIMD2<Float>])]) -> Trajectory? {
        trajectory(from: tracks.map { (color: $0.color, offsets: $0.offsets, at: nil) })
    }

    /// The same, where a track may also say where its object is in the first frame (`at`, the
    /// centroid of its coverage in view pixels), as `layers(for:)` matches them.
    public func trajectory(from tracks: [(color: [UInt8], offsets: [SIMD2<Float>], at: SIMD2<Float>?)]) -> Trajectory? {
        guard tracks.allSatisfy({ $0.offsets.count == Trajectory.frames }),
              let layers = layers(for: tracks.map { (color: $0.color, at: $0.at) }) else { return nil }
        var t = Trajectory.zero
        for (track, l) in zip(tracks, layers) {
            for fr in 0..<Trajectory.frames {
                t.offsets[(l * Trajectory.frames + fr) * 2] = track.offsets[fr].x
                t.offsets[(l * Trajectory.frames + fr) * 2 + 1] = track.offsets[fr].y
            }
        }
        return t
    }

    /// The layer of each moving object, each layer used once: among the unused layers within 60
    /// of the object's colour, the one whose centroid is nearest `at`, so that same-coloured
    /// pieces each get their own layer; without `at`, the nearest colour. Nil when an object has
    /// no layer.
    public func layers(for objects: [(color: [UInt8], at: SIMD2<Float>?)]) -> [Int]? {
        var used = Set<Int>(), out: [Int] = []
        for object in objects {
            let c = SIMD3<Float>(Float(object.color[0]), Float(object.color[1]), Float(object.color[2]))
            var found: Int? = nil, bestKey = Float.infinity
            for (l, layer) in layered.layers.enumerated() where !used.contains(l) {
                let dc = layer.color * 255 - c
                let colour = (dc * dc).sum().squareRoot()
                guard colour < 60 else { continue }
                let key = object.at.map { at in ((layer.centroid - at) * (layer.centroid - at)).sum() } ?? colour
                if key < bestKey { bestKey = key; found = l }
            }
            guard let l = found else { return nil }
            used.insert(l)
            out.append(l)
        }
        return out
    }
}
