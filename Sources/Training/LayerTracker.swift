import Media
import Reasoner

/// Why a layer cannot be followed through a solution.
public enum TrackFailure: Error, Equatable, CustomStringConvertible {
    /// No place in the frame shows at least half of the layer's solid pixels in its colour.
    case vanishes(layer: Int, color: String, frame: Int)
    /// A moving layer's colour is in more pieces than in the first frame.
    case splits(layer: Int, color: String, frame: Int, pieces: Int, was: Int)

    public var description: String {
        switch self {
        case let .vanishes(l, c, f): return "layer \(l) (\(c)) vanishes in solution frame \(f): no place shows half of its pixels in its colour"
        case let .splits(l, c, f, p, w): return "layer \(l) (\(c)) splits in solution frame \(f): its colour is in \(p) pieces where the first frame has \(w)"
        }
    }
}

/// Follows the layers of a cut first frame through the frames of a solution, at the size the
/// layers were cut at: where each layer went, as an offset from where it was.
///
/// In each frame the pixels of each layer's colour form pieces (8-connected); a piece's
/// position is its coverage-weighted centre (anti-aliased rim included, so positions are
/// sub-pixel). A layer's candidates are the pieces of its colour (moved to there) and its
/// previous offset (still there, or hidden in part); each is scored by the share of the
/// layer's solid pixels that land on its colour there, and the best wins. Layers of one colour
/// (identical pieces) take pieces one each, best score first, so that two like squares are
/// told apart by position and overlap rather than colour.
public struct LayerTracker: Sendable {
    public let width: Int
    public let height: Int
    /// Background, 0-255.
    let background: SIMD3<Float>
    /// Per layer: colour (0-255), solid pixel indices, colour group, frame-0 measured centre.
    let colors: [SIMD3<Float>]
    let solid: [[Int32]]
    /// The same pixels as (x, y).
    let solidXY: [[SIMD2<Int32>]]
    /// Their bounding box: lowest x, y and highest x, y.
    let solidBox: [SIMD4<Int32>]
    let group: [Int]
    let groupColors: [SIMD3<Float>]
    let centre0: [SIMD2<Float>]
    /// Substantial pieces of each group's colour in the first frame.
    let pieces0: [Int]
    let minPiece: [Int]

    static let tolerance: Float = 36
    static let rimResidual: Float = 30
    /// Shares of solid pixels below this are a vanished layer.
    static let minScore: Float = 0.5
    /// The score of a layer hidden behind others where it was: above `minScore`, below a piece in view.
    static let hiddenScore: Float = 0.55

    /// - Parameter cut: the layers and the first frame at the working size.
    public init(cut: LayeredFrame) {
        width = cut.width; height = cut.height
        background = cut.background * 255
        var colors: [SIMD3<Float>] = [], solid: [[Int32]] = [], group: [Int] = [], groupColors: [SIMD3<Float>] = []
        for l in cut.layers {
            let c = l.color * 255
            colors.append(c)
            // Solid: covered and in the colour (a rim pixel is neither the colour nor reliably found again).
            var s: [Int32] = []
            for i in 0..<l.alpha.count where l.alpha[i] >= 0.5 {
                let p = SIMD3(cut.frame[3 * i], cut.frame[3 * i + 1], cut.frame[3 * i + 2]) * 255
                if LayerTracker.dist(p, c) <= LayerTracker.tolerance { s.append(Int32(i)) }
            }
            if s.isEmpty, let m = l.alpha.indices.max(by: { l.alpha[$0] < l.alpha[$1] }) { s.append(Int32(m)) }
            solid.append(s)
            if let g = groupColors.firstIndex(where: { LayerTracker.dist($0, c) <= LayerTracker.tolerance }) { group.append(g) }
            else { group.append(groupColors.count); groupColors.append(c) }
        }
        self.colors = colors; self.solid = solid; self.group = group; self.groupColors = groupColors
        solidXY = solid.map { $0.map { SIMD2($0 % Int32(cut.width), $0 / Int32(cut.width)) } }
        solidBox = solidXY.map { xy in
            xy.reduce(SIMD4<Int32>(.max, .max, .min, .min)) { b, q in SIMD4(min(b.x, q.x), min(b.y, q.y), max(b.z, q.x), max(b.w, q.y)) }
        }
        var minPiece = [Int](repeating: Int.max, count: groupColors.count)
        for (l, g) in group.enumerated() { minPiece[g] = min(minPiece[g], max(2, solid[l].count / 4)) }
        self.minPiece = minPiece
        // Frame-0 centres measured the way later frames are, so that the estimator's bias cancels.
        let frame = cut.frame, w = cut.width, h = cut.height, bg = cut.background * 255
        let frame0 = LayerTracker.pieces(frame: frame, width: w, height: h, colors: groupColors, background: bg).pieces
        let pieces0 = groupColors.indices.map { g in frame0[g].count.filter { $0 >= minPiece[g] }.count }
        let centre0 = colors.indices.map { l in
            LayerTracker.centre(of: solid[l], in: frame0[group[l]]) ?? LayerTracker.mean(solid[l], width: w)
        }
        self.centre0 = centre0; self.pieces0 = pieces0
    }

