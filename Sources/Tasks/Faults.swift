/// Faults injected into solution videos, to measure whether the judge catches them.
public enum Fault: String, CaseIterable, Sendable {
    /// The ball goes straight from start to target, through walls or crosses.
    case throughWall = "passes through a wall"
    /// The moving object disappears halfway.
    case vanishes = "vanishes"
    /// The moving object breaks into two halves, 8 pixels apart, halfway.
    case splits = "splits"
    /// The moving object covers only half its route.
    case stopsShort = "stops short"
    /// The moving object waits, then jumps to its end position halfway.
    case teleports = "teleports"
    /// The walls (or crosses) shift by 3 pixels right and down halfway.
    case wallsMove = "walls move"
    /// Two pieces end on each other's outlines.
    case wrongOutline = "ends on the wrong outline"
    /// The objects end in the wrong order (one adjacent pair swapped).
    case wrongOrder = "wrong order"
    /// The ball goes straight to the target, missing the waypoint it had to pass over.
    case skipsWaypoint = "skips the waypoint"

    /// The scene with the fault, or nil when it does not apply to this task.
    func apply(to b: Built) -> Scene? {
        var scene = b.scene
        let F = scene.frames, half = F / 2
        let p = b.primary
        let o = scene.layers[p].offsets
        let final = o[F - 1]
        let bounds = scene.layers[p].bounds
        let extent = min(bounds.z - bounds.x, bounds.w - bounds.y)
        switch self {
        case .throughWall:
            guard let obs = b.obstacles else { return nil }
            let straight = (0..<F).map { final * Float($0) / Float(F - 1) }
            scene.layers[p].offsets = straight
            // Applies when the straight route really runs into the obstacles: in some frame
            // more than 5% of the ball's area lies on them.
            let layer = scene.layers[p], walls = b.scene.layers[obs]
            var worst: Float = 0
            for t in 0..<F {
                var inside = 0, total = 0
                let pl = layer.placements[t][0]
                let k: Float = 8
                var y = (bounds.y + pl.offset.y).rounded(.down)
                while y < bounds.w + pl.offset.y + 1 {
                    var x = (bounds.x + pl.offset.x).rounded(.down)
                    while x < bounds.z + pl.offset.x + 1 {
                        if layer.covers(x, y, pl) {
                            total += 1
                            if walls.covers(x, y, .identity) { inside += 1 }
                        }
                        x += 1 / k
                    }
                    y += 1 / k
                }
                if total > 0 { worst = max(worst, Float(inside) / Float(total)) }
            }
            return worst > 0.05 ? scene : nil
        case .vanishes:
            for t in half..<F { scene.layers[p].placements[t] = [] }
            return scene
        case .splits:
            let cx = (bounds.x + bounds.z) / 2
            for t in half..<F {
                scene.layers[p].placements[t] = [
                    Placement(offset: o[t] - SIMD2(4, 0), clipX: -1000...cx),
                    Placement(offset: o[t] + SIMD2(4, 0), clipX: cx...1000),
                ]
            }
            return scene
        case .stopsShort:
            guard b.goalNeedsArrival else { return nil }
            let short = (0..<F).map { offset(o, at: Float($0) / 2) }
            let rest = final - short[F - 1]
            if (rest * rest).sum().squareRoot() < extent { return nil }
            scene.layers[p].offsets = short
            return scene
        case .teleports:
            let jump = (final * final).sum().squareRoot()
            if jump < 0.12 * Float(scene.size) + 2 { return nil }
            scene.layers[p].offsets = (0..<F).map { $0 < half ? .zero : final }
            return scene
        case .wallsMove:
            guard let obs = b.obstacles else { return nil }
            for t in half..<F { scene.layers[obs].placements[t] = [Placement(offset: SIMD2(3, 3))] }
            return scene
        case .skipsWaypoint:
            guard let direct = b.shortcut else { return nil }
            scene.layers[p].offsets = direct
            return scene
        case .wrongOutline, .wrongOrder:
            let mine: Fault = b.goalNeedsArrival ? .wrongOutline : .wrongOrder
            if self != mine || b.wrongEnding.isEmpty { return nil }
            for (layer, offsets) in b.wrongEnding { scene.layers[layer].offsets = offsets }
            return scene
        }
    }
}
