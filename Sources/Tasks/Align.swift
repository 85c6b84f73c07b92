import Basics

/// Two or three coloured pieces (polyominoes of 4-pixel blocks) moved onto the pale
/// outlines of their own shape and colour.
///
/// In local layouts each piece starts one cell off its slot (beside it, one piece-width
/// away); in the others the pieces start in the upper band and their slots lie in the lower
/// band, in the same left-to-right order, so straight simultaneous moves never collide.
enum AlignFamily {
    static let block: Float = 4
    /// Polyominoes as (column, row) blocks, with a name for the prompt.
    static let shapes: [(name: String, blocks: [(Int, Int)])] = [
        ("square", [(0, 0), (1, 0), (0, 1), (1, 1)]),
        ("bar", [(0, 0), (1, 0), (2, 0)]),
        ("post", [(0, 0), (0, 1), (0, 2)]),
        ("L", [(0, 0), (0, 1), (0, 2), (1, 2)]),
        ("corner", [(0, 0), (1, 0), (0, 1)]),
        ("T", [(0, 0), (1, 0), (2, 0), (1, 1)]),
    ]

    struct Piece {
        var shape: Int
        var size: SIMD2<Float>
        var start: SIMD2<Float>
        var slot: SIMD2<Float>
    }

    static func rects(_ shape: Int, at o: SIMD2<Float>) -> [Shape] {
        shapes[shape].blocks.map { b in
            .rect(x0: o.x + Float(b.0) * block, y0: o.y + Float(b.1) * block,
                  x1: o.x + Float(b.0 + 1) * block, y1: o.y + Float(b.1 + 1) * block)
        }
    }

    static func size(_ shape: Int) -> SIMD2<Float> {
        let bs = shapes[shape].blocks
        return SIMD2(Float(bs.map(\.0).max()! + 1), Float(bs.map(\.1).max()! + 1)) * block
    }

    /// - Parameter identical: every piece the same shape and colour, every outline alike, so
    ///   any piece may take any outline (a layer per colour would move them all as one).
    static func build(_ rng: inout SplitMix64, identical: Bool = false) -> Built {
        let frames = NativeVideo.frames, W = Float(NativeVideo.size)
        let count = rng.int(2...3)
        var kinds = Array(shapes.indices); rng.shuffle(&kinds)
        if identical { kinds = Array(repeating: kinds[0], count: kinds.count) }
        var pieces: [Piece] = []
        let local = rng.chance(0.4)
        if local {
            // One vertical strip per piece; the piece sits beside its slot inside the strip.
            let strip = W / Float(count)
            for k in 0..<count {
                let sh = kinds[k], sz = size(sh)
                let (start, slot) = besideItsSlot(strip: k, of: strip, size: sz, gaps: 0...2, side: W, &rng)
                pieces.append(Piece(shape: sh, size: sz, start: start, slot: slot))
            }
        } else {
            // Upper band for pieces, lower band for slots, same left-to-right order, with gaps.
            let sizes = (0..<count).map { size(kinds[$0]) }
            func layout(_ rng: inout SplitMix64) -> [Float] {
                let total = sizes.reduce(Float(0)) { $0 + $1.x } + Float(count - 1) * 3
                let free = max(0, Int(W - 4 - total))
                let cuts = (0..<count).map { _ in Float(rng.int(0...free)) }.sorted()
                var xs: [Float] = [], x = 2 + cuts[0]
                for k in 0..<count {
                    xs.append(x)
                    if k + 1 < count { x += sizes[k].x + 3 + cuts[k + 1] - cuts[k] }
                }
                return xs
            }
            let px = layout(&rng), sx = layout(&rng)
            for k in 0..<count {
                let sz = sizes[k]
                let py = Float(rng.int(4...(24 - Int(sz.y)))), sy = Float(rng.int(36...(60 - Int(sz.y))))
                pieces.append(Piece(shape: kinds[k], size: sz, start: SIMD2(px[k], py), slot: SIMD2(sx[k], sy)))
            }
        }

        let bg = rng.pick(Palette.backgrounds)
        var colours = Palette.pick(count, avoiding: [bg], &rng, minDistance: 150)
        if identical { colours = Array(repeating: colours[0], count: count) }
        let tints = colours.map { $0.mixed(with: bg, 0.45, name: "pale \($0.name)") }
        if identical {
            return identicalBuilt(pieces: pieces, colour: colours[0], tint: tints[0], background: bg, frames: frames)
        }

        var layers: [Layer] = []
        for (k, p) in pieces.enumerated() { layers.append(Layer(color: tints[k], shapes: rects(p.shape, at: p.slot), frames: frames)) }
        for (k, p) in pieces.enumerated() {
            var l = Layer(color: colours[k], shapes: rects(p.shape, at: p.start), frames: frames)
            l.offsets = constantSpeed([p.start, p.slot], frames: frames)
            layers.append(l)
        }
        let scene = Scene(background: bg, layers: layers)

        var objects: [(String, JSONValue)] = []
        for (k, c) in colours.enumerated() {
            objects.append(("\(c.name)_\(shapes[pieces[k].shape].name)", RulesText.object(c)))
            objects.append(("\(c.name)_outline", RulesText.object(tints[k], tolerance: 30)))
        }
        func words(_ k: Int) -> String { "\(colours[k].name) \(shapes[pieces[k].shape].name)" }
        func alignQ(_ k: Int) -> JSONValue {
            RulesText.question("By the end of the video, is the \(words(k)) on its pale \(colours[k].name) outline?", "align",
                               [("object", .string("\(colours[k].name)_\(shapes[pieces[k].shape].name)")),
                                ("target", .string("\(colours[k].name)_outline")), ("min_fraction", .number(0.75))])
        }
        var process: [JSONValue] = (1..<count).map(alignQ)
        for k in 0..<count {
            let name = "\(colours[k].name)_\(shapes[pieces[k].shape].name)"
            process.append(RulesText.intact(name, words(k), areaTolerance: 0.5))
            process.append(RulesText.smooth(name, words(k)))
        }
        let rules = RulesText.file(objects: objects, goal: alignQ(0), process: process)
        let list = (0..<count).map(words)
        let prompt = "Move each piece onto the pale outline of its own shape and colour: "
            + list.dropLast().joined(separator: ", ") + " and " + list.last! + ". Keep every piece whole."

        // The wrong ending: the first two pieces trade destinations.
        var wrong: [Int: [SIMD2<Float>]] = [:]
        wrong[count] = constantSpeed([pieces[0].start, pieces[1].slot], frames: frames)
        wrong[count + 1] = constantSpeed([pieces[1].start, pieces[0].slot], frames: frames)
        return Built(scene: scene, prompt: prompt, rules: rules, moving: Array(count..<(2 * count)), primary: count,
                     wrongEnding: wrong)
    }