    /// The layers' offsets in `frame` (`[height, width, 3]`, floats in [0, 1], at the cut's size),
    /// in working pixels, given their offsets in the frame before.
    public func locate(frame: [Float], previous: [SIMD2<Float>], frameIndex: Int) throws(TrackFailure) -> [SIMD2<Float>] {
        var out = previous
        // Each pixel's colours (a bit per colour group), and the same grown by a pixel (each
        // colour's anti-aliased edge): a layer may be hidden behind another wherever another
        // colour reaches.
        let (bits, all) = LayerTracker.pieces(frame: frame, width: width, height: height, colors: groupColors, background: background)
        let reach = LayerTracker.grown(bits, width: width, height: height)
        for g in groupColors.indices {
            let p = all[g]
            let bit: UInt32 = 1 << UInt32(g), others = ~bit
            let members = group.indices.filter { group[$0] == g }
            // (score, -distance from previous, layer, piece or -1, offset)
            var options: [(Float, Float, Int, Int, SIMD2<Float>)] = []
            for l in members {
                var cands: [(Int, SIMD2<Float>)] = [(-1, previous[l])]
                for k in p.centre.indices where p.count[k] >= 1 {
                    let d = p.centre[k] - centre0[l]
                    cands.append((k, d))
                }
                for (k, d) in cands {
                    let s = k < 0 ? hiddenScore(l, d, bits, bit, reach, others) : score(l, d, bits, bit)
                    let dd = d - previous[l]
                    options.append((s, -(dd * dd).sum().squareRoot(), l, k, d))
                }
                // A layer hidden in part or merged with a like piece: search near where it was.
                if let best = options.filter({ $0.2 == l }).map(\.0).max(), best < 0.9 {
                    var bs: Float = -1, bd = previous[l]
                    for dy in -4...4 {
                        for dx in -4...4 {
                            let d = previous[l] + SIMD2(Float(dx), Float(dy))
                            let s = score(l, d, bits, bit)
                            if s > bs { bs = s; bd = d }
                        }
                    }
                    options.append((bs, -(bd - previous[l]).squared.sum().squareRoot(), l, -1, bd))
                }
            }
            // Best score first (in steps of 5%: scores are shares of whole pixels); among equals a
            // piece, whose centre is measured to a fraction of a pixel, before a kept offset,
            // then the nearest to where the layer was. Identical layers (several of one colour)
            // take every score from 80% up as equal, so that a piece on the move, its rim a few
            // pixels short, stays with its own layer rather than go to the like piece nearer
            // a whole score.
            let bucket: (Float) -> Int = { s in members.count > 1 && s >= 0.8 ? 20 : Int(s * 20) }
            options.sort { a, b in
                let ka = (bucket(a.0), a.3 >= 0 ? 1 : 0, a.1), kb = (bucket(b.0), b.3 >= 0 ? 1 : 0, b.1)
                return ka > kb
            }
            var done = Set<Int>(), taken = Set<Int>()
            for o in options where !done.contains(o.2) && (o.3 < 0 || !taken.contains(o.3)) {
                if o.0 < LayerTracker.minScore { continue }
                done.insert(o.2)
                if o.3 >= 0 { taken.insert(o.3) }
                out[o.2] = o.4
            }
            for l in members where !done.contains(l) {
                throw .vanishes(layer: l, color: LayerTracker.hex(colors[l]), frame: frameIndex)
            }
            // A split: more pieces of a moving colour than at the start. A piece that touches
            // another colour may be cut by it (an outline a piece passes over) and is not counted.
            let moved = members.contains { out[$0].squared.sum() > 1 }
            if !moved { continue }
            var touches = [Bool](repeating: false, count: p.count.count)
            for i in p.label.indices where p.label[i] >= 0 && reach[i] & others != 0 { touches[Int(p.label[i])] = true }
            let now = p.count.indices.filter { p.count[$0] >= minPiece[g] && !touches[$0] }.count
            if now > pieces0[g] {
                let l = members.first { out[$0].squared.sum() > 1 } ?? members[0]
                throw .splits(layer: l, color: LayerTracker.hex(colors[l]), frame: frameIndex, pieces: now, was: pieces0[g])
            }
        }
        return out
    }

