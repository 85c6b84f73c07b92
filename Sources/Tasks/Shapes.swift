import Basics

/// Two or three cards of different shapes onto the outlines (or grey slots) of their own
/// shape. Every outline has the same colour, so only the shape tells which is whose; the
/// outlines lie in another left-to-right order than the cards.
///
/// Cards start in the upper band, outlines lie in the lower band; all move at once in
/// straight lines, and layouts where two cards would come within a pixel of each other at
/// any moment, or a card would move more than 5 pixels a frame, are drawn again.
enum ShapesFamily {
    static func build(_ rng: inout SplitMix64, look: inout Look) -> Built {
        let frames = NativeVideo.frames
        let count = rng.int(2...3)
        var kinds: [PieceShape] = []
        while kinds.count < count {
            let k = look.pieceShape()
            if !kinds.contains(k) { kinds.append(k) }
        }
        let S: Float = look.scale >= 1.2 ? 10 : 8
        var starts: [SIMD2<Float>] = [], slots: [SIMD2<Float>] = []
        for _ in 0..<2000 {
            starts = band(count, S, y: 2...(26 - Int(S)), &rng)
            slots = band(count, S, y: 34...(62 - Int(S)), &rng)
            // Not the same left-to-right order (the order would tell which is whose).
            let order = { (p: [SIMD2<Float>]) in p.indices.sorted { p[$0].x < p[$1].x } }
            if order(starts) == order(slots) { continue }
            if fits(starts, slots, S, frames: frames) { break }
        }
        let centre = SIMD2<Float>(S / 2, S / 2)
        let colours = look.colours(count, avoiding: [])
        let style: AlignFamily.SlotStyle = look.split == .canonical || look.chance(0.6) ? .outlined : .slot
        return PiecesTask.build(look: &look, frames: frames, kinds: kinds.map(\.rawValue), colours: colours, identical: false,
                                style: style,
                                pieces: (0..<count).map { kinds[$0].shapes(at: starts[$0] + centre, size: S) },
                                targets: (0..<count).map { kinds[$0].shapes(at: slots[$0] + centre, size: S + 2) },
                                offsets: (0..<count).map { constantSpeed([starts[$0], slots[$0]], frames: frames) },
                                wrong: [constantSpeed([starts[0], slots[1]], frames: frames), constantSpeed([starts[1], slots[0]], frames: frames)],
                                maxStep: 0.1, allowPale: false)
    }

    /// `count` top-left corners of `S x S` boxes in a horizontal band, 3 pixels apart or more.
    static func band(_ count: Int, _ S: Float, y: ClosedRange<Int>, _ rng: inout SplitMix64) -> [SIMD2<Float>] {
        while true {
            let xs = (0..<count).map { _ in Float(rng.int(2...(62 - Int(S)))) }
            let sorted = xs.sorted()
            if zip(sorted, sorted.dropFirst()).allSatisfy({ $1 - $0 >= S + 3 }) {
                return xs.map { SIMD2($0, Float(rng.int(y))) }
            }
        }
    }

    /// Whether straight simultaneous moves keep every two boxes a pixel apart at every moment
    /// and no box moves more than 5 pixels a frame.
    static func fits(_ a: [SIMD2<Float>], _ b: [SIMD2<Float>], _ S: Float, frames: Int) -> Bool {
        for k in a.indices {
            let d = b[k] - a[k]
            if (d * d).sum().squareRoot() > 5 * Float(frames - 1) { return false }
        }
        for step in 0...(4 * (frames - 1)) {
            let u = Float(step) / Float(4 * (frames - 1))
            let p = a.indices.map { a[$0] + u * (b[$0] - a[$0]) }
            for i in p.indices { for j in p.indices where j > i {
                if abs(p[i].x - p[j].x) < S + 1 && abs(p[i].y - p[j].y) < S + 1 { return false }
            } }
        }
        return true
    }
}
