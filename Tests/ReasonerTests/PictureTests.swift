import Basics
import Media
@testable import Reasoner
import Tasks
import XCTest

/// The pipeline keeps every picture whole: layers per piece, a robust background, the model's
/// letterboxed view, the teacher's working size, frames at the first frame's size.
final class PictureTests: XCTestCase {
    /// A picture of filled rectangles (x0, y0, x1, y1 in pixels, colour) on a background.
    func picture(_ w: Int, _ h: Int, background: (UInt8, UInt8, UInt8), _ rects: [(Int, Int, Int, Int, (UInt8, UInt8, UInt8))]) -> RGBImage {
        var im = RGBImage(width: w, height: h, fill: background)
        for (x0, y0, x1, y1, c) in rects {
            for y in y0..<y1 { for x in x0..<x1 { let i = 3 * (y * w + x); im.pixels[i] = c.0; im.pixels[i + 1] = c.1; im.pixels[i + 2] = c.2 } }
        }
        return im
    }

    func testIdenticalPiecesAreLayersOfTheirOwn() {
        let blue: (UInt8, UInt8, UInt8) = (30, 90, 220)
        let im = picture(64, 64, background: (245, 245, 240), [(4, 4, 12, 12, blue), (30, 4, 38, 12, blue), (50, 40, 58, 48, blue)])
        let cut = LayerCut.cut(im)
        XCTAssertEqual(cut.layers.count, 3)
        XCTAssertEqual(Set(cut.layers.map { Int($0.box.x) }), [4, 30, 50])
        XCTAssertTrue(cut.layers.allSatisfy { abs($0.area - 64) < 1 })
        // A field of many crosses stays one layer.
        var crosses: [(Int, Int, Int, Int, (UInt8, UInt8, UInt8))] = []
        for k in 0..<8 { crosses.append((4 + 7 * k, 50, 7 + 7 * k, 53, (35, 35, 35))) }
        XCTAssertEqual(LayerCut.cut(picture(64, 64, background: (245, 245, 240), crosses)).layers.count, 1)
    }

    /// Tiles that cover most of the frame are tiles, not the background: the background is the
    /// colour of the frame's border.
    func testBackgroundIsTheBordersColour() {
        var tiles: [(Int, Int, Int, Int, (UInt8, UInt8, UInt8))] = []
        for ty in 0..<3 { for tx in 0..<3 where tx + ty < 4 {
            tiles.append((2 + 20 * tx, 2 + 20 * ty, 20 + 20 * tx, 20 + 20 * ty, (30, 90, 220)))
        } }
        let cut = LayerCut.cut(picture(64, 64, background: (250, 250, 250), tiles))
        XCTAssertLessThan(abs(cut.background.x * 255 - 250), 2, "background \(cut.background * 255)")
        XCTAssertTrue(cut.layers.allSatisfy { abs($0.color.z * 255 - 220) < 5 })
        XCTAssertEqual(cut.layers.reduce(0) { $0 + $1.area }, Float(8 * 18 * 18), accuracy: 1)
    }

    /// The project's own task drawn at 512 x 340 and 400 x 300: working size and view keep its
    /// shape, and the model sees what it sees at 256 x 256 (at 400 x 300 the edges fall between
    /// working pixels, and the pale outlines, blends of their pieces' hues, must stay layers).
    func testOwnTaskAtAnotherAspectLooksTheSameToTheModel() throws {
        for family in Family.allCases {
            let square = Families.generate(family: family, seed: 1_000_011)
          for (size, working) in [((512, 340), (96, 64)), ((400, 300), (96, 72))] {
            let wide = Families.generate(family: family, seed: 1_000_011, size: size)
            let a = Picture(firstFrame: square.firstFrame, working: (64, 64))
            let b = Picture(firstFrame: wide.firstFrame, working: working)
            XCTAssertEqual([b.working.width, b.working.height], [working.0, working.1])
            XCTAssertEqual(b.viewRect.width, working.1, "\(family)")
            XCTAssertEqual(b.working.offsetScale, Float(working.1) / 64, accuracy: 1e-6)
            XCTAssertEqual(a.view.layers.count, b.view.layers.count, "\(family)")
            // The same layers (the model's layer tokens carry no slot position, so their order
            // among equal areas does not matter): each matched by colour and area.
            for la in a.view.layers {
                let lb = b.view.layers.min { x, y in
                    ((x.color - la.color) * (x.color - la.color)).sum() + abs(x.area - la.area) * 1e-4
                        < ((y.color - la.color) * (y.color - la.color)).sum() + abs(y.area - la.area) * 1e-4
                }!
                XCTAssertLessThan(((la.color - lb.color) * (la.color - lb.color)).sum().squareRoot() * 255, 16, "\(family) \(size)")
                XCTAssertEqual(la.area, lb.area, accuracy: max(3, 0.1 * la.area), "\(family)")
            }
          }
        }
    }

