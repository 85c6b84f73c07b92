import XCTest
import Media
@testable import Teacher

/// Hard judgments on hand-drawn 3-frame 20 x 20 videos, where the answer is known exactly.
final class JudgeTests: XCTestCase {
    static let n = 20
    static let red: (UInt8, UInt8, UInt8) = (220, 30, 30), blue: (UInt8, UInt8, UInt8) = (30, 60, 220)
    static let dark: (UInt8, UInt8, UInt8) = (30, 30, 30)

    /// Frames from lists of filled rectangles (x0, y0, x1, y1, colour) on white.
    static func video(_ frames: [[(Int, Int, Int, Int, (UInt8, UInt8, UInt8))]]) -> Video {
        Video(images: frames.map { rects in
            var im = RGBImage(width: n, height: n, fill: (250, 250, 250))
            for (x0, y0, x1, y1, c) in rects {
                for y in y0..<y1 { for x in x0..<x1 { let i = 3 * (y * n + x); im.pixels[i] = c.0; im.pixels[i + 1] = c.1; im.pixels[i + 2] = c.2 } }
            }
            return im
        })
    }

    static func judge(_ check: String, _ v: Video) -> QuestionJudgment {
        let text = """
        {"version": 1, "objects": {"a": {"color": "#dc1e1e"}, "b": {"color": "#1e3cdc"}, "wall": {"color": "#1e1e1e"}},
         "goal": {"question": "g", "check": \(check)}}
        """
        let rules = try! RuleFile.parse(Array(text.utf8))
        let t = Teacher(rules: rules, nativeFirstFrame: Array(v.pixels[0..<(n * n * 3)]), width: n, height: n)
        return t.judge(v).goal
    }

    func assertJudged(_ check: String, _ v: Video, _ expected: Bool, _ note: String = "", file: StaticString = #filePath, line: UInt = #line) {
        let j = JudgeTests.judge(check, v)
        XCTAssertEqual(j.satisfied, expected, "\(note) \(j.evidence.serialized())", file: file, line: line)
        XCTAssertEqual(j.pYes > 0.5, expected, "\(note) p_yes \(j.pYes) disagrees with the judge", file: file, line: line)
    }

    let wall = (10, 0, 12, 20, JudgeTests.dark)

    func testReach() {
        let check = #"{"type": "reach", "object": "a", "target": "b"}"#
        let onTarget = JudgeTests.video([[(2, 2, 6, 6, JudgeTests.red), (14, 14, 18, 18, JudgeTests.blue)],
                                         [(8, 8, 12, 12, JudgeTests.red), (14, 14, 18, 18, JudgeTests.blue)],
                                         [(14, 14, 18, 18, JudgeTests.red)]])
        assertJudged(check, onTarget, true)
        // Half on (8 of 16 pixels): exactly min_fraction 0.5 is enough; 4 of 16 is not.
        assertJudged(check, JudgeTests.video([[(2, 2, 6, 6, JudgeTests.red), (14, 14, 18, 18, JudgeTests.blue)],
                                              [(12, 14, 16, 18, JudgeTests.red), (16, 14, 18, 18, JudgeTests.blue)]]), true, "half")
        assertJudged(check, JudgeTests.video([[(2, 2, 6, 6, JudgeTests.red), (14, 14, 18, 18, JudgeTests.blue)],
                                              [(11, 14, 15, 18, JudgeTests.red), (15, 14, 18, 18, JudgeTests.blue)]]), false, "a quarter")
        let j = JudgeTests.judge(check, onTarget)
        XCTAssertEqual(j.evidence["fraction_inside"], .number(1))
    }

    func testAvoidNamesTheFailingFrames() {
        let check = #"{"type": "avoid", "object": "a", "obstacle": "wall"}"#
        let v = JudgeTests.video([[wall, (2, 2, 6, 6, JudgeTests.red)], [wall, (8, 2, 12, 6, JudgeTests.red)], [wall, (13, 2, 17, 6, JudgeTests.red)]])
        assertJudged(check, v, false)
        XCTAssertEqual(JudgeTests.judge(check, v).evidence["failing_frames"], .array([.number(1)]))
        assertJudged(check, JudgeTests.video([[(2, 2, 6, 6, JudgeTests.red), wall], [(4, 8, 8, 12, JudgeTests.red), wall]]), true)
    }

