import Basics

/// Two or three identical pieces (one shape, one colour) into as many identical slots, one
/// piece in each: the pieces in the upper band, the slots in the lower band, each piece to the
/// slot in the same left-to-right place (straight moves never cross).
enum SlotsFamily {
    static func build(_ rng: inout SplitMix64, look: inout Look) -> Built {
        let frames = NativeVideo.frames
        let count = rng.int(2...3)
        let kind = look.pieceShape()
        let S: Float = look.scale >= 1.2 ? 10 : 8
        var starts: [SIMD2<Float>] = [], slots: [SIMD2<Float>] = []
        for _ in 0..<2000 {
            starts = ShapesFamily.band(count, S, y: 2...(26 - Int(S)), &rng).sorted { $0.x < $1.x }
            slots = ShapesFamily.band(count, S, y: 34...(62 - Int(S)), &rng).sorted { $0.x < $1.x }
            if ShapesFamily.fits(starts, slots, S, frames: frames) { break }
        }
        let centre = SIMD2<Float>(S / 2, S / 2)
        let colour = look.colours(1, avoiding: [])[0]
        let style: AlignFamily.SlotStyle = look.split == .canonical || look.chance(0.6) ? .slot : .pale
        return PiecesTask.build(look: &look, frames: frames, kinds: Array(repeating: kind.rawValue, count: count),
                                colours: Array(repeating: colour, count: count), identical: true, style: style,
                                pieces: starts.map { kind.shapes(at: $0 + centre, size: S) },
                                targets: slots.map { kind.shapes(at: $0 + centre, size: S + 2) },
                                offsets: (0..<count).map { constantSpeed([starts[$0], slots[$0]], frames: frames) },
                                wrong: nil, maxStep: 0.1)
    }
}
