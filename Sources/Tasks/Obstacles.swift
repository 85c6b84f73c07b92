import Basics

/// A ball across a 7 x 7 grid of cells (9 native pixels apart) to a target square, without
/// touching any cross.
///
/// Half the layouts need only a local correction: ball and target on one row or column with
/// one or two crosses between them, so the straight line fails and a detour around the
/// crosses succeeds. The others scatter crosses over a quarter of the cells and need a plan.
/// Crosses are 7 pixels wide with arms 3 pixels thick; the ball (radius 3) moves through
/// cell centres, at most 7 cells, so at most 4.2 pixels a frame.
enum ObstaclesFamily {
    static let pitch: Float = 9
    static let cells = 7
    static let radius: Float = 3

    static func build(_ rng: inout SplitMix64) -> Built {
        let frames = NativeVideo.frames, g = cells
        let ox = Float(rng.int(0...1)), oy = Float(rng.int(0...1))
        var crosses = Set<Int>()
        var start = 0, target = 0, path: [Int] = []
        let local = rng.chance(0.5)
        for _ in 0..<1000 {
            crosses = []
            if local {
                let transpose = rng.chance(0.5)
                let line = rng.int(0..<g), a = rng.int(0...(g - 5)), d = rng.int(4...min(5, g - 1 - a))
                func cell(_ along: Int) -> Int { transpose ? along * g + line : line * g + along }
                let ends = rng.chance(0.5) ? (a, a + d) : (a + d, a)
                start = cell(ends.0); target = cell(ends.1)
                let between = Array((a + 1)..<(a + d))
                let k = rng.int(1...min(2, between.count))
                var b = between; rng.shuffle(&b)
                for c in b.prefix(k) { crosses.insert(cell(c)) }
                for _ in 0..<rng.int(3...7) {
                    let c = rng.int(0..<(g * g))
                    if c != start && c != target { crosses.insert(c) }
                }
            } else {
                for c in 0..<(g * g) where rng.chance(0.25) { crosses.insert(c) }
                let free = (0..<(g * g)).filter { !crosses.contains($0) }
                if free.count < 2 { continue }
                start = rng.pick(free); target = rng.pick(free)
            }
            if start == target || crosses.contains(start) || crosses.contains(target) { continue }
            path = shortestPath(from: start, to: target, blocked: crosses, &rng)
            let manhattan = abs(start % g - target % g) + abs(start / g - target / g)
            if path.count >= 2 && path.count - 1 <= 7 && path.count - 1 >= (local ? 4 : 3)
                && (!local || path.count - 1 > manhattan) { break }
            path = []
        }
        precondition(!path.isEmpty, "ObstaclesFamily: no layout found")
        // The layout search above draws from rng exactly as before; the ball follows the
        // layout's canonical route, which has the same length.
        path = canonicalPath(from: start, to: target, blocked: crosses)

        let bg = rng.pick(Palette.backgrounds), dark = rng.pick(Palette.darks)
        let red = Palette.brights.last!
        let ball = Palette.pick(1, avoiding: [bg, dark, red], &rng)[0]
        func origin(_ c: Int) -> SIMD2<Float> { SIMD2(ox + Float(c % g) * pitch, oy + Float(c / g) * pitch) }
        func centre(_ c: Int) -> SIMD2<Float> { origin(c) + SIMD2(4.5, 4.5) }
        var shapes: [Shape] = []
        for c in crosses.sorted() {
            let o = origin(c)
            shapes.append(.rect(x0: o.x + 1, y0: o.y + 3, x1: o.x + 8, y1: o.y + 6))
            shapes.append(.rect(x0: o.x + 3, y0: o.y + 1, x1: o.x + 6, y1: o.y + 8))
        }
        let to = origin(target), s = centre(start)
        var scene = Scene(background: bg, layers: [
            Layer(color: dark, shapes: shapes, frames: frames),
            Layer(color: red, shapes: [.rect(x0: to.x + 1, y0: to.y + 1, x1: to.x + 8, y1: to.y + 8)], frames: frames),
            Layer(color: ball, shapes: [.disc(cx: s.x, cy: s.y, r: radius)], frames: frames),
        ])
        scene.layers[2].offsets = constantSpeed(path.map(centre), frames: frames)

        let ballWords = "\(ball.name) ball"
        let rules = RulesText.file(
            objects: [("ball", RulesText.object(ball)), ("target", RulesText.object(red)),
                      ("crosses", RulesText.object(dark, tolerance: 70))],
            goal: RulesText.question("By the end of the video, does the \(ballWords) reach the red square?", "reach",
                                     [("object", .string("ball")), ("target", .string("target"))]),
            process: [
                RulesText.question("Does the \(ballWords) avoid every cross?", "avoid",
                                   [("object", .string("ball")), ("obstacle", .string("crosses"))]),
                RulesText.intact("ball", ballWords, areaTolerance: 0.5),
                RulesText.question("Do the crosses stay where they are?", "static", [("object", .string("crosses"))]),
                RulesText.smooth("ball", ballWords),
            ])
        let prompt = "Move the \(ballWords) to the red square without touching any of the \(dark.name) crosses."
        return Built(scene: scene, prompt: prompt, rules: rules, moving: [2], primary: 2, obstacles: 0)
    }