    func testIntactCountsBlobsAndIgnoresSpecks() {
        let check = #"{"type": "intact", "object": "a"}"#
        let whole = JudgeTests.video([[(2, 2, 8, 8, JudgeTests.red)], [(4, 4, 10, 10, JudgeTests.red)]])
        assertJudged(check, whole, true)
        // A 0.1%-of-frame speck is 0.4 pixels here; a single stray pixel is a blob. At 20 x 20 the
        // speck limit rounds below 1, so test specks in a 64 x 64 frame instead, below.
        let split = JudgeTests.video([[(2, 2, 8, 8, JudgeTests.red)], [(0, 4, 3, 10, JudgeTests.red), (12, 4, 15, 10, JudgeTests.red)]])
        assertJudged(check, split, false, "split")
        XCTAssertEqual(JudgeTests.judge(check, split).evidence["blob_counts"], .array([.number(1), .number(2)]))
        assertJudged(check, JudgeTests.video([[(2, 2, 8, 8, JudgeTests.red)], []]), false, "vanished")
        assertJudged(check, JudgeTests.video([[(2, 2, 8, 8, JudgeTests.red)], [(2, 2, 5, 8, JudgeTests.red)]]), false, "shrunk by half")
        // Diagonal neighbours are not 4-connected: two blobs.
        let diagonal = JudgeTests.video([[(2, 2, 8, 8, JudgeTests.red)], [(2, 2, 6, 6, JudgeTests.red), (6, 6, 10, 9, JudgeTests.red)]])
        XCTAssertEqual(JudgeTests.judge(check, diagonal).evidence["blob_counts"], .array([.number(1), .number(2)]))
    }