    /// The score of staying at `d` where other colours may cover the layer: the share among its
    /// pixels left visible; `hiddenScore` when under a fifth is visible (hidden behind another
    /// layer, it is taken to stay where it was, unless a piece of its colour in view matches
    /// better: a ball that has just crossed a waypoint left the waypoint's colour where it was,
    /// which would otherwise read as the ball hidden there).
    func hiddenScore(_ l: Int, _ d: SIMD2<Float>, _ bits: [UInt32], _ bit: UInt32, _ reach: [UInt32], _ others: UInt32) -> Float {
        let dx = Int32(d.x.rounded()), dy = Int32(d.y.rounded())
        let w = Int32(width), h = Int32(height)
        var hit = 0, hidden = 0
        solidXY[l].withUnsafeBufferPointer { p in
            bits.withUnsafeBufferPointer { b in
                reach.withUnsafeBufferPointer { r in
                    for q in p {
                        let x = q.x &+ dx, y = q.y &+ dy
                        guard x >= 0 && y >= 0 && x < w && y < h else { continue }
                        let i = Int(y &* w &+ x)
                        if b[i] & bit != 0 { hit += 1 } else if r[i] & others != 0 { hidden += 1 }
                    }
                }
            }
        }
        let visible = solid[l].count - hidden
        if visible * 5 < solid[l].count { return LayerTracker.hiddenScore }
        return Float(hit) / Float(max(1, visible))
    }

    /// Share of layer `l`'s solid pixels that land on its colour (`bit` of `bits`) at offset `d`;
    /// 0 as soon as the pixels left cannot bring it to `minScore` (half): a score below that is
    /// never taken and never decides which score is best, so only its being below matters.
    func score(_ l: Int, _ d: SIMD2<Float>, _ bits: [UInt32], _ bit: UInt32) -> Float {
        let dx = Int32(d.x.rounded()), dy = Int32(d.y.rounded())
        let w = Int32(width), h = Int32(height)
        let shift = UInt32(bit.trailingZeroBitCount)
        let box = solidBox[l], total = solid[l].count
        // the hits a score of half needs (2 * hits >= total)
        let need = (total + 1) / 2
        let found: Int?
        if box.x &+ dx >= 0 && box.y &+ dy >= 0 && box.z &+ dx < w && box.w &+ dy < h {
            // every pixel lands inside the frame: no test per pixel
            let offset = Int(dy) * width + Int(dx)
            found = solid[l].withUnsafeBufferPointer { p in
                bits.withUnsafeBufferPointer { b in
                    LayerTracker.hits(p.count, need: need) { Int((b[Int(p[$0]) &+ offset] &>> shift) & 1) }
                }
            }
        } else {
            found = solidXY[l].withUnsafeBufferPointer { p in
                bits.withUnsafeBufferPointer { b in
                    LayerTracker.hits(p.count, need: need) { i in
                        let x = p[i].x &+ dx, y = p[i].y &+ dy
                        // the bit added, not tested: whether a pixel has the colour is what a branch
                        // could not predict
                        return x >= 0 && y >= 0 && x < w && y < h ? Int((b[Int(y &* w &+ x)] &>> shift) & 1) : 0
                    }
                }
            }
        }
        guard let hit = found else { return 0 }
        return Float(hit) / Float(max(1, total))
    }

