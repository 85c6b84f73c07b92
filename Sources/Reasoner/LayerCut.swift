import Media

/// One colour component of the first frame: what the Reasoner moves.
///
/// All pixel quantities are in the pixels of the frame it was cut from (the model's 64 x 64
/// view, or the teacher's working size): x to the right, y down.
public struct Layer: Sendable, Equatable {
    /// The component's colour, RGB in [0, 1].
    public var color: SIMD3<Float>
    /// Coverage, `[height, width]`, in [0, 1]: 1 in the solid interior, partial on the anti-aliased rim.
    public var alpha: [Float]
    /// Bounding box of the covered pixels in pixels, (x0, y0, x1, y1), x1 and y1 exclusive.
    public var box: SIMD4<Float>
    /// Sum of `alpha`, in pixels.
    public var area: Float
    /// Alpha-weighted centre, in pixel coordinates (pixel centres at i + 0.5).
    public var centroid: SIMD2<Float>

    public init(color: SIMD3<Float>, alpha: [Float], size: Int) {
        self.init(color: color, alpha: alpha, width: size, height: size)
    }

    /// - Parameter alpha: `[height, width]`.
    public init(color: SIMD3<Float>, alpha: [Float], width: Int, height: Int) {
        self.color = color
        self.alpha = alpha
        var a: Float = 0, cx: Float = 0, cy: Float = 0
        var x0 = width, y0 = height, x1 = 0, y1 = 0
        for y in 0..<height {
            for x in 0..<width {
                let v = alpha[y * width + x]
                if v <= 0 { continue }
                a += v; cx += v * (Float(x) + 0.5); cy += v * (Float(y) + 0.5)
                x0 = min(x0, x); y0 = min(y0, y); x1 = max(x1, x + 1); y1 = max(y1, y + 1)
            }
        }
        area = a
        centroid = a > 0 ? SIMD2(cx / a, cy / a) : SIMD2(Float(width) / 2, Float(height) / 2)
        box = a > 0 ? SIMD4(Float(x0), Float(y0), Float(x1), Float(y1)) : .zero
    }
}

/// A first frame cut into a background plate and colour layers.
public struct LayeredFrame: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// The background colour (the most frequent colour of the frame's border), RGB in [0, 1].
    public var background: SIMD3<Float>
    /// The first frame with every layer removed (background colour where a layer covered it),
    /// `[height, width, 3]`, floats in [0, 1].
    public var plate: [Float]
    /// The first frame at this size, `[height, width, 3]`.
    public var frame: [Float]
    /// At most `LayerCut.maxLayers` layers, largest area first (back to front).
    public var layers: [Layer]
    /// Pixels of this frame per pixel of a trajectory (the model's view): offsets are
    /// multiplied by it before drawing. 1 for the model's own view.
    public var offsetScale: Float = 1

    /// Side of a square frame (the model's view is 64 x 64).
    public var size: Int { width }

    public init(width: Int, height: Int, background: SIMD3<Float>, plate: [Float], frame: [Float], layers: [Layer],
                offsetScale: Float = 1) {
        self.width = width; self.height = height; self.background = background
        self.plate = plate; self.frame = frame; self.layers = layers; self.offsetScale = offsetScale
    }
}

/// Cuts a first frame into layers without looking at any rule file: the Reasoner sees only the
/// prompt and the first frame.
///
/// The background is the most frequent colour of the frame's border (a picture is drawn on its
/// background; the most frequent colour overall may be the pieces, a grid of tiles). Other
/// colours that cover at least two pixels become colour clusters; a colour that lies on the
/// line between the background and a cluster's colour, on pixels next to that cluster, is its
/// anti-aliased rim and joins it as partial alpha. Each cluster is then split into its
/// connected pieces (8-connected, rim included), so that identical pieces can move
/// independently; a colour drawn in more than `maxPiecesSplit` pieces (walls in several parts,
/// a field of crosses) stays one layer, as the model was trained to see it. What is left (for
/// example the few pixels where two components touch) stays in the plate.
public enum LayerCut {
    /// Native frame side.
    public static let size = 64
    /// Most layers kept (the largest by area): the model's layer slots. The shipped model was
    /// trained with 16; it runs unchanged with more (`ReasonerConfig.maxLayers`), so pictures of
    /// many pieces keep every piece movable.
    public static let maxLayers = 32
    /// A colour in at most this many pieces becomes one layer per piece.
    public static let maxPiecesSplit = 4