    /// The rules and prompt of identical pieces: one object for the pieces and one for the
    /// outlines; every piece on a different outline, the pieces always `count` whole blobs.
    static func identicalBuilt(pieces: [Piece], colour: Colour, tint: Colour, background: Colour, frames: Int) -> Built {
        let count = pieces.count
        var layers: [Layer] = []
        for p in pieces { layers.append(Layer(color: tint, shapes: rects(p.shape, at: p.slot), frames: frames)) }
        for p in pieces {
            var l = Layer(color: colour, shapes: rects(p.shape, at: p.start), frames: frames)
            l.offsets = constantSpeed([p.start, p.slot], frames: frames)
            layers.append(l)
        }
        let shape = shapes[pieces[0].shape].name
        let words = "\(colour.name) \(shape)s"
        let rules = RulesText.file(
            objects: [("pieces", RulesText.object(colour)), ("outlines", RulesText.object(tint, tolerance: 30))],
            goal: RulesText.question("By the end of the video, is each \(colour.name) \(shape) on a different pale outline?", "align",
                                     [("object", .string("pieces")), ("target", .string("outlines")), ("min_fraction", .number(0.75))]),
            process: [
                RulesText.question("Do the \(words) stay \(count) separate whole pieces?", "count",
                                   [("object", .string("pieces")), ("n", .number(Double(count)))]),
                RulesText.question("Do the outlines stay where they are?", "static", [("object", .string("outlines"))]),
            ])
        let prompt = "Move the \(count) \(words) onto the \(count) pale outlines, one piece on each. Keep every piece whole."
        return Built(scene: Scene(background: background, layers: layers), prompt: prompt, rules: rules,
                     moving: Array(count..<(2 * count)), primary: count)
    }
}

extension AlignFamily {
    /// How the varied looks draw where a piece goes.
    enum SlotStyle: CaseIterable { case pale, slot, outlined }

    /// A 2-pixel outline along the edges of shapes (a disc as a 16-gon): one thin quad per edge,
    /// centred on it.
    static func outline(of shapes: [Shape], width: Float = 2) -> [Shape] {
        var out: [Shape] = []
        for s in shapes {
            var pts: [SIMD2<Float>]
            switch s {
            case let .rect(x0, y0, x1, y1): pts = [SIMD2(x0, y0), SIMD2(x1, y0), SIMD2(x1, y1), SIMD2(x0, y1)]
            case let .disc(cx, cy, r): pts = (0..<16).map { k in let a = Float(k) * .pi / 8; return SIMD2(cx + r * cosf(a), cy + r * sinf(a)) }
            case let .polygon(p, _): pts = p
            }
            for k in pts.indices {
                let a = pts[k], b = pts[(k + 1) % pts.count], d = b - a
                let len = max((d * d).sum().squareRoot(), 1e-4)
                let nrm = SIMD2(-d.y, d.x) / len * (width / 2), t = d / len * (width / 2)
                out.append(.polygon([a - t + nrm, b + t + nrm, b + t - nrm, a - t - nrm]))
            }
        }
        return out
    }

