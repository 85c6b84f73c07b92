import Foundation
import XCTest
import Basics
import Media
@testable import Teacher
@testable import Tasks

/// The look splits: the canonical look stays the shipped drawing, varied and held-out tasks keep
/// every guarantee of the canonical ones, and the held-out ranges never reach `varied`.
final class LooksTests: XCTestCase {
    func teacher(_ task: GeneratedTask) throws -> Teacher {
        let rules = try RuleFile.parse(Array(task.rulesJSON.utf8))
        return Teacher(rules: rules, firstFrame: try JPEG.decode(JPEG.encode(task.firstFrame, quality: 95, subsample444: true)))
    }

    /// FNV-1a over a task's prompt, rules, first frame and solution.
    func digest(_ t: GeneratedTask) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func eat(_ bytes: [UInt8]) { for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 } }
        eat(Array(t.prompt.utf8)); eat(Array(t.rulesJSON.utf8)); eat(t.firstFrame.pixels)
        for f in t.solution { eat(f.pixels) }
        return h
    }

    /// The canonical look is the drawing the shipped model was trained and measured on, byte for
    /// byte (the same bytes as before the looks existed: make-task folders of 50 seeds per family,
    /// with --size, --png and --identical-pieces, compared equal; these digests pin them).
    func testCanonicalLookIsTheShippedDrawing() {
        let expected: [Family: [UInt64]] = [
            .maze: [0x0ca3_bede_f59b_4984, 0xac71_aa98_0af7_09e1],
            .obstacles: [0xd420_31d2_d8b3_6314, 0x6a16_d49f_41e0_07a8],
            .align: [0xcd54_3a70_f6dc_4677, 0xe670_1e37_2e0f_0fda],
            .order: [0x2021_3002_c2e4_22c5, 0x9c1d_d775_d848_d6b7],
        ]
        for f in Family.original {
            let got = [UInt64(0), 1_000_000].map { digest(Families.generate(family: f, seed: $0, look: .canonical)) }
            XCTAssertEqual(got, expected[f]!, "\(f): \(got.map { "0x" + String($0, radix: 16) })")
            XCTAssertEqual(digest(Families.generate(family: f, seed: 5)), digest(Families.generate(family: f, seed: 5, look: .canonical)))
        }
    }

    /// Every family in the varied and held-out looks: the first frame averages down to the
    /// solution's first frame, every object of the rules is there at 64 x 64, the solution
    /// passes its own rules, and the faults that apply are caught.
    func testVariedAndHeldOutTasksKeepTheContract() throws {
        for look in [LookSplit.varied, .heldout] {
            for f in Family.allCases {
                for seed in [UInt64(7), 1_000_011] {
                    let task = Families.generate(family: f, seed: seed, look: look)
                    let label = "\(f) \(look) \(seed)"
                    let side = task.firstFrame.width
                    XCTAssertEqual(task.firstFrame.height, side, label)
                    XCTAssertTrue((look == .varied ? Look.variedFrameSides : Look.heldOutFrameSides).contains(side), label)
                    let native = task.firstFrame.resizedFloat(width: 64, height: 64)
                    let diff = zip(native, task.solution[0].pixels).map { abs($0 - Float($1) / 255) }.max()!
                    XCTAssertLessThan(diff, 0.01, "\(label): the first frame is not the solution's first frame")
                    let rules = try RuleFile.parse(Array(task.rulesJSON.utf8))
                    let px = task.solution[0].pixels.map { Float($0) / 255 }
                    for o in rules.objects {
                        // Features stay wide enough to be seen at 64 x 64 (more than a speck of 4 pixels).
                        XCTAssertGreaterThan(ColorMask.hardCount(px, count: 64 * 64, color: o.color, tolerance: o.tolerance), 4,
                                             "\(label): \(o.name) is too small at 64 x 64")
                    }
                    for track in task.tracks {
                        XCTAssertEqual(track.offsets[0], .zero, label)
                        for t in 1..<track.offsets.count {
                            let d = track.offsets[t] - track.offsets[t - 1]
                            XCTAssertLessThanOrEqual((d * d).sum().squareRoot(), 6, "\(label) frame \(t)")
                        }
                    }
                    let t = try teacher(task)
                    let j = t.judge(Video(images: task.solution))
                    XCTAssertTrue(j.passed, "\(label): the solution fails: \(j.questions.filter { !$0.satisfied }.map { "\($0.type) \($0.evidence.serialized())" }) -- \(task.prompt)")
                    for fault in Fault.allCases {
                        guard let v = Families.faultyVideo(family: f, seed: seed, fault: fault, look: look) else { continue }
                        XCTAssertFalse(t.judge(v).passed, "\(label): \(fault.rawValue) not caught")
                    }
                }
            }
        }
    }

    func testSameSeedSameBytesInEveryLook() {
        for look in LookSplit.allCases {
            for f in Family.allCases {
                let a = Families.generate(family: f, seed: 1_000_123, look: look), b = Families.generate(family: f, seed: 1_000_123, look: look)
                XCTAssertEqual(digest(a), digest(b), "\(f) \(look)")
                XCTAssertNotEqual(digest(a), digest(Families.generate(family: f, seed: 1_000_124, look: look)), "\(f) \(look)")
            }
        }
    }

    /// Whole words of a text, lower case.
    func words(_ s: String) -> String {
        " " + s.lowercased().map { $0.isLetter || $0.isNumber ? String($0) : " " }.joined() + " "
    }

    /// Over many seeds of every family, nothing of the held-out ranges appears in `varied`: no
    /// held-out word, hue, piece shape, glyph, target style, frame size or object scale; and
    /// `heldout` does draw from them.
    func testHeldOutRangesNeverAppearInVaried() throws {
        let heldWords = Wording.heldOutWords.map { " \($0) " }
            + Look.heldOutPieceShapes.map { " \($0.rawValue) " } + [" flag ", " x shapes "]
        var heldOutHits = 0, heldOutTasks = 0
        for f in Family.allCases {
            for seed in UInt64(0)..<60 {
                for look in [LookSplit.varied, .heldout] {
                    let b = Families.build(family: f, seed: seed, look: look)
                    let text = words(b.prompt + " " + b.rules.serialized())
                    let hues = b.scene.layers.map(\.color).filter(Look.isChromatic).map { Look.hsv($0).h }
                    if look == .varied {
                        for w in heldWords { XCTAssertFalse(text.contains(w), "\(f) \(seed): '\(w)' in a varied task: \(b.prompt)") }
                        // Diamonds are a varied piece shape, but never a varied obstacle glyph.
                        if f == .obstacles { XCTAssertFalse(text.contains(" diamonds "), "\(seed): \(b.prompt)") }
                        for h in hues { XCTAssertFalse(Look.inHeldOutHues(h), "\(f) \(seed): held-out hue \(h) in a varied task") }
                        XCTAssertTrue(Look.variedFrameSides.contains(b.frameSide ?? 0), "\(f) \(seed)")
                    } else {
                        heldOutTasks += 1
                        if hues.contains(where: Look.inHeldOutHues) || heldWords.contains(where: text.contains) { heldOutHits += 1 }
                        XCTAssertTrue(Look.heldOutFrameSides.contains(b.frameSide ?? 0), "\(f) \(seed)")
                    }
                }
            }
        }
        XCTAssertGreaterThan(Double(heldOutHits) / Double(heldOutTasks), 0.9, "held-out tasks seldom draw from the held-out ranges")
        for seed in UInt64(0)..<2000 {
            let v = Look(split: .varied, seed: seed, salt: 1), h = Look(split: .heldout, seed: seed, salt: 1)
            XCTAssertTrue(Look.variedScale.contains(v.scale), "seed \(seed): scale \(v.scale)")
            if !Look.variedScale.contains(h.scale) { XCTAssertTrue(Look.heldOutScales.contains { $0.contains(h.scale) }) }
        }
    }

    /// Polygons cover exactly the pixels inside them.
    func testPolygonCoverage() {
        var scene = Scene(background: Colour(r: 255, g: 255, b: 255, name: "white"), layers: [])
        let square = Layer(color: Colour(r: 0, g: 0, b: 0, name: "black"),
                           shapes: [.polygon([SIMD2(10, 10), SIMD2(20, 10), SIMD2(20, 20), SIMD2(10, 20)])], frames: 1)
        let triangle = Layer(color: Colour(r: 0, g: 0, b: 0, name: "black"),
                             shapes: [.polygon([SIMD2(30, 30), SIMD2(46, 30), SIMD2(30, 46)])], frames: 1)
        scene.frames = 1
        XCTAssertEqual(scene.coverage(of: square).reduce(0, +), 100)
        XCTAssertEqual(scene.coverage(of: triangle).reduce(0, +), 128, accuracy: 2)
        XCTAssertTrue(square.covers(15, 15, .identity))
        XCTAssertFalse(square.covers(9.9, 15, .identity))
        XCTAssertFalse(triangle.covers(45, 45, .identity))
        for shape in PieceShape.allCases {
            let l = Layer(color: Colour(r: 0, g: 0, b: 0, name: "black"), shapes: shape.shapes(at: SIMD2(32, 32), size: 8), frames: 1)
            XCTAssertGreaterThan(scene.coverage(of: l).reduce(0, +), 20, "\(shape) at 8 pixels is too small")
        }
    }
}
