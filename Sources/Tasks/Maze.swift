import Basics

/// A ball through a maze to a target square.
///
/// A perfect maze of 4 x 4 to 6 x 6 cells (random depth-first carving, with a few extra
/// openings), cells 10 native pixels apart, walls 2 pixels thick and on the pixel grid, a ball
/// of radius 3 in 8-pixel corridors. The target is 2 to 6 cells from the start along the
/// maze, so the ball moves at most 4 pixels a frame, through the centres of the cells.
enum MazeFamily {
    static let pitch: Float = 10
    static let wall: Float = 2
    static let radius: Float = 3

    static func build(_ rng: inout SplitMix64) -> Built {
        let frames = NativeVideo.frames
        let n = rng.int(4...6)
        let side = Int(pitch) * n + Int(wall)
        let ox = Float(rng.int(0...(NativeVideo.size - side))), oy = Float(rng.int(0...(NativeVideo.size - side)))
        // open[cell][direction]: 0 right, 1 down, 2 left, 3 up
        var open = [[Bool]](repeating: [false, false, false, false], count: n * n)
        let dx = [1, 0, -1, 0], dy = [0, 1, 0, -1]
        var seen = [Bool](repeating: false, count: n * n)
        var stack = [rng.int(0..<(n * n))]
        seen[stack[0]] = true
        while let c = stack.last {
            let x = c % n, y = c / n
            var dirs = [0, 1, 2, 3].filter { d in
                let nx = x + dx[d], ny = y + dy[d]
                return nx >= 0 && ny >= 0 && nx < n && ny < n && !seen[ny * n + nx]
            }
            if dirs.isEmpty { stack.removeLast(); continue }
            rng.shuffle(&dirs)
            let d = dirs[0], nb = (y + dy[d]) * n + x + dx[d]
            open[c][d] = true; open[nb][(d + 2) % 4] = true
            seen[nb] = true; stack.append(nb)
        }
        for _ in 0..<rng.int(0...2) { // a few loops, so that some mazes have two routes
            let c = rng.int(0..<(n * n)), d = rng.int(0...1)
            let x = c % n + dx[d], y = c / n + dy[d]
            if x < n && y < n { open[c][d] = true; open[y * n + x][(d + 2) % 4] = true }
        }

        // Start, and a target 2 to 6 cells away along the maze.
        var start = 0, path: [Int] = []
        for _ in 0..<100 {
            start = rng.int(0..<(n * n))
            var parent = [Int](repeating: -1, count: n * n), dist = [Int](repeating: -1, count: n * n)
            dist[start] = 0
            var queue = [start], head = 0
            while head < queue.count {
                let c = queue[head]; head += 1
                for d in 0..<4 where open[c][d] {
                    let nb = (c / n + dy[d]) * n + c % n + dx[d]
                    if dist[nb] < 0 { dist[nb] = dist[c] + 1; parent[nb] = c; queue.append(nb) }
                }
            }
            let candidates = (0..<(n * n)).filter { dist[$0] >= 2 && dist[$0] <= 6 }
            if candidates.isEmpty { continue }
            var c = rng.pick(candidates)
            path = [c]
            while c != start { c = parent[c]; path.append(c) }
            path.reverse()
            break
        }

        let bg = rng.pick(Palette.backgrounds), dark = rng.pick(Palette.darks)
        let red = Palette.brights.last!
        let ball = Palette.pick(1, avoiding: [bg, dark, red], &rng)[0]

        var walls: [Shape] = []
        for y in 0..<n {
            for x in 0..<n {
                let cx = ox + Float(x) * pitch, cy = oy + Float(y) * pitch
                if x == 0 || !open[y * n + x][2] { walls.append(.rect(x0: cx, y0: cy, x1: cx + wall, y1: cy + pitch + wall)) }
                if y == 0 || !open[y * n + x][3] { walls.append(.rect(x0: cx, y0: cy, x1: cx + pitch + wall, y1: cy + wall)) }
                if x == n - 1 { walls.append(.rect(x0: cx + pitch, y0: cy, x1: cx + pitch + wall, y1: cy + pitch + wall)) }
                if y == n - 1 { walls.append(.rect(x0: cx, y0: cy + pitch, x1: cx + pitch + wall, y1: cy + pitch + wall)) }
            }
        }
        func centre(_ c: Int) -> SIMD2<Float> {
            SIMD2(ox + Float(c % n) * pitch + 6, oy + Float(c / n) * pitch + 6)
        }
        let s = centre(start), t = centre(path.last!)
        var scene = Scene(background: bg, layers: [
            Layer(color: dark, shapes: walls, frames: frames),
            Layer(color: red, shapes: [.rect(x0: t.x - 3, y0: t.y - 3, x1: t.x + 3, y1: t.y + 3)], frames: frames),
            Layer(color: ball, shapes: [.disc(cx: s.x, cy: s.y, r: radius)], frames: frames),
        ])
        scene.layers[2].offsets = constantSpeed(path.map(centre), frames: frames)

        let ballWords = "\(ball.name) ball"
        let rules = RulesText.file(
            objects: [("ball", RulesText.object(ball)), ("target", RulesText.object(red)),
                      ("walls", RulesText.object(dark, tolerance: 70))],
            goal: RulesText.question("By the end of the video, does the \(ballWords) reach the red square?", "reach",
                                     [("object", .string("ball")), ("target", .string("target"))]),
            process: [
                RulesText.question("Does the \(ballWords) avoid all walls?", "avoid",
                                   [("object", .string("ball")), ("obstacle", .string("walls"))]),
                RulesText.intact("ball", ballWords, areaTolerance: 0.5),
                RulesText.question("Do the walls stay where they are?", "static", [("object", .string("walls"))]),
                RulesText.smooth("ball", ballWords),
            ])
        let prompt = "Move the \(ballWords) through the maze to the red square without touching the \(dark.name) walls."
        return Built(scene: scene, prompt: prompt, rules: rules, moving: [2], primary: 2, obstacles: 0)
    }
}