    /// Pieces of the look's shapes (circle, square, triangle, diamond, bar, pentagon; star,
    /// hexagon and plus held out), 7 to 10 pixels across, onto pale copies of themselves, grey
    /// slots or outlines in one neutral colour; the same layouts as the canonical drawing
    /// (local: one piece-width off; or from the upper band to the lower, in the same order).
    static func buildVaried(_ rng: inout SplitMix64, look: inout Look, identical forced: Bool = false,
                            style forcedStyle: SlotStyle? = nil) -> Built {
        let frames = NativeVideo.frames, W = Float(NativeVideo.size)
        let count = rng.int(2...3)
        let identical = forced || look.chance(0.15)
        var kinds: [PieceShape] = []
        while kinds.count < count {
            let k = look.pieceShape()
            if !kinds.contains(k) || identical { kinds.append(k) }
        }
        if identical { kinds = Array(repeating: kinds[0], count: count) }
        // 8 pixels across (10 in the held-out large scale): smaller diamonds and triangles are
        // mostly rim, and their area swings by half as they move.
        let S: Float = look.scale >= 1.2 ? 10 : 8
        let sz = SIMD2<Float>(S, S)
        var starts: [SIMD2<Float>] = [], slots: [SIMD2<Float>] = [] // top-left corners of S x S boxes
        if rng.chance(0.4) && !identical {
            let strip = W / Float(count)
            for k in 0..<count {
                let (start, slot) = besideItsSlot(strip: k, of: strip, size: sz, gaps: 1...2, side: W, &rng)
                starts.append(start); slots.append(slot)
            }
        } else {
            func layout(_ rng: inout SplitMix64) -> [Float] {
                let total = S * Float(count) + Float(count - 1) * 3
                let free = max(0, Int(W - 4 - total))
                let cuts = (0..<count).map { _ in Float(rng.int(0...free)) }.sorted()
                var xs: [Float] = [], x = 2 + cuts[0]
                for k in 0..<count {
                    xs.append(x)
                    if k + 1 < count { x += S + 3 + cuts[k + 1] - cuts[k] }
                }
                return xs
            }
            let px = layout(&rng), sx = layout(&rng)
            for k in 0..<count {
                starts.append(SIMD2(px[k], Float(rng.int(4...(24 - Int(S))))))
                slots.append(SIMD2(sx[k], Float(rng.int(36...(60 - Int(S))))))
            }
        }
        var style = forcedStyle ?? look.rng.pick(SlotStyle.allCases)
        if identical && style == .outlined { style = .slot }
        let colours = identical ? look.colours(1, avoiding: []) : look.colours(count, avoiding: [])
        func colour(_ k: Int) -> Colour { colours[identical ? 0 : k] }
        let centre = SIMD2<Float>(S / 2, S / 2)
        func shapes(_ k: Int, at o: SIMD2<Float>, grow: Float = 0) -> [Shape] { kinds[k].shapes(at: o + centre, size: S + grow) }
        return PiecesTask.build(look: &look, frames: frames, kinds: kinds.map(\.rawValue), colours: (0..<count).map(colour),
                                identical: identical, style: style,
                                pieces: (0..<count).map { shapes($0, at: starts[$0]) },
                                targets: (0..<count).map { shapes($0, at: slots[$0], grow: 2) },
                                offsets: (0..<count).map { constantSpeed([starts[$0], slots[$0]], frames: frames) },
                                wrong: [constantSpeed([starts[0], slots[1]], frames: frames), constantSpeed([starts[1], slots[0]], frames: frames)],
                                maxStep: 0.1)
    }
}

import Foundation

/// A piece one cell off its slot, in vertical strip `k` of width `strip` of a `side`-wide frame:
/// the slot beside or below the piece (the other way round half the time), `gaps` pixels apart.
func besideItsSlot(strip k: Int, of strip: Float, size sz: SIMD2<Float>, gaps: ClosedRange<Int>, side W: Float,
                   _ rng: inout SplitMix64) -> (start: SIMD2<Float>, slot: SIMD2<Float>) {
    let gap = Float(rng.int(gaps))
    let horizontal = sz.x * 2 + gap + 4 <= strip && rng.chance(0.5)
    let step = horizontal ? SIMD2(sz.x + gap, 0) : SIMD2(0, sz.y + gap)
    let span = sz + step
    let x0 = Float(k) * strip + 2, x1 = Float(k + 1) * strip - 2 - span.x
    let sx = Float(rng.int(Int(x0.rounded(.up))...max(Int(x0.rounded(.up)), Int(x1.rounded(.down)))))
    let sy = Float(rng.int(4...Int(W - 4 - span.y)))
    let first = SIMD2(sx, sy), second = first + step
    let pieceFirst = rng.chance(0.5)
    return pieceFirst ? (first, second) : (second, first)
}