    func testSpecksUnderOneThousandthOfTheFrameAreIgnored() {
        // 64 x 64: the limit is 4.096 pixels; a 2 x 2 speck is ignored, a 5-pixel blob is not.
        func frame(_ extra: [(Int, Int)]) -> RGBImage {
            var im = RGBImage(width: 64, height: 64, fill: (250, 250, 250))
            for y in 10..<20 { for x in 10..<20 { let i = 3 * (y * 64 + x); im.pixels[i] = 220; im.pixels[i + 1] = 30; im.pixels[i + 2] = 30 } }
            for (x, y) in extra { let i = 3 * (y * 64 + x); im.pixels[i] = 220; im.pixels[i + 1] = 30; im.pixels[i + 2] = 30 }
            return im
        }
        let rules = try! RuleFile.parse(Array(##"{"version": 1, "objects": {"a": {"color": "#dc1e1e"}}, "goal": {"question": "g", "check": {"type": "count", "object": "a", "n": 1}}}"##.utf8))
        let t = Teacher(rules: rules, firstFrame: frame([]))
        XCTAssertTrue(t.judge(Video(images: [frame([]), frame([(40, 40), (41, 40), (40, 41), (41, 41)])])).passed)
        XCTAssertFalse(t.judge(Video(images: [frame([]), frame([(40, 40), (41, 40), (42, 40), (43, 40), (44, 40)])])).passed)
    }

    func testCountStaticOrderSmoothPathAlign() {
        let r = JudgeTests.red, b = JudgeTests.blue
        assertJudged(#"{"type": "count", "object": "a", "n": 2, "at": "end"}"#,
                     JudgeTests.video([[(2, 2, 6, 6, r)], [(2, 2, 6, 6, r), (12, 12, 16, 16, r)]]), true)
        assertJudged(#"{"type": "count", "object": "a", "n": 2}"#,
                     JudgeTests.video([[(2, 2, 6, 6, r)], [(2, 2, 6, 6, r), (12, 12, 16, 16, r)]]), false)
        assertJudged(#"{"type": "static", "object": "wall"}"#, JudgeTests.video([[wall], [wall], [wall]]), true)
        assertJudged(#"{"type": "static", "object": "wall"}"#, JudgeTests.video([[wall], [(12, 0, 14, 20, JudgeTests.dark)]]), false, "moved")
        // 3 of 40 pixels lost (7.5%) is within max_change 0.1.
        assertJudged(#"{"type": "static", "object": "wall"}"#,
                     JudgeTests.video([[wall], [(10, 0, 12, 18, JudgeTests.dark), (10, 18, 11, 19, JudgeTests.dark)]]), true, "small change")
        // Another object of the rule file drawn over the wall is occlusion, not movement (docs/FORMAT.md,
        // section 2): a red piece over half the wall passes; the wall moving under it does not.
        assertJudged(#"{"type": "static", "object": "wall"}"#,
                     JudgeTests.video([[wall], [wall, (8, 5, 14, 15, r)], [wall]]), true, "covered")
        assertJudged(#"{"type": "static", "object": "wall"}"#,
                     JudgeTests.video([[wall], [(14, 0, 16, 20, JudgeTests.dark), (8, 0, 14, 5, r)]]), false, "moved and partly covered")
        // A colour not of the rule file over the wall is a change.
        assertJudged(#"{"type": "static", "object": "wall"}"#,
                     JudgeTests.video([[wall], [wall, (8, 5, 14, 15, (20, 200, 20))]]), false, "covered by something unnamed")
        assertJudged(#"{"type": "order", "objects": ["a", "b"]}"#, JudgeTests.video([[(12, 2, 16, 6, r), (2, 2, 6, 6, b)], [(2, 2, 6, 6, r), (12, 2, 16, 6, b)]]), true)
        assertJudged(#"{"type": "order", "objects": ["a", "b"]}"#, JudgeTests.video([[(2, 2, 6, 6, r), (12, 2, 16, 6, b)], [(12, 2, 16, 6, r), (2, 2, 6, 6, b)]]), false)
        assertJudged(#"{"type": "order", "objects": ["a", "b"], "axis": "y"}"#, JudgeTests.video([[(2, 2, 6, 6, r), (2, 12, 6, 16, b)]]), true)
        assertJudged(#"{"type": "smooth", "object": "a", "max_step": 0.15}"#,
                     JudgeTests.video([[(2, 2, 6, 6, r)], [(4, 2, 8, 6, r)], [(6, 2, 10, 6, r)]]), true)
        assertJudged(#"{"type": "smooth", "object": "a", "max_step": 0.15}"#,
                     JudgeTests.video([[(2, 2, 6, 6, r)], [(4, 2, 8, 6, r)], [(14, 2, 18, 6, r)]]), false, "jump")
        let through = #"{"type": "path", "object": "a", "through": [{"box": [0.4, 0, 0.6, 0.5]}, {"box": [0.7, 0.5, 1, 1]}]}"#
        assertJudged(through, JudgeTests.video([[(2, 2, 6, 6, r)], [(8, 2, 12, 6, r)], [(14, 14, 18, 18, r)]]), true)
        assertJudged(through, JudgeTests.video([[(14, 14, 18, 18, r)], [(8, 2, 12, 6, r)], [(2, 2, 6, 6, r)]]), false, "wrong order")
        // align: two red blobs onto two blue slots, or both onto one.
        let slots = [(2, 12, 6, 16, b), (12, 12, 16, 16, b)]
        let align = #"{"type": "align", "object": "a", "target": "b"}"#
        assertJudged(align, JudgeTests.video([[(2, 2, 6, 6, r), (12, 2, 16, 6, r)] + slots, [(2, 12, 6, 16, r), (12, 12, 16, 16, r)]]), true)
        assertJudged(align, JudgeTests.video([[(2, 2, 6, 6, r), (12, 2, 16, 6, r)] + slots, [(2, 12, 6, 14, r), (2, 14, 6, 16, b), (12, 2, 16, 6, r)]]), false, "one off")
    }
}
