import Media

/// The Reasoner's native video size. Solution videos, training data and the
/// Teacher's judgments all use it.
public enum NativeVideo {
    public static let frames = 16
    public static let size = 64
}

/// The track of one moving object in a solution video, the Reasoner's training target.
///
/// Everything in the first frame that no track covers is static.
public struct LayerTrack: Sendable {
    /// The object's colour, RGB 0-255.
    public var color: [UInt8]
    /// Coverage of the object in the first frame at native size, `[size, size]`, in [0, 1]
    /// (anti-aliased rim as partial coverage).
    public var firstFrameCoverage: [Float]
    /// Offset of the object from its first-frame position, per frame, in native pixels
    /// (x right, y down); `offsets[0]` is (0, 0). `[frames]`
    public var offsets: [SIMD2<Float>]

    public init(color: [UInt8], firstFrameCoverage: [Float], offsets: [SIMD2<Float>]) {
        self.color = color
        self.firstFrameCoverage = firstFrameCoverage
        self.offsets = offsets
    }

    /// Centre of the object's first-frame coverage in native pixels (pixel centres at +0.5,
    /// as `Layer.centroid` measures), or the frame's centre when it covers nothing.
    public var centroid: SIMD2<Float> {
        let n = NativeVideo.size
        var a: Float = 0, c = SIMD2<Float>(0, 0)
        for y in 0..<n {
            for x in 0..<n {
                let v = firstFrameCoverage[y * n + x]
                if v > 0 { a += v; c += v * SIMD2(Float(x) + 0.5, Float(y) + 0.5) }
            }
        }
        return a > 0 ? c / a : SIMD2(Float(n) / 2, Float(n) / 2)
    }
}

/// A generated task: the folder's inputs plus the ground truth.
public struct GeneratedTask: Sendable {
    public var family: String
    public var seed: UInt64
    /// `prompt.txt`
    public var prompt: String
    /// `rules.json`, as written to the folder.
    public var rulesJSON: String
    /// `first_frame.jpg` content before encoding (e.g. 256 x 256).
    public var firstFrame: RGBImage
    /// The solution video at native size (`NativeVideo.frames` frames of `NativeVideo.size`²).
    public var solution: [RGBImage]
    /// One track per moving object of the solution.
    public var tracks: [LayerTrack]

    public init(family: String, seed: UInt64, prompt: String, rulesJSON: String, firstFrame: RGBImage,
                solution: [RGBImage], tracks: [LayerTrack]) {
        self.family = family; self.seed = seed; self.prompt = prompt; self.rulesJSON = rulesJSON
        self.firstFrame = firstFrame; self.solution = solution; self.tracks = tracks
    }

    /// The tracks as the Reasoner's scene matches them to layers: colour, offsets, and where the
    /// object is in the native first frame (the model's view of a square first frame), so that
    /// identical pieces each get their own layer.
    public var layerTracks: [(color: [UInt8], offsets: [SIMD2<Float>], at: SIMD2<Float>?)] {
        tracks.map { (color: $0.color, offsets: $0.offsets, at: firstFrame.width == firstFrame.height ? $0.centroid : nil) }
    }
}