    /// `hit(i)` (0 or 1) summed over `0 ..< count`, checked after every 64: nil as soon as what
    /// is left cannot bring the sum to `need`.
    @inline(__always)
    static func hits(_ count: Int, need: Int, _ hit: (Int) -> Int) -> Int? {
        var sum = 0, i = 0
        while i < count {
            let end = min(count, i &+ 64)
            while i < end { sum &+= hit(i); i &+= 1 }
            if sum &+ (count &- i) < need { return nil }
        }
        return sum
    }

    struct Pieces {
        /// Piece of each pixel (-1 for none).
        var label: [Int32]
        /// Solid pixels per piece.
        var count: [Int]
        /// Coverage-weighted centre per piece, rim included.
        var centre: [SIMD2<Float>]
    }

    /// For each of the `n` pixels of `frame`, bit g set where the pixel is within `tolerance`
    /// of `colors[g]` (at most 32 colours).
    static func colorBits(frame: [Float], count n: Int, colors: [SIMD3<Float>]) -> [UInt32] {
        precondition(colors.count <= 32, "LayerTracker: \(colors.count) colours, at most 32")
        var bits = [UInt32](repeating: 0, count: n)
        let t2 = tolerance * tolerance
        frame.withUnsafeBufferPointer { f in
            bits.withUnsafeMutableBufferPointer { b in
                // A run of equal pixels (flat drawings are mostly runs) is classified once.
                var last = SIMD3<Float>(-1, -1, -1), v: UInt32 = 0
                for i in 0..<n {
                    let q = SIMD3(f[3 * i], f[3 * i + 1], f[3 * i + 2])
                    if q != last {
                        last = q
                        let p = q * 255
                        v = 0
                        for (g, c) in colors.enumerated() {
                            let d = p - c
                            if (d * d).sum() <= t2 { v |= 1 << UInt32(g) }
                        }
                    }
                    b[i] = v
                }
            }
        }
        return bits
    }

    /// `bits` grown by one pixel in all eight directions: each pixel the union of its 3 x 3
    /// neighbourhood (a row pass, then a column pass).
    static func grown(_ bits: [UInt32], width w: Int, height h: Int) -> [UInt32] {
        let n = w * h
        var rows = [UInt32](repeating: 0, count: n), out = rows
        if n == 0 { return out }
        bits.withUnsafeBufferPointer { m in
            rows.withUnsafeMutableBufferPointer { r in
                for o in stride(from: 0, to: n, by: w) {
                    if w == 1 { r[o] = m[o]; continue }
                    r[o] = m[o] | m[o + 1]
                    r[o + w - 1] = m[o + w - 2] | m[o + w - 1]
                    for x in stride(from: o + 1, to: o + w - 1, by: 1) { r[x] = m[x - 1] | m[x] | m[x + 1] }
                }
            }
        }
        rows.withUnsafeBufferPointer { r in
            out.withUnsafeMutableBufferPointer { g in
                if h == 1 { for i in 0..<n { g[i] = r[i] }; return }
                for i in 0..<w { g[i] = r[i] | r[i + w] }
                for i in (n - w)..<n { g[i] = r[i - w] | r[i] }
                for i in stride(from: w, to: n - w, by: 1) { g[i] = r[i - w] | r[i] | r[i + w] }
            }
        }
        return out
    }