    /// The route the solution takes: among the shortest 4-connected paths, the one with the
    /// fewest turns, then the fewest crosses next to it (8-neighbourhood, summed over its cells),
    /// then the first in a fixed order of directions. It depends on nothing but the layout, so
    /// the trajectory is a function of the first frame: a model trained on it has one answer to
    /// learn per task, not an average of equally short routes that cuts corners through crosses.
    static func canonicalPath(from a: Int, to b: Int, blocked: Set<Int>) -> [Int] {
        let g = cells
        let steps = [(1, 0), (0, 1), (-1, 0), (0, -1)]
        // Crosses among each cell's 8 neighbours.
        let exposure = (0..<(g * g)).map { c in
            var n = 0
            for dy in -1...1 { for dx in -1...1 where dx != 0 || dy != 0 {
                let x = c % g + dx, y = c / g + dy
                if x >= 0 && x < g && y >= 0 && y < g && blocked.contains(y * g + x) { n += 1 }
            } }
            return n
        }
        // Dijkstra over (cell, direction of arrival; 4 = none), cost (length, turns, exposure).
        let states = g * g * 5
        func cost(_ length: Int, _ turns: Int, _ exp: Int) -> Int { length * 1_000_000 + turns * 1_000 + exp }
        var best = [Int](repeating: .max, count: states), parent = [Int](repeating: -1, count: states)
        var done = [Bool](repeating: false, count: states)
        best[a * 5 + 4] = cost(0, 0, exposure[a])
        var end = -1
        while true {
            var s = -1
            for i in 0..<states where !done[i] && best[i] != .max && (s < 0 || best[i] < best[s]) { s = i }
            if s < 0 { return [] }
            done[s] = true
            let c = s / 5, dir = s % 5
            if c == b { end = s; break }
            for (d, (dx, dy)) in steps.enumerated() {
                let x = c % g + dx, y = c / g + dy
                guard x >= 0 && x < g && y >= 0 && y < g else { continue }
                let nb = y * g + x
                if blocked.contains(nb) { continue }
                let t = best[s] + cost(1, dir != 4 && dir != d ? 1 : 0, exposure[nb])
                if t < best[nb * 5 + d] { best[nb * 5 + d] = t; parent[nb * 5 + d] = s }
            }
        }
        var p: [Int] = [], s = end
        while s >= 0 { p.append(s / 5); s = parent[s] }
        return p.reversed()
    }

    /// A shortest 4-connected path of cells, ties broken at random; empty when there is none.
    static func shortestPath(from a: Int, to b: Int, blocked: Set<Int>, _ rng: inout SplitMix64) -> [Int] {
        let g = cells
        var parent = [Int](repeating: -1, count: g * g), dist = [Int](repeating: -1, count: g * g)
        dist[a] = 0
        var queue = [a], head = 0
        while head < queue.count {
            let c = queue[head]; head += 1
            var nbs: [Int] = []
            if c % g > 0 { nbs.append(c - 1) }
            if c % g < g - 1 { nbs.append(c + 1) }
            if c / g > 0 { nbs.append(c - g) }
            if c / g < g - 1 { nbs.append(c + g) }
            rng.shuffle(&nbs)
            for nb in nbs where dist[nb] < 0 && !blocked.contains(nb) {
                dist[nb] = dist[c] + 1; parent[nb] = c; queue.append(nb)
            }
        }
        if dist[b] < 0 { return [] }
        var p = [b], c = b
        while c != a { c = parent[c]; p.append(c) }
        return p.reversed()
    }
}