    /// Distances are RGB on the 0-255 scale.
    static let backgroundTolerance: Float = 24
    static let sameColorTolerance: Float = 36
    static let rimResidualTolerance: Float = 30
    static let minPixels = 2

    public static func cut(_ image: RGBImage, size: Int = LayerCut.size, maxLayers: Int = LayerCut.maxLayers) -> LayeredFrame {
        let frame = image.resizedFloat(width: size, height: size)
        return cut(frame: frame, width: size, height: size, maxLayers: maxLayers)
    }

    /// - Parameter frame: `[size, size, 3]`, floats in [0, 1].
    public static func cut(frame: [Float], size: Int, maxLayers: Int = LayerCut.maxLayers) -> LayeredFrame {
        cut(frame: frame, width: size, height: size, maxLayers: maxLayers)
    }

    /// - Parameter frame: `[height, width, 3]`, floats in [0, 1].
    public static func cut(frame: [Float], width w: Int, height h: Int, maxLayers: Int = LayerCut.maxLayers) -> LayeredFrame {
        let n = w * h
        precondition(frame.count == n * 3 && n > 0, "LayerCut: \(frame.count) floats for \(w) x \(h) x 3")
        // Colours on the 0-255 scale, [n].
        var px = [SIMD3<Float>](repeating: .zero, count: n)
        for i in 0..<n { px[i] = SIMD3(frame[3 * i], frame[3 * i + 1], frame[3 * i + 2]) * 255 }

        // Histogram over 16-level bins per channel.
        func binOf(_ c: SIMD3<Float>) -> Int {
            let q = (c / 16).rounded(.down)
            return Int(min(15, max(0, q.x))) << 8 | Int(min(15, max(0, q.y))) << 4 | Int(min(15, max(0, q.z)))
        }
        var bin = [Int](repeating: 0, count: n)
        for i in 0..<n { bin[i] = binOf(px[i]) }
        // The background: the most frequent bin of the border, its mean colour there.
        var count = [Int](repeating: 0, count: 4096)
        var sum = [SIMD3<Float>](repeating: .zero, count: 4096)
        for i in 0..<n {
            let x = i % w, y = i / w
            if x == 0 || y == 0 || x == w - 1 || y == h - 1 { count[bin[i]] += 1; sum[bin[i]] += px[i] }
        }
        let bgBin = (0..<4096).max { count[$0] < count[$1] || (count[$0] == count[$1] && $0 > $1) }!
        let bg = sum[bgBin] / Float(count[bgBin])
        func dist(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float { let d = a - b; return (d * d).sum().squareRoot() }
        /// Where `c` lies on the line from the background to `k`: (fraction, distance from the line).
        func blend(_ c: SIMD3<Float>, toward k: SIMD3<Float>) -> (Float, Float) {
            let d = k - bg, len2 = (d * d).sum()
            if len2 < 1 { return (0, .infinity) }
            let a = ((c - bg) * d).sum() / len2
            return (a, dist(c, bg + a * d))
        }
        var isBackground = [Bool](repeating: false, count: n)
        for i in 0..<n where dist(px[i], bg) <= backgroundTolerance { isBackground[i] = true }

        // Candidate bins: enough foreground pixels. Mean colour from the foreground pixels only.
        var fgCount = [Int](repeating: 0, count: 4096)
        var fgSum = [SIMD3<Float>](repeating: .zero, count: 4096)
        for i in 0..<n where !isBackground[i] { fgCount[bin[i]] += 1; fgSum[bin[i]] += px[i] }
        var candidates = (0..<4096).filter { fgCount[$0] >= minPixels }
        let mean = { (b: Int) in fgSum[b] / Float(fgCount[b]) }
        candidates.sort { fgCount[$0] > fgCount[$1] || (fgCount[$0] == fgCount[$1] && $0 < $1) }

        /// Of the pixels of bin `b`: the fraction with an 8-neighbour whose colour is near `k`, and
        /// how many have none.
        var pixelsOf = [Int: [Int]]()
        for i in 0..<n where !isBackground[i] && fgCount[bin[i]] >= minPixels { pixelsOf[bin[i], default: []].append(i) }
        func nextTo(_ i: Int, _ k: SIMD3<Float>) -> Bool {
            let x = i % w, y = i / w
            for dy in -1...1 {
                for dx in -1...1 where dx != 0 || dy != 0 {
                    let xx = x + dx, yy = y + dy
                    if xx < 0 || yy < 0 || xx >= w || yy >= h { continue }
                    if dist(px[yy * w + xx], k) <= sameColorTolerance { return true }
                }
            }
            return false
        }
        func adjacency(_ b: Int, _ k: SIMD3<Float>) -> (fraction: Float, apart: Int) {
            var hit = 0, total = 0
            for i in pixelsOf[b] ?? [] {
                total += 1
                if nextTo(i, k) { hit += 1 }
            }
            return (total == 0 ? 0 : Float(hit) / Float(total), total - hit)
        }

        // Accept clusters in order of pixel count; skip bins that are some other colour's rim.
        var clusterColor: [SIMD3<Float>] = []
        var clusterWeight: [Float] = []
        for b in candidates {
            let c = mean(b)
            if let j = clusterColor.indices.first(where: { dist(clusterColor[$0], c) <= sameColorTolerance }) {
                let wt = Float(fgCount[b])
                clusterColor[j] = (clusterColor[j] * clusterWeight[j] + c * wt) / (clusterWeight[j] + wt)
                clusterWeight[j] += wt
                continue
            }
            // A rim lies next to its colour. A bin that also holds many pixels away from it is a
            // colour of its own that the rim's blend happens to share (a pale outline of a
            // piece's hue, when edges fall between pixels), and stays a candidate.
            var rim = false
            for k in candidates where k != b {
                let kc = mean(k)
                // A rim of a colour further from the background, and not a shade of this one
                // (edges between pixels leave blends of every strength, one bin apart).
                if dist(kc, bg) <= dist(c, bg) || dist(kc, c) <= sameColorTolerance { continue }
                let (a, r) = blend(c, toward: kc)
                if a > 0.04 && a < 0.96 && r <= rimResidualTolerance {
                    let adj = adjacency(b, kc)
                    if adj.fraction >= 0.5 && adj.apart < max(8, fgCount[b] / 4) { rim = true; break }
                }
            }
            if !rim { clusterColor.append(c); clusterWeight.append(Float(fgCount[b])) }
        }

        // Core pixels: within the same-colour tolerance of a cluster. A pixel between a more
        // saturated cluster's pixel and the background, on the blend of the two, is that
        // cluster's rim even when its colour is near a paler cluster's (`rimOf`).
        var core = [Int](repeating: -1, count: n)
        var rimOf = [Int](repeating: -1, count: n)
        for i in 0..<n where !isBackground[i] {
            var best = -1, bestD = sameColorTolerance
            for (j, k) in clusterColor.enumerated() { let d = dist(px[i], k); if d <= bestD { best = j; bestD = d } }
            core[i] = best
        }
        for i in 0..<n where core[i] >= 0 {
            let x = i % w, y = i / w
            var nearBackground = false
            for dy in -1...1 { for dx in -1...1 {
                let xx = x + dx, yy = y + dy
                if xx >= 0 && yy >= 0 && xx < w && yy < h && isBackground[yy * w + xx] { nearBackground = true }
            } }
            if !nearBackground { continue }
            let own = dist(clusterColor[core[i]], bg)
            for (k, kc) in clusterColor.enumerated() where k != core[i] && dist(kc, bg) > own {
                let (a, r) = blend(px[i], toward: kc)
                if a > 0.04 && a < 0.96 && r <= rimResidualTolerance && nextTo(i, kc) { rimOf[i] = k; break }
            }
        }
        for i in 0..<n where rimOf[i] >= 0 { core[i] = -1 }
        // `owner[i]`: the cluster pixel i belongs to (core or rim), -1 for none; `alpha[i]` its coverage.
        var owner = [Int](repeating: -1, count: n)
        var alpha = [Float](repeating: 0, count: n)
        var coreCount = [Int](repeating: 0, count: clusterColor.count)
        for i in 0..<n where core[i] >= 0 {
            // Interior pixels (JPEG noise puts them within a few percent of the colour) are opaque;
            // a rim pixel just inside the tolerance keeps its partial coverage.
            let (a, _) = blend(px[i], toward: clusterColor[core[i]])
            owner[i] = core[i]
            alpha[i] = a >= 0.93 ? 1 : max(0, a)
            coreCount[core[i]] += 1
        }
        // Rim pixels: partial alpha toward a cluster with a core pixel within one pixel.
        for i in 0..<n where !isBackground[i] && core[i] < 0 {
            if rimOf[i] >= 0 {
                owner[i] = rimOf[i]; alpha[i] = min(1, max(0, blend(px[i], toward: clusterColor[rimOf[i]]).0))
                continue
            }
            let x = i % w, y = i / w
            var best = -1, bestR = rimResidualTolerance, bestA: Float = 0
            var seen = Set<Int>()
            for dy in -1...1 {
                for dx in -1...1 {
                    let xx = x + dx, yy = y + dy
                    if xx < 0 || yy < 0 || xx >= w || yy >= h { continue }
                    let j = core[yy * w + xx]
                    if j < 0 || !seen.insert(j).inserted { continue }
                    let (a, r) = blend(px[i], toward: clusterColor[j])
                    if a > 0 && r <= bestR { best = j; bestR = r; bestA = min(1, a) }
                }
            }
            if best >= 0 && bestA > 0 { owner[i] = best; alpha[i] = bestA }
        }

        // Pieces: 8-connected components of each cluster's pixels (rim included).
        var piece = [Int32](repeating: -1, count: n)
        var pieceCluster: [Int] = [], pieceCore: [Int] = []
        var stack: [Int] = []
        for start in 0..<n where owner[start] >= 0 && alpha[start] > 0 && piece[start] < 0 {
            let id = Int32(pieceCluster.count), j = owner[start]
            var cores = 0
            piece[start] = id
            stack.append(start)
            while let p = stack.popLast() {
                if core[p] == j { cores += 1 }
                let x = p % w, y = p / w
                for dy in -1...1 {
                    for dx in -1...1 where dx != 0 || dy != 0 {
                        let xx = x + dx, yy = y + dy
                        if xx < 0 || yy < 0 || xx >= w || yy >= h { continue }
                        let q = yy * w + xx
                        if piece[q] < 0 && owner[q] == j && alpha[q] > 0 { piece[q] = id; stack.append(q) }
                    }
                }
            }
            pieceCluster.append(j); pieceCore.append(cores)
        }
        // A cluster with few real pieces (at least `minPixels` core pixels each) is split into
        // them; one with many stays whole. Crumbs (a rim pixel alone) join their cluster's
        // largest piece's layer when split, so nothing of the colour is lost.
        var layerOfPiece = [Int](repeating: -1, count: pieceCluster.count)
        var groups: [[Int]] = []
        for j in clusterColor.indices where coreCount[j] >= minPixels {
            let pieces = pieceCluster.indices.filter { pieceCluster[$0] == j }
            let real = pieces.filter { pieceCore[$0] >= minPixels }.sorted { pieceCore[$0] > pieceCore[$1] }
            if real.count >= 2 && real.count <= maxPiecesSplit {
                for p in real { layerOfPiece[p] = groups.count; groups.append([p]) }
                for p in pieces where pieceCore[p] < minPixels { layerOfPiece[p] = layerOfPiece[real[0]]; groups[layerOfPiece[p]].append(p) }
            } else {
                for p in pieces { layerOfPiece[p] = groups.count }
                groups.append(pieces)
            }
        }
        var alphas = [[Float]](repeating: [Float](repeating: 0, count: n), count: groups.count)
        for i in 0..<n where piece[i] >= 0 {
            let g = layerOfPiece[Int(piece[i])]
            if g >= 0 { alphas[g][i] = alpha[i] }
        }

        var layers: [Layer] = []
        for (g, members) in groups.enumerated() {
            layers.append(Layer(color: clusterColor[pieceCluster[members[0]]] / 255, alpha: alphas[g], width: w, height: h))
        }
        layers.sort { $0.area > $1.area || ($0.area == $1.area && ($0.color.sum() < $1.color.sum()
            || ($0.color.sum() == $1.color.sum() && ($0.box.y, $0.box.x) < ($1.box.y, $1.box.x)))) }
        if layers.count > maxLayers { layers.removeLast(layers.count - maxLayers) }

        var plate = frame
        let bg01 = bg / 255
        for l in layers {
            for i in 0..<n where l.alpha[i] > 0 {
                plate[3 * i] = bg01.x; plate[3 * i + 1] = bg01.y; plate[3 * i + 2] = bg01.z
            }
        }
        return LayeredFrame(width: w, height: h, background: bg01, plate: plate, frame: frame, layers: layers)
    }
}
