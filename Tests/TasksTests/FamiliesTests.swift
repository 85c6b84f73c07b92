import Foundation
import XCTest
import Media
@testable import Teacher
@testable import Tasks

final class FamiliesTests: XCTestCase {
    static let seeds: [UInt64] = [3, 1_000_000, 1_000_001]

    func teacher(_ task: GeneratedTask) throws -> Teacher {
        let rules = try RuleFile.parse(Array(task.rulesJSON.utf8))
        return Teacher(rules: rules, firstFrame: try JPEG.decode(JPEG.encode(task.firstFrame)))
    }

    func testSameSeedSameTask() {
        for f in Family.allCases {
            let a = Families.generate(family: f, seed: 1_000_123), b = Families.generate(family: f, seed: 1_000_123)
            XCTAssertEqual(a.prompt, b.prompt)
            XCTAssertEqual(a.rulesJSON, b.rulesJSON)
            XCTAssertEqual(a.firstFrame, b.firstFrame)
            XCTAssertEqual(a.solution, b.solution)
            let c = Families.generate(family: f, seed: 1_000_124)
            XCTAssertNotEqual(a.firstFrame, c.firstFrame, "\(f): seeds 1000123 and 1000124 gave the same picture")
        }
    }

    /// `--size`: the same task at another size and aspect, as large as fits and centred; its
    /// middle, area-averaged back to 64 x 64, is the native first frame.
    func testTheSameTaskAtAnotherSizeAndAspect() throws {
        for f in Family.allCases {
            let square = Families.generate(family: f, seed: 1_000_007)
            let wide = Families.generate(family: f, seed: 1_000_007, size: (320, 200))
            XCTAssertEqual([wide.firstFrame.width, wide.firstFrame.height], [320, 200])
            XCTAssertEqual(wide.rulesJSON, square.rulesJSON)
            XCTAssertEqual(wide.prompt, square.prompt)
            var middle = RGBImage(width: 200, height: 200, fill: (0, 0, 0))
            for y in 0..<200 { for x in 0..<200 {
                for c in 0..<3 { middle.pixels[3 * (y * 200 + x) + c] = wide.firstFrame.pixels[3 * (y * 320 + x + 60) + c] }
            } }
            let a = middle.resizedFloat(width: 64, height: 64), b = square.solution[0].pixels.map { Float($0) / 255 }
            let mean = zip(a, b).map { abs($0 - $1) }.reduce(0, +) / Float(a.count)
            XCTAssertLessThan(mean, 0.02, "\(f): the 320 x 200 drawing is not the task")
            // The margins are background.
            XCTAssertEqual(wide.firstFrame[5, 100].0, wide.firstFrame[315, 100].0)
        }
        XCTAssertEqual(Families.parseSize("512x340")?.width, 512)
        XCTAssertNil(Families.parseSize("512"))
        XCTAssertNil(Families.parseSize("9000x10"))
    }

    /// Identical pieces: the solution passes, a video that leaves them where they are fails.
    func testIdenticalPiecesVariant() throws {
        for seed in FamiliesTests.seeds {
            let task = Families.generate(family: .align, seed: seed, identicalPieces: true)
            let rules = try RuleFile.parse(Array(task.rulesJSON.utf8))
            XCTAssertEqual(rules.objects.map(\.name), ["pieces", "outlines"])
            XCTAssertEqual(Set(task.tracks.map(\.color)).count, 1, "one colour for every piece")
            XCTAssertGreaterThanOrEqual(task.tracks.count, 2)
            let t = try teacher(task)
            let j = t.judge(Video(images: task.solution))
            XCTAssertTrue(j.passed, "seed \(seed): the solution fails: \(j.questions.filter { !$0.satisfied }.map { $0.evidence.serialized() })")
            let still = Video(images: Array(repeating: task.solution[0], count: NativeVideo.frames))
            XCTAssertFalse(t.judge(still).passed, "seed \(seed): pieces that never move pass")
        }
    }