    /// Each pixel's colours (`colorBits`) and the pieces of each colour: the 8-connected groups
    /// of its pixels.
    static func pieces(frame: [Float], width w: Int, height h: Int, colors: [SIMD3<Float>],
                       background bg: SIMD3<Float>) -> (bits: [UInt32], pieces: [Pieces]) {
        let bits = colorBits(frame: frame, count: w * h, colors: colors)
        let n = w * h
        // A piece's pixels waiting to be visited (each pixel enters once), and its rim: a pixel
        // once for each of the piece's pixels beside it (at most 8), which weighs it by contact.
        let stack = UnsafeMutablePointer<Int>.allocate(capacity: max(1, n))
        let rim = UnsafeMutablePointer<Int>.allocate(capacity: max(1, 8 * n))
        let rimShare = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
        defer { stack.deallocate(); rim.deallocate(); rimShare.deallocate() }
        return (bits, colors.indices.map { g in
            pieces(frame: frame, bits: bits, bit: 1 << UInt32(g), width: w, height: h, color: colors[g], background: bg,
                   stack: stack, rim: rim, rimShare: rimShare)
        })
    }

    /// The pieces of colour `c`, whose pixels are `bit` of `bits`.
    /// `stack` and `rim` are room for `w * h` and `8 * w * h` pixel indices, `rimShare` for
    /// `w * h` weights (written before each is read).
    static func pieces(frame: [Float], bits: [UInt32], bit: UInt32, width w: Int, height h: Int,
                       color c: SIMD3<Float>, background bg: SIMD3<Float>,
                       stack: UnsafeMutablePointer<Int>, rim: UnsafeMutablePointer<Int>,
                       rimShare share: UnsafeMutablePointer<Float>) -> Pieces {
        let n = w * h
        var label = [Int32](repeating: -1, count: n)
        var count: [Int] = [], centre: [SIMD2<Float>] = []
        let d = c - bg, len2 = max(1, (d * d).sum())
        // A rim pixel's weight (`share`), worked out at its first contact with a piece and read
        // at the others (its label is then -1 again): the share `a`, or -1 where it is not an edge.
        // Squared distances against the squares of the limits: the same decisions as the
        // distances themselves (24 and 30 are exact, and the square root rounds correctly).
        let residual2 = rimResidual * rimResidual, touch2: Float = 24 * 24
        frame.withUnsafeBufferPointer { f in
            bits.withUnsafeBufferPointer { b in
                label.withUnsafeMutableBufferPointer { lab in
                    for start in 0..<n where b[start] & bit != 0 && lab[start] < 0 {
                        let id = Int32(count.count)
                        var k = 0, sw: Float = 0, sx: Float = 0, sy: Float = 0
                        // the stack holds (y << 32) | x
                        lab[start] = id; stack[0] = ((start / w) << 32) | (start % w)
                        var top = 1, rims = 0
                        while top > 0 {
                            top &-= 1
                            let x = stack[top] & 0xFFFF_FFFF, y = stack[top] >> 32
                            k &+= 1
                            sw += 1; sx += Float(x) + 0.5; sy += Float(y) + 0.5
                            let x0 = x > 0 ? x &- 1 : x, x1 = x < w &- 1 ? x &+ 1 : x
                            var yy = y > 0 ? y &- 1 : y
                            let y1 = y < h &- 1 ? y &+ 1 : y
                            while yy <= y1 {
                                var xx = x0
                                while xx <= x1 {
                                    let r = yy &* w &+ xx
                                    if lab[r] < 0 {
                                        if b[r] & bit != 0 { lab[r] = id; stack[top] = (yy << 32) | xx; top &+= 1 }
                                        else { lab[r] = -2 &- id; rim[rims] = r; rims &+= 1 }
                                    }
                                    xx &+= 1
                                }
                                yy &+= 1
                            }
                        }
                        // The rim: pixels next to the piece that lie between the background and the colour.
                        for i in 0..<rims {
                            let r = rim[i]
                            let a: Float
                            if lab[r] == -1 {
                                a = share[r]
                            } else {
                                lab[r] = -1
                                a = rimWeight(r, f, width: w, height: h, background: bg, along: d, len2: len2,
                                              residual2: residual2, touch2: touch2)
                                share[r] = a
                            }
                            if a < 0 { continue }
                            sw += a; sx += a * (Float(r % w) + 0.5); sy += a * (Float(r / w) + 0.5)
                        }
                        count.append(k); centre.append(SIMD2(sx / sw, sy / sw))
                    }
                }
            }
        }
        return Pieces(label: label, count: count, centre: centre)
    }

