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
        let dx = [1, 0, -1, 0], dy = [0, 1, 0, -1]
        let open = carveMaze(n, n, &rng)

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

extension MazeFamily {
    /// Maze styles of the varied looks.
    enum Style: String, CaseIterable { case thin, thick, filled }

    /// The maze in a sampled look: 3 to 6 cells a side (7 or 8 held out), not necessarily
    /// square; walls as thin lines (2 px), thick bars (3 to 4 px) or filled cells (as wide as
    /// the corridors); the ball as wide as the corridors allow (radius 2 at least; a pixel
    /// clear of the walls on each side, half a pixel in 8-cell mazes); the target in one of the look's styles.
    static func buildVaried(_ rng: inout SplitMix64, look: inout Look) -> Built {
        let frames = NativeVideo.frames, W = 64
        let big = look.split == .heldout && look.chance(0.6)
        var style = look.rng.pick(Style.allCases)
        var nx = big ? look.rng.int(7...8) : look.rng.int(3...6), ny = big ? look.rng.int(6...8) : look.rng.int(3...6)
        if big && look.chance(0.5) { swap(&nx, &ny) }
        let n = max(nx, ny)
        if style == .filled && n > 4 { style = .thick }
        var w: Float, c: Float
        switch style {
        case .thin: w = 2; c = Float((W - 2) / n - 2)
        case .thick: w = n <= 6 ? Float(look.rng.int(3...4)) : 3; c = Float((W - Int(w)) / n) - w
        case .filled: c = Float(W / (2 * n + 1)); w = c
        }
        c = min(c, (12 * look.scale).rounded())
        if c < 5 { w = 2; c = Float((W - 2) / n - 2) }
        let p = c + w
        let r = max(2, min(3.5 * look.scale, (c - 2) / 2))
        let sideX = Int(p) * nx + Int(w), sideY = Int(p) * ny + Int(w)
        let ox = Float(rng.int(0...(W - sideX))), oy = Float(rng.int(0...(W - sideY)))
        let cells = nx * ny
        let dx = [1, 0, -1, 0], dy = [0, 1, 0, -1]
        let open = carveMaze(nx, ny, &rng)
        // At most 5 pixels a frame: the route is at most 75 / pitch cells long.
        let longest = max(2, min(6, Int(75 / p)))
        var start = 0, path: [Int] = []
        for _ in 0..<100 {
            start = rng.int(0..<cells)
            var parent = [Int](repeating: -1, count: cells), dist = [Int](repeating: -1, count: cells)
            dist[start] = 0
            var queue = [start], head = 0
            while head < queue.count {
                let a = queue[head]; head += 1
                for d in 0..<4 where open[a][d] {
                    let nb = (a / nx + dy[d]) * nx + a % nx + dx[d]
                    if dist[nb] < 0 { dist[nb] = dist[a] + 1; parent[nb] = a; queue.append(nb) }
                }
            }
            let candidates = (0..<cells).filter { dist[$0] >= 2 && dist[$0] <= longest }
            if candidates.isEmpty { continue }
            var a = rng.pick(candidates)
            path = [a]
            while a != start { a = parent[a]; path.append(a) }
            path.reverse()
            break
        }

        var walls: [Shape] = []
        for y in 0..<ny {
            for x in 0..<nx {
                let cx = ox + Float(x) * p, cy = oy + Float(y) * p
                if x == 0 || !open[y * nx + x][2] { walls.append(.rect(x0: cx, y0: cy, x1: cx + w, y1: cy + p + w)) }
                if y == 0 || !open[y * nx + x][3] { walls.append(.rect(x0: cx, y0: cy, x1: cx + p + w, y1: cy + w)) }
                if x == nx - 1 { walls.append(.rect(x0: cx + p, y0: cy, x1: cx + p + w, y1: cy + p + w)) }
                if y == ny - 1 { walls.append(.rect(x0: cx, y0: cy + p, x1: cx + p + w, y1: cy + p + w)) }
            }
        }
        func centre(_ a: Int) -> SIMD2<Float> { SIMD2(ox + Float(a % nx) * p + w + c / 2, oy + Float(a / nx) * p + w + c / 2) }
        let t = centre(path.last!)
        let cellBox = SIMD4(t.x - c / 2, t.y - c / 2, t.x + c / 2, t.y + c / 2)
        let ballWord = look.words(Wording.ball), avoid = look.words(Wording.avoidWalls)
        return BallTask.build(look: &look, frames: frames, obstacleShapes: walls, route: path.map(centre),
                              target: t, targetCell: cellBox, radius: r, obstacleName: "walls", obstacleWords: "walls",
                              ballWord: ballWord, avoidPhrase: avoid, via: "through the maze ")
    }
}

/// A maze of `nx` x `ny` cells: `open[cell][direction]` (0 right, 1 down, 2 left, 3 up), carved
/// by a depth-first walk from a random cell, then up to two extra openings, so that some mazes
/// have two routes. Every look draws its mazes from this one carving (same draws, same maze).
func carveMaze(_ nx: Int, _ ny: Int, _ rng: inout SplitMix64) -> [[Bool]] {
    let cells = nx * ny
    var open = [[Bool]](repeating: [false, false, false, false], count: cells)
    let dx = [1, 0, -1, 0], dy = [0, 1, 0, -1]
    var seen = [Bool](repeating: false, count: cells)
    var stack = [rng.int(0..<cells)]
    seen[stack[0]] = true
    while let cell = stack.last {
        let x = cell % nx, y = cell / nx
        var dirs = [0, 1, 2, 3].filter { d in
            let ax = x + dx[d], ay = y + dy[d]
            return ax >= 0 && ay >= 0 && ax < nx && ay < ny && !seen[ay * nx + ax]
        }
        if dirs.isEmpty { stack.removeLast(); continue }
        rng.shuffle(&dirs)
        let d = dirs[0], nb = (y + dy[d]) * nx + x + dx[d]
        open[cell][d] = true; open[nb][(d + 2) % 4] = true
        seen[nb] = true; stack.append(nb)
    }
    for _ in 0..<rng.int(0...2) {
        let cell = rng.int(0..<cells), d = rng.int(0...1)
        let x = cell % nx + dx[d], y = cell / nx + dy[d]
        if x < nx && y < ny { open[cell][d] = true; open[y * nx + x][(d + 2) % 4] = true }
    }
    return open
}
