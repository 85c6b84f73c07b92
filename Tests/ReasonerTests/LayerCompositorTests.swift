import Basics
import Engine
import Media
@testable import Reasoner
import XCTest

/// A hand-drawn scene at 256 x 256 (4 x the native size), anti-aliased by supersampling:
/// white background, two black walls, a red target square and a yellow ball at `ball` (native
/// pixels, centre).
private func drawScene(ball: SIMD2<Float>, radius: Float = 3.2) -> RGBImage {
    let w = 256, ss = 2
    var px = [UInt8](repeating: 0, count: w * w * 3)
    for y in 0..<w {
        for x in 0..<w {
            var acc = SIMD3<Float>.zero
            for sy in 0..<ss {
                for sx in 0..<ss {
                    // Position in native pixels.
                    let nx = (Float(x) + (Float(sx) + 0.5) / Float(ss)) / 4
                    let ny = (Float(y) + (Float(sy) + 0.5) / Float(ss)) / 4
                    var c = SIMD3<Float>(255, 255, 255)
                    if (nx >= 20 && nx < 23 && ny >= 8 && ny < 50) || (ny >= 40 && ny < 42.5 && nx >= 30 && nx < 60) {
                        c = SIMD3(32, 32, 32)
                    }
                    if nx >= 48 && nx < 56 && ny >= 10 && ny < 18 { c = SIMD3(208, 32, 32) }
                    let d = SIMD2(nx, ny) - ball
                    if (d * d).sum() <= radius * radius { c = SIMD3(242, 194, 0) }
                    acc += c
                }
            }
            acc /= Float(ss * ss)
            for c in 0..<3 { px[(y * w + x) * 3 + c] = UInt8(max(0, min(255, acc[c].rounded()))) }
        }
    }
    return RGBImage(width: w, height: w, pixels: px)
}

final class LayerCompositorTests: XCTestCase {
    func testLayerCutFindsBallTargetAndWalls() throws {
        let image = drawScene(ball: SIMD2(10.3, 30.6))
        // Through JPEG at 4:4:4, as a user's first frame arrives.
        let decoded = try JPEG.decode(JPEG.encode(image, quality: 95))
        let cut = LayerCut.cut(decoded)
        // The two wall bars are two pieces of one colour: a layer each (LayerCut.maxPiecesSplit).
        XCTAssertEqual(cut.layers.count, 4, "layers: \(cut.layers.map { $0.color * 255 })")
        XCTAssertLessThan(simd_dist(cut.background * 255, SIMD3(255, 255, 255)), 4)
        let ball = try XCTUnwrap(cut.layers.first { simd_dist($0.color * 255, SIMD3(242, 194, 0)) < 30 })
        // Area of a disc of radius 3.2 px: 32.2.
        XCTAssertEqual(ball.area, .pi * 3.2 * 3.2, accuracy: 3)
        XCTAssertEqual(ball.centroid.x, 10.3, accuracy: 0.2)
        XCTAssertEqual(ball.centroid.y, 30.6, accuracy: 0.2)
        let walls = cut.layers.filter { simd_dist($0.color * 255, SIMD3(32, 32, 32)) < 30 }
        // 3 x 42 = 126 and 2.5 x 30 = 75 pixels.
        XCTAssertEqual(walls.count, 2)
        XCTAssertEqual(walls[0].area, 126, accuracy: 6)
        XCTAssertEqual(walls[1].area, 75, accuracy: 6)
        XCTAssertEqual(cut.layers[0], walls[0], "largest first")
        // Plate: background where the layers were.
        let i = (30 * 64 + 10) * 3
        XCTAssertEqual(cut.plate[i], 1, accuracy: 0.03)
    }

    func testCompositorReproducesMovedBall() {
        let start = SIMD2<Float>(10.5, 30.5)
        let cut = LayerCut.cut(drawScene(ball: start))
        let ballSlot = cut.layers.firstIndex { simd_dist($0.color * 255, SIMD3(242, 194, 0)) < 30 }!
        var traj = Trajectory.zero
        var expected: [RGBImage] = []
        for f in 0..<Trajectory.frames {
            let o = SIMD2<Float>(Float(f) * 1.75, -Float(f) * 0.5)
            traj.offsets[(ballSlot * Trajectory.frames + f) * 2] = o.x
            traj.offsets[(ballSlot * Trajectory.frames + f) * 2 + 1] = o.y
            expected.append(drawScene(ball: start + o).resized(width: 64, height: 64))
        }
        let video = Compositor.render(cut, traj)
        let truth = Video(images: expected)
        var err: Float = 0
        for i in 0..<video.pixels.count { err += abs(video.pixels[i] - truth.pixels[i]) }
        err /= Float(video.pixels.count)
        XCTAssertLessThan(err, 0.004, "mean absolute error per value")
        // Frame 0 reproduces the first frame.
        var err0: Float = 0
        for i in 0..<(64 * 64 * 3) { err0 = max(err0, abs(video.pixels[i] - cut.frame[i])) }
        XCTAssertLessThan(err0, 0.08)
    }