    /// How much rim pixel `r` counts towards a piece's centre: its share `a` of the way from
    /// the background to the piece's colour, when it lies near that line and touches the
    /// background (an edge between the piece and the background; a pale patch of the same hue
    /// beside the piece, a target drawn pale, does not touch the background there); else -1.
    @inline(__always)
    static func rimWeight(_ r: Int, _ f: UnsafeBufferPointer<Float>, width w: Int, height h: Int, background bg: SIMD3<Float>,
                          along d: SIMD3<Float>, len2: Float, residual2: Float, touch2: Float) -> Float {
        let p = SIMD3(f[3 * r], f[3 * r + 1], f[3 * r + 2]) * 255
        let a = ((p - bg) * d).sum() / len2
        if a <= 0.04 || a >= 1 { return -1 }
        let e = p - (bg + a * d)
        if (e * e).sum() > residual2 { return -1 }
        let x = r % w, y = r / w
        for yy in max(0, y - 1)...min(h - 1, y + 1) {
            for xx in max(0, x - 1)...min(w - 1, x + 1) {
                let j = yy * w + xx
                let q = SIMD3(f[3 * j], f[3 * j + 1], f[3 * j + 2]) * 255 - bg
                if (q * q).sum() <= touch2 { return a }
            }
        }
        return -1
    }

    /// Measured centre of the pieces that hold most of `pixels`.
    static func centre(of pixels: [Int32], in p: Pieces) -> SIMD2<Float>? {
        var votes: [Int32: Int] = [:]
        for i in pixels where p.label[Int(i)] >= 0 { votes[p.label[Int(i)], default: 0] += 1 }
        // Every piece mostly inside the layer (a layer of several pieces: walls), weighted by size,
        // summed in the pieces' order (a dictionary's order changes from process to process).
        var acc = SIMD2<Float>.zero, wsum: Float = 0
        for (k, v) in votes.sorted(by: { $0.key < $1.key }) where v * 2 >= p.count[Int(k)] {
            acc += p.centre[Int(k)] * Float(p.count[Int(k)]); wsum += Float(p.count[Int(k)])
        }
        return wsum > 0 ? acc / wsum : nil
    }

    static func mean(_ pixels: [Int32], width: Int) -> SIMD2<Float> {
        var acc = SIMD2<Float>.zero
        for i in pixels { acc += SIMD2(Float(Int(i) % width) + 0.5, Float(Int(i) / width) + 0.5) }
        return acc / Float(max(1, pixels.count))
    }

    static func dist(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float { let d = a - b; return (d * d).sum().squareRoot() }

    static func hex(_ c: SIMD3<Float>) -> String {
        func h(_ v: Float) -> String { let s = String(Int(min(255, max(0, v.rounded()))), radix: 16); return s.count == 1 ? "0" + s : s }
        return "#" + h(c.x) + h(c.y) + h(c.z)
    }
}

extension SIMD2 where Scalar == Float {
    var squared: SIMD2<Float> { self * self }
}
