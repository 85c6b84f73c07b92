import Basics
import Media

/// Hard masks and 4-connected blobs of every subject in every frame of a video.
struct HardFrames {
    let frames: Int
    let n: Int
    /// `[subject][frame]` -> `[h * w]`, 0 or 1.
    let masks: [[[UInt8]]]
    let blobs: [[Blobs]]
    let width: Int

    init(teacher: Teacher, video: Video) {
        let F = video.frames, n = teacher.width * teacher.height
        frames = F; self.n = n; width = teacher.width
        var masks: [[[UInt8]]] = [], blobs: [[Blobs]] = []
        video.pixels.withUnsafeBufferPointer { px in
            for sub in teacher.subjects {
                var ms: [[UInt8]] = [], bs: [Blobs] = []
                for t in 0..<F {
                    var m = [UInt8](repeating: 0, count: n)
                    m.withUnsafeMutableBufferPointer {
                        ColorMask.hard(mask: $0.baseAddress!, pixels: px.baseAddress! + t * n * 3, count: n,
                                       color: sub.color, tolerance: sub.tolerance)
                    }
                    bs.append(Blobs(mask: m, width: teacher.width, height: teacher.height, minArea: teacher.speckArea))
                    ms.append(m)
                }
                masks.append(ms); blobs.append(bs)
            }
        }
        self.masks = masks; self.blobs = blobs
    }

    /// Hard pixel count (specks included).
    func count(_ s: Int, _ t: Int) -> Int { masks[s][t].reduce(0) { $0 + Int($1) } }

    /// Centroid of the non-speck blobs, in pixel coordinates; nil when there are none.
    func centroid(_ s: Int, _ t: Int) -> SIMD2<Float>? {
        let b = blobs[s][t]
        if b.kept.isEmpty { return nil }
        var keep = [Bool](repeating: false, count: b.areas.count)
        for k in b.kept { keep[k] = true }
        var sum = SIMD2<Float>(0, 0), cnt: Float = 0
        for i in 0..<n where b.label[i] >= 0 && keep[Int(b.label[i])] {
            sum += SIMD2(Float(i % width) + 0.5, Float(i / width) + 0.5); cnt += 1
        }
        return sum / cnt
    }
}

/// Evidence numbers, rounded to four decimals.
func num(_ x: Float) -> JSONValue { .number((Double(x) * 10_000).rounded() / 10_000) }
func ints(_ a: [Int]) -> JSONValue { .array(a.map { .number(Double($0)) }) }

