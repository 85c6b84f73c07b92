import Media

extension Families {
    /// The solution video's frames drawn as `generate` draws the first frame (`size`, or the
    /// 256 x 256 sample grid when nil): the solution at the first frame's size and aspect, as
    /// the field's training sets ship it. Frame 0 is the first frame.
    public static func solutionFrames(family: Family, seed: UInt64, size: (width: Int, height: Int)? = nil,
                                      identicalPieces: Bool = false) -> [RGBImage] {
        let b = build(family: family, seed: seed, identicalPieces: identicalPieces)
        return (0..<b.scene.frames).map { t in
            size.map { b.scene.image(width: $0.width, height: $0.height, frame: t, samples: max(1, min(4, 4096 / max($0.width, $0.height)))) }
                ?? b.scene.sampleImage(frame: t)
        }
    }
}