    func testTasksKeepTheContract() throws {
        for f in Family.allCases {
            for seed in FamiliesTests.seeds {
                let task = Families.generate(family: f, seed: seed)
                let label = "\(f) \(seed)"
                XCTAssertEqual([task.firstFrame.width, task.firstFrame.height], [256, 256], label)
                XCTAssertEqual(task.solution.count, NativeVideo.frames, label)
                XCTAssertTrue(task.solution.allSatisfy { $0.width == NativeVideo.size && $0.height == NativeVideo.size }, label)
                XCTAssertEqual(Teacher.defaultNativeSize, NativeVideo.size)
                let rules = try RuleFile.parse(Array(task.rulesJSON.utf8))
                // The solution's first frame is the first frame at native size.
                let native = task.firstFrame.resizedFloat(width: 64, height: 64)
                let diff = zip(native, task.solution[0].pixels).map { abs($0 - Float($1) / 255) }.max()!
                XCTAssertLessThan(diff, 0.01, label)

                XCTAssertFalse(task.tracks.isEmpty, label)
                let colours = rules.objects.map(\.color)
                for (k, track) in task.tracks.enumerated() {
                    XCTAssertEqual(track.offsets.count, NativeVideo.frames, label)
                    XCTAssertEqual(track.offsets[0], .zero, label)
                    XCTAssertEqual(track.firstFrameCoverage.count, 64 * 64, label)
                    XCTAssertGreaterThan(track.firstFrameCoverage.reduce(0, +), 15, "\(label) track \(k) is too small")
                    // Continuous motion, a few pixels a frame at most.
                    for t in 1..<track.offsets.count {
                        let d = track.offsets[t] - track.offsets[t - 1]
                        XCTAssertLessThanOrEqual((d * d).sum().squareRoot(), 6, "\(label) track \(k) frame \(t)")
                    }
                    // One solid colour, far from every other colour of the task.
                    let c = SIMD3<Float>(track.color.map(Float.init))
                    for o in colours where o != c {
                        XCTAssertGreaterThan(((o - c) * (o - c)).sum().squareRoot(), 100, "\(label) track \(k)")
                    }
                    XCTAssertTrue(colours.contains(c), "\(label): track \(k)'s colour is not an object of the rules")
                }
                // Each track says where its object is: the coverage's centroid moved by the
                // offset lands on the centroid of the object's colour in the solution frame.
                // (Identical pieces share a colour: their joint centroid is no one track's.)
                for (k, track) in task.tracks.enumerated() where task.tracks.filter({ $0.color == track.color }).count == 1 {
                    var c0 = SIMD2<Float>(0, 0), w0: Float = 0
                    for (i, a) in track.firstFrameCoverage.enumerated() { c0 += a * SIMD2(Float(i % 64), Float(i / 64)); w0 += a }
                    c0 /= w0
                    let colour = SIMD3<Float>(track.color.map(Float.init))
                    for t in 0..<NativeVideo.frames {
                        var c = SIMD2<Float>(0, 0), cnt: Float = 0
                        let px = task.solution[t].pixels
                        for i in 0..<(64 * 64) {
                            let p = SIMD3<Float>(Float(px[3 * i]), Float(px[3 * i + 1]), Float(px[3 * i + 2])) - colour
                            if (p * p).sum() <= 30 * 30 { c += SIMD2(Float(i % 64), Float(i / 64)); cnt += 1 }
                        }
                        XCTAssertGreaterThan(cnt, 0, "\(label) track \(k) frame \(t): the object is not in the frame")
                        let e = c / max(cnt, 1) - (c0 + track.offsets[t])
                        XCTAssertLessThan((e * e).sum().squareRoot(), 0.75, "\(label) track \(k) frame \(t)")
                    }
                }
                let j = try teacher(task).judge(Video(images: task.solution))
                XCTAssertTrue(j.passed, "\(label): the solution fails: \(j.questions.filter { !$0.satisfied }.map { "\($0.type) \($0.evidence.serialized())" })")
                // The soft checks agree on the shipped families; on shapes and slots the soft
                // intact and count checks are unsure of some right answers (bench teacher reports it).
                if Family.original.contains(f) {
                    XCTAssertTrue(j.questions.allSatisfy { $0.pYes > 0.5 }, "\(label): \(j.questions.map(\.pYes))")
                }
            }
        }
    }

    func testInjectedFaultsAreCaught() throws {
        var applied = Set<Fault>()
        for f in Family.allCases {
            let seed: UInt64 = 1_000_002
            let t = try teacher(Families.generate(family: f, seed: seed))
            for fault in Fault.allCases {
                guard let v = Families.faultyVideo(family: f, seed: seed, fault: fault) else { continue }
                applied.insert(fault)
                XCTAssertFalse(t.judge(v).passed, "\(f) \(seed): \(fault.rawValue) not caught")
            }
        }
        XCTAssertEqual(applied, Set(Fault.allCases), "some faults applied to no task")
    }