    /// A 594 x 397 picture: the view is letterboxed, not squashed (a square stays square), and
    /// the working layers move by the view's offsets times `offsetScale`.
    func testViewIsLetterboxedAndOffsetsScale() {
        let red: (UInt8, UInt8, UInt8) = (210, 30, 30)
        let im = picture(594, 397, background: (240, 240, 240), [(20, 30, 80, 90, red), (500, 300, 560, 360, (30, 150, 60))])
        let p = Picture(firstFrame: im, working: (297, 199))
        // The layers span 270 of the 297 working pixels: the view is that wide, 199 tall.
        XCTAssertEqual([p.viewRect.width, p.viewRect.height], [270, 199])
        let sq = p.view.layers.first { $0.color.x > 0.7 }!
        XCTAssertEqual(sq.box.z - sq.box.x, sq.box.w - sq.box.y, accuracy: 1.01, "a square stays square")
        XCTAssertEqual(p.working.offsetScale, 270 / 64, accuracy: 0.01)
        var t = Trajectory.zero
        let l = p.working.layers.firstIndex { $0.color.x > 0.7 }!
        for f in 0..<Trajectory.frames { t.offsets[(l * Trajectory.frames + f) * 2] = Float(f) }
        let v = Compositor.render(p.working, t, final: true)
        XCTAssertEqual([v.width, v.height], [297, 199])
        // Frame 15: moved 15 view pixels = 15 * 297 / 64 working pixels, whole.
        let moved = (15 * p.working.offsetScale).rounded()
        let x = Int(10 + moved + 15), y = 30
        XCTAssertGreaterThan(v.pixels[((15 * 199 + y) * 297 + x) * 3], 0.7)
    }

    func testBackwardAtAWorkingSizeMatchesFiniteDifferences() {
        let im = picture(120, 80, background: (245, 245, 245), [(10, 10, 30, 30, (200, 40, 40)), (60, 40, 90, 70, (40, 40, 200))])
        let p = Picture(firstFrame: im, working: (90, 60))
        var t = Trajectory.zero
        for l in 0..<p.working.layers.count { for f in 0..<Trajectory.frames {
            t.offsets[(l * Trajectory.frames + f) * 2] = 0.37 * Float(f) + 0.11
            t.offsets[(l * Trajectory.frames + f) * 2 + 1] = -0.21 * Float(f) + 0.05
        } }
        var rng = SplitMix64(seed: 5)
        let weights = (0..<(Trajectory.frames * 90 * 60 * 3)).map { _ in rng.normal() }
        func loss(_ t: Trajectory) -> Double {
            let v = Compositor.render(p.working, t)
            return zip(v.pixels, weights).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        let g = Compositor.renderBackward(p.working, t, dVideo: weights)
        for l in 0..<p.working.layers.count {
            for (f, c) in [(3, 0), (9, 1)] {
                let i = (l * Trajectory.frames + f) * 2 + c
                var a = t, b = t
                a.offsets[i] += 0.005; b.offsets[i] -= 0.005
                let fd = (loss(a) - loss(b)) / 0.01
                XCTAssertEqual(Double(g[i]), fd, accuracy: 0.03 * max(1, abs(fd)), "layer \(l) frame \(f) axis \(c)")
            }
        }
    }

    /// Frames at the first frame's size: frame 0 reproduces it (PSNR at least 35 dB), a mover
    /// is drawn at its offset with its full-size detail.
    func testFullFramesReproduceTheFirstFrameAndMoveTheLayers() throws {
        let task = Families.generate(family: .obstacles, seed: 1_000_004, size: (640, 480))
        let first = try JPEG.decode(JPEG.encode(task.firstFrame, quality: 95))
        let p = Picture(firstFrame: first, working: (128, 96))
        let c = SIMD3<Float>(task.tracks[0].color.map { Float($0) / 255 })
        let ball = try XCTUnwrap(p.working.layers.indices.min { ((p.working.layers[$0].color - c) * (p.working.layers[$0].color - c)).sum()
            < ((p.working.layers[$1].color - c) * (p.working.layers[$1].color - c)).sum() })
        var t = Trajectory.zero
        for f in 0..<Trajectory.frames { t.offsets[(ball * Trajectory.frames + f) * 2] = 1.5 * Float(f) }
        let frames = FullFrames.render(firstFrame: first, working: p.working, trajectory: t, size: (640, 480))
        XCTAssertEqual(frames.count, Trajectory.frames)
        XCTAssertEqual([frames[0].width, frames[0].height], [640, 480])
        var se = 0.0
        for i in first.pixels.indices { let d = Double(first.pixels[i]) - Double(frames[0].pixels[i]); se += d * d }
        let psnr = 10 * log10(255 * 255 / (se / Double(first.pixels.count)))
        XCTAssertGreaterThanOrEqual(psnr, 35)
        // The ball's colour moved right: its centre in the last frame.
        func ballCentre(_ im: RGBImage) -> Double {
            var sx = 0.0, n = 0.0
            for y in 0..<im.height { for x in 0..<im.width {
                let (r, g, b) = im[x, y]
                let d = SIMD3<Float>(Float(r), Float(g), Float(b)) - c * 255
                if (d * d).sum() < 40 * 40 { sx += Double(x); n += 1 }
            } }
            return sx / n
        }
        let shift = ballCentre(frames[15]) - ballCentre(frames[0])
        let expected = Double((22.5 * p.working.offsetScale).rounded() * 5)
        XCTAssertEqual(shift, expected, accuracy: 2)
        XCTAssertEqual(FullFrames.outputSize(width: 3000, height: 1000, longSide: 1024).height, 341)
        XCTAssertEqual(FullFrames.outputSize(width: 300, height: 200, longSide: 1024).width, 300)
    }
}
