import Media

extension Families {
    /// A task as the field's training sets ship it, from one build: the prompt, the rule file and
    /// the solution video's frames drawn as `generate` draws the first frame (`size`, or the
    /// look's own square side, or the 256 x 256 sample grid when neither), at the first frame's
    /// size and aspect. Frame 0 is the first frame.
    public static func solutionExample(family: Family, seed: UInt64, size: (width: Int, height: Int)? = nil,
                                       identicalPieces: Bool = false, look: LookSplit = .canonical)
        -> (prompt: String, rulesJSON: String, frames: [RGBImage]) {
        let b = build(family: family, seed: seed, identicalPieces: identicalPieces, look: look)
        return (b.prompt, RulesText.pretty(b.rules), (0..<b.scene.frames).map { drawn(b, frame: $0, size: size) })
    }

    /// Frame `t` of a built task at `size`, or at the look's own square side, or on the
    /// 256 x 256 sample grid.
    static func drawn(_ b: Built, frame t: Int, size: (width: Int, height: Int)?) -> RGBImage {
        if let size { return b.scene.image(width: size.width, height: size.height, frame: t, samples: samples(for: size)) }
        // A look's own square side: each pixel averages the native render's samples exactly.
        if let side = b.frameSide {
            return b.scene.image(width: side, height: side, frame: t, samples: max(1, b.scene.scale * NativeVideo.size / side))
        }
        return b.scene.sampleImage(frame: t)
    }
}
