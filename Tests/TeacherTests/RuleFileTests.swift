import Foundation
import XCTest
import Media
@testable import Teacher

/// The docs/FORMAT.md, section 2 example, verbatim.
let specExample = """
{
  "version": 1,
  "objects": {
    "ball":    {"color": "#f2c200"},
    "target":  {"color": "#d02020"},
    "walls":   {"color": "#202020", "tolerance": 70}
  },
  "goal": {
    "question": "By the end of the video, does the yellow ball reach the red square?",
    "check": {"type": "reach", "object": "ball", "target": "target"}
  },
  "process": [
    {"question": "Does the yellow ball avoid all walls?",
     "check": {"type": "avoid", "object": "ball", "obstacle": "walls"}},
    {"question": "Does the yellow ball stay intact, without splitting or vanishing?",
     "check": {"type": "intact", "object": "ball"}},
    {"question": "Do the walls stay where they are?",
     "check": {"type": "static", "object": "walls"}}
  ],
  "lambda": 0.5
}
"""

final class RuleFileTests: XCTestCase {
    func parseError(_ text: String) -> RuleError? {
        do { _ = try RuleFile.parse(Array(text.utf8)); return nil } catch { return error }
    }

    func testSpecExampleParsesWithDefaults() throws {
        let r = try RuleFile.parse(Array(specExample.utf8))
        XCTAssertEqual(r.objects.map(\.name), ["ball", "target", "walls"])
        XCTAssertEqual(r.object(named: "ball")?.color, SIMD3(0xf2, 0xc2, 0x00))
        XCTAssertEqual(r.object(named: "ball")?.tolerance, 60)
        XCTAssertEqual(r.object(named: "walls")?.tolerance, 70)
        XCTAssertEqual(r.goal.check, .reach(object: "ball", target: .object("target"), minFraction: 0.5))
        XCTAssertEqual(r.process.map(\.check), [
            .avoid(object: "ball", obstacle: .object("walls"), maxFraction: 0.02),
            .intact(object: "ball", areaTolerance: 0.35),
            .static(object: "walls", maxChange: 0.1),
        ])
        XCTAssertEqual(r.process.map(\.weight), [1, 1, 1])
        XCTAssertEqual(r.lambda, 0.5)
    }

    func testEveryCheckTypeAndBoxRegion() throws {
        let text = """
        {"version": 1, "objects": {"a": {"color": "#ff0000"}, "b": {"color": "#0000ff"}},
         "goal": {"question": "q", "check": {"type": "align", "object": "a", "target": {"box": [0, 0, 0.5, 1]}, "min_fraction": 0.7}},
         "process": [
          {"question": "q", "check": {"type": "count", "object": "a", "n": 2, "at": "end"}, "weight": 2},
          {"question": "q", "check": {"type": "order", "objects": ["a", "b"], "axis": "y"}},
          {"question": "q", "check": {"type": "path", "object": "a", "through": ["b", {"box": [0.5, 0.5, 1, 1]}]}},
          {"question": "q", "check": {"type": "smooth", "object": "a", "max_step": 0.2}}
         ]}
        """
        let r = try RuleFile.parse(Array(text.utf8))
        XCTAssertEqual(r.goal.check, .align(object: "a", target: .box(0, 0, 0.5, 1), minFraction: 0.7))
        XCTAssertEqual(r.process[0].check, .count(object: "a", n: 2, atEnd: true))
        XCTAssertEqual(r.process[0].weight, 2)
        XCTAssertEqual(r.process[1].check, .order(objects: ["a", "b"], axis: .y))
        XCTAssertEqual(r.process[2].check, .path(object: "a", through: [.object("b"), .box(0.5, 0.5, 1, 1)]))
        XCTAssertEqual(r.process[3].check, .smooth(object: "a", maxStep: 0.2))
    }

