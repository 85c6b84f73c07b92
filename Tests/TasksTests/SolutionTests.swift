import XCTest
import Basics
@testable import Tasks

/// The generated solutions are what the Reasoner is trained on, so each must be a function of
/// what the Reasoner sees (the first frame and the prompt), not of the generator's dice.
final class SolutionTests: XCTestCase {
    func cell(_ x: Int, _ y: Int) -> Int { y * ObstaclesFamily.cells + x }

    func testObstacleRouteKeepsAwayFromCrosses() {
        // Two one-turn routes from (0,0) to (3,3); the cross beside one of them picks the other.
        XCTAssertEqual(ObstaclesFamily.canonicalPath(from: cell(0, 0), to: cell(3, 3), blocked: [cell(1, 2)]),
                       [cell(0, 0), cell(1, 0), cell(2, 0), cell(3, 0), cell(3, 1), cell(3, 2), cell(3, 3)])
        XCTAssertEqual(ObstaclesFamily.canonicalPath(from: cell(0, 0), to: cell(3, 3), blocked: [cell(2, 1)]),
                       [cell(0, 0), cell(0, 1), cell(0, 2), cell(0, 3), cell(1, 3), cell(2, 3), cell(3, 3)])
        // Walled off: no route.
        XCTAssertEqual(ObstaclesFamily.canonicalPath(from: cell(0, 0), to: cell(3, 3), blocked: [cell(1, 0), cell(0, 1)]), [])
    }

    func testObstacleRouteIsAShortestRouteWithFewestTurns() {
        let g = ObstaclesFamily.cells
        func turns(_ p: [Int]) -> Int {
            var n = 0
            for i in 2..<max(2, p.count) {
                let step: Int = p[i] - p[i - 1], before: Int = p[i - 1] - p[i - 2]
                if step != before { n += 1 }
            }
            return n
        }
        var rng = SplitMix64(seed: 7)
        var checked = 0
        for _ in 0..<300 {
            var blocked = Set<Int>()
            for c in 0..<(g * g) where rng.chance(0.25) { blocked.insert(c) }
            let a = rng.int(0..<(g * g)), b = rng.int(0..<(g * g))
            if a == b || blocked.contains(a) || blocked.contains(b) { continue }
            let canonical = ObstaclesFamily.canonicalPath(from: a, to: b, blocked: blocked)
            var dice = rng
            let random = ObstaclesFamily.shortestPath(from: a, to: b, blocked: blocked, &dice)
            XCTAssertEqual(canonical.count, random.count, "\(a) -> \(b): not a shortest route")
            if canonical.isEmpty { continue }
            XCTAssertEqual(canonical.first, a); XCTAssertEqual(canonical.last, b)
            for (p, q) in zip(canonical, canonical.dropFirst()) {
                XCTAssertEqual(abs(p % g - q % g) + abs(p / g - q / g), 1, "\(a) -> \(b): a jump")
                XCTAssertFalse(blocked.contains(q), "\(a) -> \(b): through a cross")
            }
            // Any random shortest route has at least as many turns.
            for _ in 0..<5 {
                XCTAssertLessThanOrEqual(turns(canonical), turns(ObstaclesFamily.shortestPath(from: a, to: b, blocked: blocked, &dice)))
            }
            // The same layout gives the same route.
            XCTAssertEqual(canonical, ObstaclesFamily.canonicalPath(from: a, to: b, blocked: blocked))
            checked += 1
        }
        XCTAssertGreaterThan(checked, 100)
    }

    func testOrderLanesGoToTheMoversFromLeftToRight() {
        // Object 1 starts in slot 0, object 2 in slot 1, object 0 in slot 2; all three move.
        let plan = OrderFamily.plan(from: [2, 0, 1], to: [0, 1, 2], frames: 16)
        let middle = plan.map { $0[8].y }
        XCTAssertEqual(middle[1], OrderFamily.lanes[0])
        XCTAssertEqual(middle[2], OrderFamily.lanes[1])
        XCTAssertEqual(middle[0], OrderFamily.lanes[2])
        // An object that stays in its slot stays in the row.
        let still = OrderFamily.plan(from: [1, 0, 2], to: [0, 1, 2], frames: 16)
        XCTAssertTrue(still[2].allSatisfy { $0 == .zero })
        XCTAssertEqual(still[1][8].y, OrderFamily.lanes[0])
        XCTAssertEqual(still[0][8].y, OrderFamily.lanes[1])
    }
}