    /// A waypoint task cannot be solved by the straight line: going straight to the target
    /// reaches it but fails the path question, in every look, while the solution passes both.
    func testWaypointStraightRouteMissesTheWaypoint() throws {
        for look in LookSplit.allCases {
            for seed in UInt64(1_000_000)..<1_000_006 {
                let task = Families.generate(family: .waypoint, seed: seed, look: look)
                let t = try teacher(task)
                let label = "\(look) \(seed)"
                let straight = try XCTUnwrap(Families.faultyVideo(family: .waypoint, seed: seed, fault: .skipsWaypoint, look: look))
                let j = t.judge(straight)
                XCTAssertTrue(j.goal.satisfied, "\(label): the straight route does not reach the target")
                XCTAssertEqual(j.process.filter { !$0.satisfied }.map(\.type), ["path"], label)
                XCTAssertTrue(t.judge(Video(images: task.solution)).passed, label)
            }
        }
    }

    /// Plain gradient descent on the pixels of a video that is the first frame repeated
    /// lowers the loss and moves the ball toward the target. (Pixel descent can only recolour
    /// the ball's rim, where the soft masks' gradient lives, so it moves the ball a little;
    /// the next test moves it through a compositor, as the Reasoner renders it.)
    func testPixelGradientDescentMovesTheBallTowardTheTarget() throws {
        for (f, seed) in [(Family.maze, UInt64(1_000_000)), (.obstacles, 1_000_000), (.obstacles, 1_000_001)] {
            let task = Families.generate(family: f, seed: seed)
            let rules = try RuleFile.parse(Array(task.rulesJSON.utf8))
            let teacher = Teacher(rules: rules, firstFrame: task.firstFrame)
            let frames = 3
            var video = Video(images: Array(repeating: task.solution[0], count: frames))
            let ball = rules.object(named: "ball")!
            func centroid(_ px: ArraySlice<Float>) -> SIMD2<Float> {
                var m = [Float](repeating: 0, count: 64 * 64)
                Array(px).withUnsafeBufferPointer { p in
                    m.withUnsafeMutableBufferPointer { ColorMask.soft(mask: $0.baseAddress!, dmask: nil, pixels: p.baseAddress!, count: 64 * 64, color: ball.color, tolerance: ball.tolerance) }
                }
                var s: Float = 0, c = SIMD2<Float>(0, 0)
                for i in 0..<(64 * 64) { s += m[i]; c += m[i] * SIMD2(Float(i % 64), Float(i / 64)) }
                return c / s
            }
            let fs = 64 * 64 * 3
            let goal = centroid(Video(images: [task.solution.last!]).pixels[...])
            let start = centroid(video.pixels[((frames - 1) * fs)...])
            let l0 = teacher.score(video, gradient: nil).loss
            for _ in 0..<20 {
                var g = [Float](repeating: 0, count: video.pixels.count)
                _ = g.withUnsafeMutableBufferPointer { teacher.score(video, gradient: $0.baseAddress!) }
                for i in g.indices { video.pixels[i] = min(max(video.pixels[i] - 2 * g[i], 0), 1) }
            }
            let l1 = teacher.score(video, gradient: nil).loss
            let end = centroid(video.pixels[((frames - 1) * fs)...])
            let d0 = ((start - goal) * (start - goal)).sum().squareRoot(), d1 = ((end - goal) * (end - goal)).sum().squareRoot()
            print("pixel descent, \(f) \(seed): loss \(l0) -> \(l1); final-frame ball \(d0) -> \(d1) px from the target")
            XCTAssertLessThan(l1, l0 - 0.01, "\(f) \(seed): the loss did not fall")
            XCTAssertLessThan(d1, d0 - 0.1, "\(f) \(seed): the ball did not move toward the target")
        }
    }