extension Teacher {
    /// The hard "satisfied" of one check (docs/FORMAT.md, section 2), with its evidence.
    func hardJudge(_ check: CompiledCheck, _ h: HardFrames) -> (Bool, [(String, JSONValue)]) {
        let F = h.frames, N = h.n
        switch check {
        case let .overlap(s, r, minf, isAlign, _):
            let t = F - 1, R = regions[r]
            if !isAlign {
                let m = h.masks[s][t]
                var total = 0, inside = 0
                for i in 0..<N where m[i] != 0 { total += 1; if R[i] > 0 { inside += 1 } }
                let f = total > 0 ? Float(inside) / Float(total) : 0
                var ev: [(String, JSONValue)] = [("fraction_inside", num(f)), ("min_fraction", num(minf)), ("object_pixels", .number(Double(total)))]
                if total == 0 { ev.append(("note", .string("the object is not in the final frame"))) }
                return (total > 0 && f >= minf, ev)
            }
            // align: each blob of the object overlaps a different blob of the target.
            let ob = h.blobs[s][t]
            let tmask = R.map { $0 > 0 ? UInt8(1) : 0 }
            let tb = Blobs(mask: tmask, width: width, height: height, minArea: speckArea)
            var tIndex = [Int](repeating: -1, count: tb.areas.count)
            for (k, b) in tb.kept.enumerated() { tIndex[b] = k }
            var oIndex = [Int](repeating: -1, count: ob.areas.count)
            for (k, b) in ob.kept.enumerated() { oIndex[b] = k }
            var overlap = [[Int]](repeating: [Int](repeating: 0, count: tb.kept.count), count: ob.kept.count)
            for i in 0..<N {
                let a = ob.label[i], b = tb.label[i]
                if a >= 0, b >= 0, oIndex[Int(a)] >= 0, tIndex[Int(b)] >= 0 { overlap[oIndex[Int(a)]][tIndex[Int(b)]] += 1 }
            }
            var fractions: [Float] = []
            var ok = [[Bool]]()
            for (k, b) in ob.kept.enumerated() {
                let area = Float(ob.areas[b])
                fractions.append(Float(overlap[k].max() ?? 0) / area)
                ok.append(overlap[k].map { Float($0) >= minf * area })
            }
            let matched = maximumMatching(ok, right: tb.kept.count)
            let satisfied = !ob.kept.isEmpty && matched == ob.kept.count
            return (satisfied, [("object_blobs", .number(Double(ob.kept.count))), ("target_blobs", .number(Double(tb.kept.count))),
                                ("matched", .number(Double(matched))), ("best_fraction_per_blob", .array(fractions.map(num))),
                                ("min_fraction", num(minf))])

        case let .avoid(s, r, maxf):
            let O = regions[r]
            var failing: [Int] = [], worst: Float = 0, worstFrame = 0
            for t in 0..<F {
                let m = h.masks[s][t]
                var total = 0, inside = 0
                for i in 0..<N where m[i] != 0 { total += 1; if O[i] > 0 { inside += 1 } }
                let f = total > 0 ? Float(inside) / Float(total) : 0
                if f > worst { worst = f; worstFrame = t }
                if f > maxf { failing.append(t) }
            }
            return (failing.isEmpty, [("failing_frames", ints(failing)), ("worst_fraction", num(worst)),
                                      ("worst_frame", .number(Double(worstFrame))), ("max_fraction", num(maxf))])

        case let .intact(s, tol):
            let A0 = Float(max(subjects[s].hardArea, 1))
            var failing: [Int] = [], counts: [Int] = [], ratios: [JSONValue] = []
            for t in 0..<F {
                let b = h.blobs[s][t]
                let ratio = Float(b.keptArea) / A0
                counts.append(b.kept.count); ratios.append(num(ratio))
                if b.kept.count != 1 || abs(ratio - 1) > tol { failing.append(t) }
            }
            var ev: [(String, JSONValue)] = [("failing_frames", ints(failing)), ("blob_counts", ints(counts)),
                                             ("area_ratios", .array(ratios)), ("area_tolerance", num(tol))]
            if subjects[s].hardArea == 0 { ev.append(("note", .string("the object has no pixel in the first frame"))) }
            return (failing.isEmpty && subjects[s].hardArea > 0, ev)

        case let .count(s, n, atEnd):
            let ts = atEnd ? [F - 1] : Array(0..<F)
            var failing: [Int] = [], counts: [Int] = []
            for t in ts {
                let c = h.blobs[s][t].kept.count
                counts.append(c)
                if c != n { failing.append(t) }
            }
            return (failing.isEmpty, [("failing_frames", ints(failing)), ("blob_counts", ints(counts)), ("n", .number(Double(n)))])

        case let .static(s, maxc, occluders):
            let S0 = subjects[s].firstMask
            let K = S0.reduce(0) { $0 + Int($1) }
            var failing: [Int] = [], worst: Float = 0, covered: [Int] = []
            for t in 0..<F where K > 0 {
                let m = h.masks[s][t]
                var union = [Float](repeating: 0, count: occluders.isEmpty ? 0 : N)
                for o in occluders { for i in 0..<N where h.masks[o][t][i] != 0 { union[i] = 1 } }
                let cover = Teacher.withRim(union, width: width, height: height)
                var lost = 0, hidden = 0
                for i in 0..<N where S0[i] != 0 && m[i] == 0 {
                    if !cover.isEmpty && cover[i] > 0 { hidden += 1 } else { lost += 1 }
                }
                let f = Float(lost) / Float(K)
                worst = max(worst, f)
                covered.append(hidden)
                if f > maxc { failing.append(t) }
            }
            return (failing.isEmpty, [("failing_frames", ints(failing)), ("worst_changed_fraction", num(worst)),
                                      ("first_frame_pixels", .number(Double(K))), ("max_change", num(maxc)),
                                      ("covered_pixels", ints(covered))])

        case let .order(ss, axis):
            let t = F - 1
            var cs: [JSONValue] = [], values: [Float] = [], missing: [String] = []
            for s in ss {
                if let c = h.centroid(s, t) {
                    let v = (axis == .x ? c.x / Float(width) : c.y / Float(height))
                    values.append(v); cs.append(num(v))
                } else { missing.append(subjects[s].name); cs.append(.null) }
            }
            var ok = missing.isEmpty
            if ok { for j in 0..<(values.count - 1) where !(values[j] < values[j + 1]) { ok = false } }
            var ev: [(String, JSONValue)] = [("centroids", .array(cs)), ("axis", .string(axis.rawValue))]
            if !missing.isEmpty { ev.append(("missing", .array(missing.map { .string($0) }))) }
            return (ok, ev)

        case let .smooth(s, maxStep):
            var failing: [Int] = [], missing: [Int] = [], worst: Float = 0
            var prev: SIMD2<Float>? = nil
            for t in 0..<F {
                let c = h.centroid(s, t)
                if c == nil { missing.append(t) }
                if let c, let p = prev, t > 0 {
                    let d = (c - p) / SIMD2(Float(width), Float(height))
                    let len = (d * d).sum().squareRoot()
                    worst = max(worst, len)
                    if len > maxStep { failing.append(t) }
                }
                prev = c
            }
            return (failing.isEmpty && missing.isEmpty,
                    [("failing_frames", ints(failing)), ("frames_without_object", ints(missing)),
                     ("largest_step", num(worst)), ("max_step", num(maxStep))])

        case let .path(s, rs, _):
            var k = 0
            var entered: [Int] = []
            for t in 0..<F {
                guard let c = h.centroid(s, t) else { continue }
                let x = min(max(Int(c.x), 0), width - 1), y = min(max(Int(c.y), 0), height - 1)
                while k < rs.count && regions[rs[k]][y * width + x] > 0 { entered.append(t); k += 1 }
            }
            return (k == rs.count, [("regions_entered", .number(Double(k))), ("regions", .number(Double(rs.count))),
                                    ("entry_frames", ints(entered))])
        }
    }

    /// Size of a maximum matching in a bipartite graph (Kuhn's augmenting paths).
    ///
    /// - Parameter ok: `[left][right]`, true where the pair may be matched.
    func maximumMatching(_ ok: [[Bool]], right: Int) -> Int {
        var matchOfRight = [Int](repeating: -1, count: right)
        func augment(_ u: Int, _ seen: inout [Bool]) -> Bool {
            for v in 0..<right where ok[u][v] && !seen[v] {
                seen[v] = true
                if matchOfRight[v] < 0 || augment(matchOfRight[v], &seen) { matchOfRight[v] = u; return true }
            }
            return false
        }
        var total = 0
        for u in ok.indices {
            var seen = [Bool](repeating: false, count: right)
            if augment(u, &seen) { total += 1 }
        }
        return total
    }
}