    /// Offsets that are NaN, infinite or far off the frame (a diverging adaptation can produce
    /// them) leave the layer off the frame: the video is what an offset of a thousand pixels
    /// gives, and neither rendering nor its gradient traps or turns non-finite.
    func testNonFiniteOffsetsLeaveTheLayerOffTheFrame() {
        let cut = LayerCut.cut(drawScene(ball: SIMD2(10.5, 30.5)))
        let ballSlot = cut.layers.firstIndex { simd_dist($0.color * 255, SIMD3(242, 194, 0)) < 30 }!
        func moved(_ v: Float) -> Trajectory {
            var traj = Trajectory.zero
            for f in 0..<Trajectory.frames { traj.offsets[(ballSlot * Trajectory.frames + f) * 2] = v }
            return traj
        }
        let away = Compositor.render(cut, moved(1000))
        for bad: Float in [.nan, .infinity, -.infinity, 3e38, -3e38, 1e19] {
            let video = Compositor.render(cut, moved(bad))
            XCTAssertEqual(video.pixels, away.pixels, "\(bad)")
            XCTAssertTrue(Compositor.render(cut, moved(bad), final: true).pixels.allSatisfy(\.isFinite), "\(bad)")
            let d = Compositor.renderBackward(cut, moved(bad), dVideo: [Float](repeating: 1, count: video.pixels.count))
            XCTAssertTrue(d.allSatisfy(\.isFinite), "\(bad)")
        }
    }

    func testCompositorBackwardMatchesFiniteDifferences() {
        let cut = LayerCut.cut(drawScene(ball: SIMD2(30.4, 20.2)))
        var rng = SplitMix64(seed: 3)
        var traj = Trajectory.zero
        for l in 0..<cut.layers.count {
            for f in 0..<Trajectory.frames {
                traj.offsets[(l * Trajectory.frames + f) * 2] = Float(f) * 0.9 + 0.3 + Float(l) * 0.11
                traj.offsets[(l * Trajectory.frames + f) * 2 + 1] = -Float(f) * 0.6 + 0.27
            }
        }
        let weights = (0..<(Trajectory.frames * 64 * 64 * 3)).map { _ in rng.normal() }
        func loss(_ t: Trajectory) -> Double {
            let v = Compositor.render(cut, t)
            var s = 0.0
            for i in 0..<v.pixels.count { s += Double(v.pixels[i]) * Double(weights[i]) }
            return s
        }
        let grad = Compositor.renderBackward(cut, traj, dVideo: weights)
        var checked = 0
        for l in 0..<cut.layers.count {
            for f in [0, 5, 15] {
                for c in 0..<2 {
                    let i = (l * Trajectory.frames + f) * 2 + c
                    var plus = traj, minus = traj
                    plus.offsets[i] += 0.01; minus.offsets[i] -= 0.01
                    let fd = (loss(plus) - loss(minus)) / 0.02
                    XCTAssertEqual(Double(grad[i]), fd, accuracy: 0.02 * max(1, abs(fd)), "layer \(l) frame \(f) axis \(c)")
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, cut.layers.count * 6)
        // Padding slots get no gradient.
        XCTAssertEqual(grad[(cut.layers.count * Trajectory.frames) * 2], 0)
        XCTAssertTrue(grad.contains { abs($0) > 1e-3 })
    }

    func testFinalVideoHoldsStaticLayersAndRoundsMovers() {
        var traj = Trajectory.zero
        for f in 0..<Trajectory.frames {
            traj.offsets[(0 * Trajectory.frames + f) * 2] = 1.4 * Float(f % 2)   // jitter: static
            traj.offsets[(1 * Trajectory.frames + f) * 2] = Float(f) * 1.4        // mover
        }
        // The mover is drawn after (over) the static layer, though it is smaller.
        let big = Layer(color: SIMD3(0, 0, 0), alpha: [Float](repeating: 1, count: 64 * 64), size: 64)
        var dot = [Float](repeating: 0, count: 64 * 64); dot[0] = 1
        let frame = LayeredFrame(width: 64, height: 64, background: SIMD3(1, 1, 1), plate: [Float](repeating: 1, count: 64 * 64 * 3),
                                 frame: [Float](repeating: 0, count: 64 * 64 * 3),
                                 layers: [big, Layer(color: SIMD3(1, 0, 0), alpha: dot, size: 64)])
        var swapped = Trajectory.zero
        for f in 0..<Trajectory.frames { swapped.offsets[f * 2] = Float(f) * 1.4 }
        XCTAssertEqual(Compositor.drawOrder(frame, swapped), [1, 0])
        XCTAssertEqual(Compositor.drawOrder(frame, traj), [0, 1])
        let final = Compositor.finalOffsets(traj, layerCount: 2)
        XCTAssertTrue(final.offsets[0..<(2 * Trajectory.frames)].allSatisfy { $0 == 0 })
        XCTAssertEqual(final.offset(layer: 1, frame: 3).x, 4)
        XCTAssertEqual(final.offset(layer: 1, frame: 15).x, 21)
    }

    func testTokenizerIsStableAndHashesUnknownWords() {
        let tok = PromptTokenizer()
        let a = tok.encode("Move the yellow ball to the red square.")
        XCTAssertEqual(a.count, 8)
        XCTAssertEqual(a[0], tok.ids["move"])
        let b = tok.encode("Move the chartreuse ball")
        XCTAssertGreaterThanOrEqual(b[2], tok.ids.count)
        XCTAssertLessThan(b[2], tok.size)
        XCTAssertEqual(b, tok.encode("MOVE the chartreuse ball!"))
        XCTAssertEqual(tok.encode("").count, 1)
    }
}

private func simd_dist(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float {
    let d = a - b
    return (d * d).sum().squareRoot()
}