    /// The teacher's pixel gradient, carried through a compositor (the ball's layer sampled
    /// bilinearly at `x - offset_t` over a plate without the ball), moves the ball's offsets
    /// toward the target, around the crosses, and lowers the loss.
    func testGradientThroughACompositorMovesTheBallToTheTarget() throws {
        for (f, seed) in [(Family.obstacles, UInt64(1_000_000)), (.obstacles, 1_000_001), (.maze, 1_000_000)] {
            let built = Families.build(family: f, seed: seed)
            let task = Families.generate(family: f, seed: seed)
            let rules = try RuleFile.parse(Array(task.rulesJSON.utf8))
            let teacher = Teacher(rules: rules, firstFrame: task.firstFrame)
            var plateScene = built.scene
            plateScene.layers[built.primary].placements = Array(repeating: [], count: plateScene.frames)
            let plate = Video(images: [plateScene.render()[0]]).pixels
            let track = task.tracks[0]
            let alpha = track.firstFrameCoverage, colour = track.color.map { Float($0) / 255 }
            let n = 64, frames = 8
            // alpha sampled at (x, y) - o, bilinear, with its gradient in (x, y).
            func sample(_ x: Float, _ y: Float) -> (Float, SIMD2<Float>) {
                let x0 = Int(x.rounded(.down)), y0 = Int(y.rounded(.down))
                let fx = x - Float(x0), fy = y - Float(y0)
                func a(_ i: Int, _ j: Int) -> Float { i < 0 || j < 0 || i >= n || j >= n ? 0 : alpha[j * n + i] }
                let a00 = a(x0, y0), a10 = a(x0 + 1, y0), a01 = a(x0, y0 + 1), a11 = a(x0 + 1, y0 + 1)
                let v = (a00 * (1 - fx) + a10 * fx) * (1 - fy) + (a01 * (1 - fx) + a11 * fx) * fy
                return (v, SIMD2((a10 - a00) * (1 - fy) + (a11 - a01) * fy, (a01 - a00) * (1 - fx) + (a11 - a10) * fx))
            }
            // The pixels the ball can touch at offset o: its first-frame box, shifted, plus a margin.
            let covered = alpha.indices.filter { alpha[$0] > 0 }
            let bx0 = covered.map { $0 % n }.min()!, bx1 = covered.map { $0 % n }.max()!
            let by0 = covered.map { $0 / n }.min()!, by1 = covered.map { $0 / n }.max()!
            func near(_ o: SIMD2<Float>) -> [Int] {
                let x0 = max(0, bx0 + Int(o.x.rounded(.down)) - 1), x1 = min(n - 1, bx1 + Int(o.x.rounded(.up)) + 1)
                let y0 = max(0, by0 + Int(o.y.rounded(.down)) - 1), y1 = min(n - 1, by1 + Int(o.y.rounded(.up)) + 1)
                if x0 > x1 || y0 > y1 { return [] }
                return (y0...y1).flatMap { y in (x0...x1).map { y * n + $0 } }
            }
            func render(_ o: [SIMD2<Float>]) -> Video {
                var px = [Float](repeating: 0, count: frames * n * n * 3)
                for t in 0..<frames {
                    for i in 0..<(n * n * 3) { px[t * n * n * 3 + i] = plate[i] }
                    for i in near(o[t]) {
                        let (a, _) = sample(Float(i % n) - o[t].x, Float(i / n) - o[t].y)
                        for c in 0..<3 { px[(t * n * n + i) * 3 + c] = plate[i * 3 + c] * (1 - a) + colour[c] * a }
                    }
                }
                return Video(frames: frames, height: n, width: n, pixels: px)
            }
            let goal = track.offsets.last!
            var o = [SIMD2<Float>](repeating: .zero, count: frames)
            let l0 = teacher.score(render(o), gradient: nil).loss
            for _ in 0..<60 {
                let v = render(o)
                var g = [Float](repeating: 0, count: v.pixels.count)
                _ = g.withUnsafeMutableBufferPointer { teacher.score(v, gradient: $0.baseAddress!) }
                for t in 0..<frames {
                    var d = SIMD2<Float>(0, 0)
                    for i in near(o[t]) {
                        let (_, da) = sample(Float(i % n) - o[t].x, Float(i / n) - o[t].y)
                        if da == .zero { continue }
                        var dLda: Float = 0
                        for c in 0..<3 { dLda += g[(t * n * n + i) * 3 + c] * (colour[c] - plate[i * 3 + c]) }
                        d -= dLda * da // d alpha / d o = -grad alpha
                    }
                    o[t] -= 0.5 * d
                }
            }
            let l1 = teacher.score(render(o), gradient: nil).loss
            let d0 = (goal * goal).sum().squareRoot(), e = o[frames - 1] - goal, d1 = (e * e).sum().squareRoot()
            print("compositor descent, \(f) \(seed): loss \(l0) -> \(l1); final offset \(d0) -> \(d1) px from the solution's; offsets \(o.map { "(\(Int($0.x)),\(Int($0.y)))" }.joined(separator: " "))")
            XCTAssertLessThan(l1, l0 - 0.5, "\(f) \(seed): the loss did not fall")
            XCTAssertLessThan(d1, d0 - 3, "\(f) \(seed): the ball did not move toward the target")
        }
    }
}
