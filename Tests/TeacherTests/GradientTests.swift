import Basics
import XCTest
import Media
@testable import Teacher
import Tasks

/// A 3-frame 12 x 12 video with soft, noisy colours, so that masks are neither 0 nor 1
/// and every check has a gradient worth checking.
struct SmallScene {
    static let w = 12, h = 12, frames = 3
    static let red = SIMD3<Float>(220, 30, 30), blue = SIMD3<Float>(30, 60, 220), dark = SIMD3<Float>(30, 30, 30)
    static let white = SIMD3<Float>(245, 245, 240)

    /// Object a (red, 3 x 3) moves right one pixel a frame from (2, 4); b (blue, 3 x 3) sits at
    /// (7, 7); a dark wall runs down column 6 from row 0 to row 5.
    static func video(seed: UInt64 = 1) -> Video {
        var rng = SplitMix64(seed: seed)
        var px = [Float](repeating: 0, count: frames * h * w * 3)
        for t in 0..<frames {
            for y in 0..<h {
                for x in 0..<w {
                    var c = white
                    if x == 6 && y <= 5 { c = dark }
                    if x >= 7 && x < 10 && y >= 7 && y < 10 { c = blue }
                    if x >= 2 + t && x < 5 + t && y >= 4 && y < 7 { c = red }
                    if x == 5 + t && y >= 4 && y < 7 { c = 0.7 * red + 0.3 * white } // a soft rim
                    for k in 0..<3 {
                        let noise = Float(rng.unit() - 0.5) * 0.24
                        px[((t * h + y) * w + x) * 3 + k] = min(max(c[k] / 255 + noise, 0), 1)
                    }
                }
            }
        }
        return Video(frames: frames, height: h, width: w, pixels: px)
    }

    static func rules(goal check: String, process: [String] = [], lambda: Double = 0.5) -> RuleFile {
        let p = process.map { "{\"question\": \"p\", \"check\": \($0)}" }.joined(separator: ", ")
        let text = """
        {"version": 1,
         "objects": {"a": {"color": "#dc1e1e"}, "b": {"color": "#1e3cdc"}, "wall": {"color": "#1e1e1e", "tolerance": 70}},
         "goal": {"question": "g", "check": \(check)}, "process": [\(p)], "lambda": \(lambda)}
        """
        return try! RuleFile.parse(Array(text.utf8))
    }

    static func teacher(_ rules: RuleFile, _ video: Video) -> Teacher {
        Teacher(rules: rules, nativeFirstFrame: Array(video.pixels[0..<(h * w * 3)]), width: w, height: h)
    }
}

final class GradientTests: XCTestCase {
    static let checks: [String: String] = [
        "reach": #"{"type": "reach", "object": "a", "target": "b"}"#,
        "reach box": #"{"type": "reach", "object": "a", "target": {"box": [0.3, 0.2, 0.6, 0.7]}}"#,
        "avoid": #"{"type": "avoid", "object": "a", "obstacle": "wall", "max_fraction": 0.05}"#,
        "intact": #"{"type": "intact", "object": "a"}"#,
        "count": #"{"type": "count", "object": "a", "n": 1}"#,
        "count end": #"{"type": "count", "object": "b", "n": 2, "at": "end"}"#,
        "align": #"{"type": "align", "object": "a", "target": {"box": [0.4, 0.3, 0.8, 0.6]}}"#,
        "order": #"{"type": "order", "objects": ["a", "b"]}"#,
        "order y": #"{"type": "order", "objects": ["b", "a"], "axis": "y"}"#,
        "path": #"{"type": "path", "object": "a", "through": [{"box": [0.1, 0.2, 0.4, 0.6]}, {"box": [0.3, 0.3, 0.6, 0.6]}]}"#,
        "smooth": #"{"type": "smooth", "object": "a", "max_step": 0.05}"#,
    ]