    func testErrorsNameThePath() {
        func replacing(_ a: String, _ b: String) -> String { specExample.replacingOccurrences(of: a, with: b) }
        XCTAssertEqual(parseError(replacing("\"obstacle\": \"walls\"", "\"obstacle\": \"wall\""))?.path, "process[0].check.obstacle")
        XCTAssertEqual(parseError(replacing("\"type\": \"intact\"", "\"type\": \"whole\""))?.path, "process[1].check.type")
        XCTAssertEqual(parseError(replacing("\"tolerance\": 70", "\"tolerance\": \"70\""))?.path, "objects.walls.tolerance")
        XCTAssertEqual(parseError(replacing("#f2c200", "yellow"))?.path, "objects.ball.color")
        XCTAssertEqual(parseError(replacing("\"lambda\": 0.5", "\"lambda\": 2"))?.path, "lambda")
        XCTAssertEqual(parseError(replacing("\"lambda\": 0.5", "\"lamda\": 0.5"))?.path, "lamda")
        XCTAssertEqual(parseError(replacing("\"object\": \"walls\"}", "\"object\": 3}"))?.path, "process[2].check.object")
        XCTAssertEqual(parseError(##"{"version": 1, "objects": {"a": {"color": "#000000"}}}"##)?.path, "goal")
        XCTAssertEqual(parseError(#"{"version": 2}"#)?.path, "version")
        let bad = parseError("{\"version\": 1,")
        XCTAssertEqual(bad?.path, "")
        XCTAssertTrue(bad?.description.contains("not valid JSON") ?? false, bad?.description ?? "")
        let undefined = parseError(replacing("\"obstacle\": \"walls\"", "\"obstacle\": \"wall\""))!
        XCTAssertTrue(undefined.description.contains("rules.json: process[0].check.obstacle"), undefined.description)
        XCTAssertTrue(undefined.description.contains("not defined under objects"), undefined.description)
    }

    func testDuplicateKeysAndTrailingTextAreRejected() {
        XCTAssertNotNil(parseError(replacing(specExample, "\"version\": 1,", "\"version\": 1, \"version\": 1,")))
        XCTAssertNotNil(parseError(specExample + " x"))
    }

    private func replacing(_ s: String, _ a: String, _ b: String) -> String { s.replacingOccurrences(of: a, with: b) }

    /// `WorkingSize.objectPixels` counts runs of equal pixels once: on a picture with flat areas,
    /// JPEG-like noise and colours on the tolerance's edge it gives the per-pixel count of
    /// `ColorMask.hard` at the frame's own size and at a smaller one.
    func testObjectPixelsCountsAsThePerPixelMask() {
        var im = RGBImage(width: 200, height: 120, fill: (255, 255, 255))
        var state: UInt64 = 12345
        func next() -> UInt8 { state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: state >> 56) }
        for y in 0..<120 {
            for x in 0..<200 where x > 60 || y % 7 == 0 {
                let i = 3 * (y * 200 + x)
                if x < 120 { im.pixels[i] = 0xf2 &+ (next() & 3); im.pixels[i + 1] = 0xc2; im.pixels[i + 2] = next() & 31 }
                else { im.pixels[i] = 0xd0; im.pixels[i + 1] = next() & 63; im.pixels[i + 2] = 0x20 }
            }
        }
        let rules = try! RuleFile.parse(Array(##"{"version": 1, "objects": {"ball": {"color": "#f2c200", "tolerance": 20}, "goal": {"color": "#d02020", "tolerance": 30}, "white": {"color": "#ffffff"}}, "goal": {"question": "g", "check": {"type": "intact", "object": "ball"}}}"##.utf8))
        for size in [WorkingSize(width: 200, height: 120), WorkingSize(width: 100, height: 60)] {
            let frame = im.resizedFloat(width: size.width, height: size.height)
            let expected = rules.objects.map { ColorMask.hardCount(frame, count: size.width * size.height, color: $0.color, tolerance: $0.tolerance) }
            XCTAssertEqual(WorkingSize.objectPixels(rules, im, at: size), expected, "\(size)")
            XCTAssertTrue(expected.allSatisfy { $0 > 0 }, "\(expected)")
        }
    }

    /// The teacher judges at the smallest working size that keeps every object: a 1-pixel line
    /// in a 256 x 256 frame (it fades to grey at 64 x 64) is judged at 256; an object with no
    /// pixel is an error; one under twice the speck size a warning that names it and its count.
    func testValidateChoosesAWorkingSizeAndNamesObjectsTooSmall() {
        var im = RGBImage(width: 256, height: 256, fill: (255, 255, 255))
        for y in 100..<140 { for x in 100..<140 { let i = 3 * (y * 256 + x); im.pixels[i] = 0xf2; im.pixels[i + 1] = 0xc2; im.pixels[i + 2] = 0 } }
        for y in 0..<256 { let i = 3 * (y * 256 + 10); im.pixels[i] = 0x20; im.pixels[i + 1] = 0x20; im.pixels[i + 2] = 0x20 }
        let rules = try! RuleFile.parse(Array(specExample.utf8))
        XCTAssertEqual(WorkingSize.choose(rules: rules, firstFrame: im), WorkingSize(width: 256, height: 256))
        var (problems, warnings) = RuleFile.validate(Array(specExample.utf8), firstFrame: im)
        XCTAssertEqual(problems.count, 1, "\(problems)")
        XCTAssertTrue(problems[0].contains("objects.target: no pixel"), problems[0])
        XCTAssertEqual(warnings, [])
        // A 7 x 7 red target: 49 pixels at 256 x 256, under twice the speck size (131).
        for y in 20..<27 { for x in 200..<207 { let i = 3 * (y * 256 + x); im.pixels[i] = 0xd0; im.pixels[i + 1] = 0x20; im.pixels[i + 2] = 0x20 } }
        (problems, warnings) = RuleFile.validate(Array(specExample.utf8), firstFrame: im)
        XCTAssertEqual(problems, [])
        XCTAssertEqual(warnings.count, 1, "\(warnings)")
        XCTAssertTrue(warnings[0].contains("objects.target: only 49 pixels"), warnings[0])
        // Without the thin line, large flat shapes are judged at 64.
        let plain = RGBImage(width: 256, height: 256, fill: (255, 255, 255))
        var big = plain
        for y in 0..<128 { for x in 0..<64 { let i = 3 * (y * 256 + x); big.pixels[i] = 0xf2; big.pixels[i + 1] = 0xc2; big.pixels[i + 2] = 0 } }
        let ballOnly = try! RuleFile.parse(Array(##"{"version": 1, "objects": {"ball": {"color": "#f2c200"}}, "goal": {"question": "g", "check": {"type": "intact", "object": "ball"}}}"##.utf8))
        XCTAssertEqual(WorkingSize.choose(rules: ballOnly, firstFrame: big), WorkingSize(width: 64, height: 64))
        // A wide frame: the shorter side stays at least 64 (the model's view), the aspect kept.
        XCTAssertEqual(WorkingSize.candidates(width: 594, height: 397).first, WorkingSize(width: 96, height: 64))
        XCTAssertEqual(WorkingSize.candidates(width: 594, height: 397).last, WorkingSize(width: 512, height: 342))
        XCTAssertEqual(WorkingSize.candidates(width: 40, height: 30), [WorkingSize(width: 40, height: 30)])
        let (p2, _) = RuleFile.validate(Array("{}".utf8), firstFrame: nil)
        XCTAssertEqual(p2.count, 1)
    }

    /// A colour is `#` and six hex digits: `UInt8(_:radix:)` alone would read `+f` as 15.
    func testColoursWithASignAreRefused() {
        for bad in ["#+f+f+f", "#-0-0-0", "#0x0f0f", "#f2c20 ", "#f2c2g0"] {
            XCTAssertEqual(parseError(specExample.replacingOccurrences(of: "#f2c200", with: bad))?.path, "objects.ball.color", bad)
        }
        XCTAssertNoThrow(try RuleFile.parse(Array(specExample.replacingOccurrences(of: "#f2c200", with: "#F2C200").utf8)))
    }

    /// A rule file of 1 MB with 110,000 keys in one object is read in time proportional to its
    /// size (it took minutes when each key was compared with every earlier one).
    func testAMegabyteOfKeysIsQuick() throws {
        func keys(_ n: Int) -> [UInt8] {
            var s = "{"
            for k in 0..<n { s += (k > 0 ? "," : "") + "\"" + String(k, radix: 36) + "\":0" }
            return Array((s + "}").utf8)
        }
        let file = keys(110_000)
        XCTAssertLessThan(file.count, 1 << 20)
        let t0 = ContinuousClock.now
        let (problems, _) = RuleFile.validate(file, firstFrame: nil)
        let d = ContinuousClock.now - t0
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        print(String(format: "rules.json with 110,000 keys (%d bytes) validated in %.3f s", file.count, seconds))
        XCTAssertEqual(problems.count, 1)
        XCTAssertTrue(problems[0].contains("unknown key"), "\(problems)")
        XCTAssertLessThan(seconds, 5)
        // A repeated key among them is reported by name.
        var dup = file
        dup.removeLast()
        dup += Array(",\"zz\":1,\"zz\":2}".utf8)
        let (p2, _) = RuleFile.validate(dup, firstFrame: nil)
        XCTAssertTrue(p2.first?.contains("the key \"zz\" appears twice") == true, "\(p2)")
    }
}
