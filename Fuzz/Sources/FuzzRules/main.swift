import FuzzSupport
import Media
import Teacher

// The rule file's parser and checker, as `tutor validate` and `tutor run` call it: against a
// small first frame that holds a few of the colours a rule file names, so that the warnings
// about objects without pixels are exercised too.

/// 48 x 40: a white background, a red square, a blue bar and a green dot.
let firstFrame: RGBImage = {
    var image = RGBImage(width: 48, height: 40, fill: (255, 255, 255))
    func paint(_ xs: Range<Int>, _ ys: Range<Int>, _ c: (UInt8, UInt8, UInt8)) {
        for y in ys { for x in xs { let i = 3 * (y * 48 + x); image.pixels[i] = c.0; image.pixels[i + 1] = c.1; image.pixels[i + 2] = c.2 } }
    }
    paint(4..<12, 4..<12, (220, 30, 30))
    paint(20..<24, 0..<40, (30, 60, 220))
    paint(38..<41, 30..<33, (20, 180, 40))
    return image
}()

fuzz { bytes in
    let parsed = Result { () throws(RuleError) -> RuleFile in try RuleFile.parse(bytes) }
    let (problems, _) = RuleFile.validate(bytes, firstFrame: firstFrame)
    switch parsed {
    case .success(let rules):
        // a file that parses can still be unusable with this picture (an object with no pixel)
        precondition(problems == rules.check(firstFrame: firstFrame).problems, "validate and check disagree")
        for q in [rules.goal] + rules.process {
            for name in q.check.objectNames {
                precondition(rules.object(named: name) != nil, "a check names an object the file does not define")
            }
        }
    case .failure(let error):
        precondition(problems == [error.description], "validate and parse disagree")
    }
}