    /// Directional finite differences: (L(x + e v) - L(x - e v)) / 2e against <dL/dx, v>.
    func checkGradient(_ name: String, _ rules: RuleFile, file: StaticString = #filePath, line: UInt = #line) {
        let video = SmallScene.video()
        let teacher = SmallScene.teacher(rules, video)
        var grad = [Float](repeating: 0, count: video.pixels.count)
        let s = grad.withUnsafeMutableBufferPointer { teacher.score(video, gradient: $0.baseAddress!) }
        XCTAssert(s.loss.isFinite && s.pYes.allSatisfy { $0 > 0 && $0 < 1 }, "\(name): \(s)", file: file, line: line)
        XCTAssertGreaterThan(grad.map(abs).max()!, 1e-4, "\(name): no gradient at all", file: file, line: line)
        // The gradient accumulates: a second call doubles it.
        var twice = grad
        _ = twice.withUnsafeMutableBufferPointer { teacher.score(video, gradient: $0.baseAddress!) }
        XCTAssertEqual(twice[grad.indices.max { abs(grad[$0]) < abs(grad[$1]) }!],
                       2 * grad.map(abs).max()! * (grad.max()! == grad.map(abs).max()! ? 1 : -1), accuracy: 1e-4,
                       "\(name): gradient not accumulated", file: file, line: line)
        var rng = SplitMix64(seed: 99)
        let eps: Float = 1e-3
        for trial in 0..<3 {
            let v = (0..<video.pixels.count).map { _ in Float(rng.unit() < 0.5 ? -1 : 1) }
            var plus = video, minus = video
            for i in v.indices { plus.pixels[i] += eps * v[i]; minus.pixels[i] -= eps * v[i] }
            let numeric = (teacher.score(plus, gradient: nil).loss - teacher.score(minus, gradient: nil).loss) / (2 * eps)
            let analytic = zip(grad, v).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(analytic, numeric, accuracy: max(2e-3, 0.03 * abs(numeric)),
                           "\(name) trial \(trial): analytic \(analytic) numeric \(numeric)", file: file, line: line)
        }
        // Single pixels with the largest gradients.
        let top = grad.indices.sorted { abs(grad[$0]) > abs(grad[$1]) }.prefix(3)
        for i in top {
            var plus = video, minus = video
            plus.pixels[i] += eps; minus.pixels[i] -= eps
            let numeric = (teacher.score(plus, gradient: nil).loss - teacher.score(minus, gradient: nil).loss) / (2 * eps)
            XCTAssertEqual(grad[i], numeric, accuracy: max(2e-3, 0.03 * abs(numeric)),
                           "\(name) pixel \(i): analytic \(grad[i]) numeric \(numeric)", file: file, line: line)
        }
    }

    func testEveryCheckTypeMatchesFiniteDifferences() {
        for (name, check) in GradientTests.checks.sorted(by: { $0.key < $1.key }) {
            checkGradient(name, SmallScene.rules(goal: check))
        }
        // static, with no other object of the rule file to cover the wall (a cover is held
        // constant for the gradient, so finite differences would see it; see
        // testStaticHoldsTheCoverConstant).
        checkGradient("static", try! RuleFile.parse(Array("""
        {"version": 1, "objects": {"wall": {"color": "#1e1e1e", "tolerance": 70}},
         "goal": {"question": "g", "check": {"type": "static", "object": "wall"}}}
        """.utf8)))
    }

    /// The wall's pixels that a covers in frame 2 are not counted as changed (docs/FORMAT.md), and the
    /// gradient neither invites a to cover the wall nor reaches a's pixels through the cover.
    func testStaticHoldsTheCoverConstant() {
        let video = SmallScene.video()
        let withCover = SmallScene.rules(goal: #"{"type": "static", "object": "wall"}"#)
        let alone = try! RuleFile.parse(Array("""
        {"version": 1, "objects": {"wall": {"color": "#1e1e1e", "tolerance": 70}},
         "goal": {"question": "g", "check": {"type": "static", "object": "wall"}}}
        """.utf8))
        let covered = SmallScene.teacher(withCover, video).score(video, gradient: nil)
        let uncovered = SmallScene.teacher(alone, video).score(video, gradient: nil)
        // Frame 2 loses 2 of the wall's 6 pixels under a: far past max_change uncovered.
        XCTAssertLessThan(covered.losses[0], uncovered.losses[0] - 2, "a over the wall counted as the wall changing: \(covered.losses[0]) against \(uncovered.losses[0])")
        var grad = [Float](repeating: 0, count: video.pixels.count)
        _ = grad.withUnsafeMutableBufferPointer { SmallScene.teacher(withCover, video).score(video, gradient: $0.baseAddress!) }
        let (w, h) = (SmallScene.w, SmallScene.h)
        // Frame 2, (5, 4): a's pixel, not the wall's: no gradient at all.
        let i = ((2 * h + 4) * w + 5) * 3
        XCTAssertEqual(grad[i] * grad[i] + grad[i + 1] * grad[i + 1] + grad[i + 2] * grad[i + 2], 0)
    }

    func testLossMixesGoalAndWeightedProcess() {
        let c = GradientTests.checks
        let text = """
        {"version": 1, "objects": {"a": {"color": "#dc1e1e"}, "b": {"color": "#1e3cdc"}, "wall": {"color": "#1e1e1e", "tolerance": 70}},
         "goal": {"question": "g", "check": \(c["reach"]!)},
         "process": [{"question": "p", "check": \(c["intact"]!), "weight": 3}, {"question": "p", "check": \(c["smooth"]!)}],
         "lambda": 0.3}
        """
        let rules = try! RuleFile.parse(Array(text.utf8))
        let video = SmallScene.video()
        let s = SmallScene.teacher(rules, video).score(video, gradient: nil)
        let l = s.losses
        XCTAssertEqual(s.loss, 0.3 * l[0] + 0.7 / 4 * (3 * l[1] + l[2]), accuracy: 1e-4)
        checkGradient("mixed", rules)
    }
}
