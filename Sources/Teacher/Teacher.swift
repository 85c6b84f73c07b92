import Basics
import Media

/// The Teacher's score of one video: the loss the Reasoner is optimised against and the
/// probability of "yes" for every question.
public struct TeacherScore: Sendable {
    /// `L = lambda * L_goal + (1 - lambda) / sum(w) * sum(w * L_process)`, `L_q = -log p_yes(q)`.
    public var loss: Float
    /// p_yes of the goal, then of each process question in the rule file's order. `[1 + process]`
    public var pYes: [Float]

    public var goal: Float { pYes[0] }
    public var process: ArraySlice<Float> { pYes[1...] }
    /// `-log p_yes` per question, in the order of `pYes`.
    public var losses: [Float] { pYes.map { -logf(max($0, 1e-30)) } }
}

/// The judge's answer to one question.
public struct QuestionJudgment: Sendable {
    public var question: String
    /// The check's type (`reach`, `avoid`, ...).
    public var type: String
    /// The hard judgment of docs/FORMAT.md, section 2.
    public var satisfied: Bool
    /// The score's probability of "yes", for comparison.
    public var pYes: Float
    /// What the judgment rests on (failing frames, fractions, blob counts), a JSON object.
    public var evidence: JSONValue
}

/// The judge's verdict on a video.
public struct Judgment: Sendable {
    public var goal: QuestionJudgment
    public var process: [QuestionJudgment]
    /// The goal and every process question are satisfied.
    public var passed: Bool
    public var questions: [QuestionJudgment] { [goal] + process }
}

/// A rule file compiled against a task's first frame: differentiable scores for
/// optimisation and a hard judge for the verdict.
///
/// Everything is computed at the native size (`size x size`): the first frame is
/// area-averaged to it, regions (an object's pixels in the first frame, or a box) and
/// distance fields are fixed here, and videos must have that size. A `Teacher` is
/// immutable after `init`, so one instance may score videos on several threads.
public struct Teacher: Sendable {
    /// The side the Teacher judges at; the same as `Tasks.NativeVideo.size`.
    public static let defaultNativeSize = 64

    public let rules: RuleFile
    public let width: Int
    public let height: Int
    let subjects: [Subject]
    /// Region masks, `[regions][h * w]`, 0 or 1.
    let regions: [[Float]]
    let checks: [CompiledCheck]
    /// dL/dL_q for each question, goal first.
    let coefficients: [Float]
    /// Pixel-centre coordinates, `[h * w]` each.
    let xs: [Float], ys: [Float]

    /// Blobs under this many pixels are specks (0.1% of the frame).
    var speckArea: Double { 0.001 * Double(width * height) }

    /// Compiles `rules` against the first frame.
    ///
    /// - Parameters:
    ///   - firstFrame: the task's first frame at any size; it is area-averaged to `size x size`.
    ///   - size: the native side of the videos this Teacher scores.
    public init(rules: RuleFile, firstFrame: RGBImage, size: Int = Teacher.defaultNativeSize) {
        self.init(rules: rules, nativeFirstFrame: NativeFrame(image: firstFrame, size: size).pixels, width: size, height: size)
    }

    /// Compiles `rules` against a first frame already at the native size, `[h, w, 3]` in [0, 1].
    public init(rules: RuleFile, nativeFirstFrame first: [Float], width w: Int, height h: Int) {
        precondition(first.count == w * h * 3, "Teacher: first frame of \(first.count) floats for \(w) x \(h)")
        self.rules = rules
        width = w; height = h
        let n = w * h
        var xs = [Float](repeating: 0, count: n), ys = xs
        for i in 0..<n { xs[i] = Float(i % w) + 0.5; ys[i] = Float(i / w) + 0.5 }
        self.xs = xs; self.ys = ys
        let speck = 0.001 * Double(n)

        // Subjects: objects whose masks the checks read in every frame.
        var subjectNames: [String] = []
        func subject(_ name: String) -> Int {
            if let k = subjectNames.firstIndex(of: name) { return k }
            subjectNames.append(name); return subjectNames.count - 1
        }
        var regionKeys: [Region] = []
        var regions: [[Float]] = []
        func hardMask(_ name: String) -> [UInt8] {
            let o = rules.object(named: name)!
            return ColorMask.hard(first, count: n, color: o.color, tolerance: o.tolerance)
        }
        func region(_ r: Region) -> Int {
            if let k = regionKeys.firstIndex(of: r) { return k }
            var m = [Float](repeating: 0, count: n)
            switch r {
            case .object(let name):
                let hm = hardMask(name)
                for i in 0..<n { m[i] = Float(hm[i]) }
            case let .box(x0, y0, x1, y1):
                for i in 0..<n {
                    let x = xs[i] / Float(w), y = ys[i] / Float(h)
                    if x >= x0 && x <= x1 && y >= y0 && y <= y1 { m[i] = 1 }
                }
            }
            regionKeys.append(r); regions.append(m)
            return regions.count - 1
        }

        let questions = [rules.goal] + rules.process
        var checks: [CompiledCheck] = []
        for check in questions.map(\.check) {
            switch check {
            case let .reach(o, t, minf), let .align(o, t, minf):
                let isAlign: Bool = { if case .align = check { return true }; return false }()
                // The geodesic field is filled in below, once the object's size is known.
                checks.append(.overlap(subject: subject(o), region: region(t), minFraction: minf, align: isAlign, geodesic: []))
            case let .avoid(o, obs, maxf):
                checks.append(.avoid(subject: subject(o), region: region(obs), maxFraction: maxf))
            case let .intact(o, tol):
                checks.append(.intact(subject: subject(o), areaTolerance: tol))
            case let .count(o, cnt, atEnd):
                checks.append(.count(subject: subject(o), n: cnt, atEnd: atEnd))
            case let .static(o, maxc):
                // Every other object of the rule file may cover it (docs/FORMAT.md: occlusion is not
                // movement), so their masks are read in every frame too.
                let me = subject(o)
                let others = rules.objects.map(\.name).filter { $0 != o }.map(subject)
                checks.append(.static(subject: me, maxChange: maxc, occluders: others))
            case let .order(os, axis):
                checks.append(.order(subjects: os.map(subject), axis: axis))
            case let .path(o, through):
                let rs = through.map(region)
                let sds = rs.map { k in
                    DistanceField.signed(region: regions[k].map { $0 > 0 ? UInt8(1) : 0 }, width: w, height: h)
                }
                checks.append(.path(subject: subject(o), regions: rs, signedDistances: sds))
            case let .smooth(o, maxStep):
                checks.append(.smooth(subject: subject(o), maxStep: maxStep))
            }
        }

        // Reference statistics of each subject in the first frame.
        var subjects: [Subject] = []
        var soft = [Float](repeating: 0, count: n)
        for name in subjectNames {
            let o = rules.object(named: name)!
            first.withUnsafeBufferPointer { p in
                soft.withUnsafeMutableBufferPointer {
                    ColorMask.soft(mask: $0.baseAddress!, dmask: nil, pixels: p.baseAddress!, count: n, color: o.color, tolerance: o.tolerance)
                }
            }
            var S: Float = 0, P = SIMD2<Float>(0, 0), Q: Float = 0
            for i in 0..<n { S += soft[i]; P += soft[i] * SIMD2(xs[i], ys[i]); Q += soft[i] * (xs[i] * xs[i] + ys[i] * ys[i]) }
            let c = P / max(S, 1e-6)
            let v = Q / max(S, 1e-6) - (c * c).sum()
            let hm = hardMask(name)
            let blobs = Blobs(mask: hm, width: w, height: h, minArea: speck)
            subjects.append(Subject(name: name, color: o.color, tolerance: o.tolerance, softArea: S,
                                    spread: max(v, 0.5), hardArea: blobs.keptArea, blobCount: blobs.kept.count,
                                    firstMask: hm))
        }

        // Geodesic distance fields for reach and align, now that subjects are known.
        for k in checks.indices {
            guard case let .overlap(s, r, minf, isAlign, _) = checks[k] else { continue }
            let name = subjects[s].name
            var blocked = [UInt8](repeating: 0, count: n)
            for q in questions {
                if case let .avoid(o2, obs, _) = q.check, o2 == name {
                    let om = regions[region(obs)]
                    for i in 0..<n where om[i] > 0 { blocked[i] = 1 }
                }
            }
            let target = regions[r].map { $0 > 0 ? UInt8(1) : 0 }
            // The object counts as arrived once its centre is on the target: sources are
            // target pixels grown by the object's radius.
            let radius = (Float(max(subjects[s].hardArea, 1)) / Float.pi).squareRoot()
            let toTarget = DistanceField.distances(sources: target, passable: nil, width: w, height: h)
            let sources = toTarget.map { $0 <= radius ? UInt8(1) : 0 }
            let passable = blocked.map { $0 == 0 ? UInt8(1) : 0 }
            var geo = DistanceField.distances(sources: sources, passable: passable, width: w, height: h)
            let finiteMax = geo.filter { $0.isFinite }.max() ?? 0
            for i in 0..<n where !geo[i].isFinite { geo[i] = finiteMax + Float(w) / 4 }
            for i in 0..<n { geo[i] /= Float(w) }
            checks[k] = .overlap(subject: s, region: r, minFraction: minf, align: isAlign, geodesic: geo)
        }

        // An object whose colour matches most of the first frame (a tolerance wide enough to take
        // in the background) would "cover" every pixel a static object leaves: it hides nothing.
        for k in checks.indices {
            guard case let .static(s, maxc, occluders) = checks[k] else { continue }
            let kept = occluders.filter { o in subjects[o].firstMask.reduce(0) { $0 + Int($1) } * 2 < n }
            checks[k] = .static(subject: s, maxChange: maxc, occluders: kept)
        }

        self.subjects = subjects
        self.regions = regions
        self.checks = checks
        let wsum = rules.process.reduce(Float(0)) { $0 + $1.weight }
        var coefficients = [rules.lambda]
        for q in rules.process { coefficients.append(wsum > 0 ? (1 - rules.lambda) * q.weight / wsum : 0) }
        if rules.process.isEmpty { coefficients[0] = 1 }
        self.coefficients = coefficients
    }

    /// Scores a video.
    ///
    /// - Parameters:
    ///   - video: `[frames, height, width, 3]` in [0, 1], at this Teacher's size.
    ///   - gradient: if non-nil, dL/dpixels is ADDED into it, `[frames, height, width, 3]`.
    public func score(_ video: Video, gradient: UnsafeMutablePointer<Float>?) -> TeacherScore {
        precondition(video.width == width && video.height == height,
                     "Teacher: video is \(video.width) x \(video.height), the teacher judges at \(width) x \(height)")
        precondition(video.frames >= 1, "Teacher: a video needs at least one frame")
        let F = video.frames, N = width * height, nS = subjects.count
        let wantGrad = gradient != nil
        // masks: [nS, F, N]; dmasks: [nS, F, N, 3]; gmasks: [nS, F, N]
        var masks = [Float](repeating: 0, count: nS * F * N)
        var dmasks = [Float](repeating: 0, count: wantGrad ? nS * F * N * 3 : 0)
        var gmasks = [Float](repeating: 0, count: wantGrad ? nS * F * N : 0)
        var pYes: [Float] = []
        var loss: Float = 0
        var active: [Range<Int>] = []
        video.pixels.withUnsafeBufferPointer { px in
            masks.withUnsafeMutableBufferPointer { mk in
                dmasks.withUnsafeMutableBufferPointer { dm in
                    for (s, sub) in subjects.enumerated() {
                        ColorMask.soft(mask: mk.baseAddress! + s * F * N, dmask: wantGrad ? dm.baseAddress! + s * F * N * 3 : nil,
                                       pixels: px.baseAddress!, count: F * N, color: sub.color, tolerance: sub.tolerance)
                    }
                }
            }
            for s in 0..<nS {
                for t in 0..<F {
                    let base = (s * F + t) * N
                    var first = -1, last = -1
                    for i in 0..<N where masks[base + i] != 0 { if first < 0 { first = i }; last = i }
                    active.append(first < 0 ? 0..<0 : (first / width) * width..<(last / width + 1) * width)
                }
            }
            masks.withUnsafeBufferPointer { mk in
                gmasks.withUnsafeMutableBufferPointer { gm in
                    let ctx = SoftContext(masks: mk.baseAddress!, gmasks: wantGrad ? gm.baseAddress! : nil,
                                          frames: F, width: width, height: height, xs: xs, ys: ys, activeRows: active)
                    for (k, check) in checks.enumerated() {
                        let z = softMargin(check, ctx, coefficient: coefficients[k])
                        let p = sigmoid(z)
                        pYes.append(p)
                        loss += coefficients[k] * softplus(-z)
                    }
                }
            }
        }
        if let g = gradient {
            // dL/dpixel = sum over subjects of dL/dmask * dmask/dpixel
            for s in 0..<nS {
                for t in 0..<F {
                    let gm = (s * F + t) * N
                    for i in active[s * F + t] {
                        let a = gmasks[gm + i]
                        if a == 0 { continue }
                        let d = 3 * (gm + i), o = 3 * (t * N + i)
                        g[o] += a * dmasks[d]; g[o + 1] += a * dmasks[d + 1]; g[o + 2] += a * dmasks[d + 2]
                    }
                }
            }
        }
        return TeacherScore(loss: loss, pYes: pYes)
    }

    /// Judges a video by the rule format's hard definitions (docs/FORMAT.md, section 2), with evidence, and reports each question's p_yes.
    public func judge(_ video: Video) -> Judgment {
        let scored = score(video, gradient: nil)
        let questions = [rules.goal] + rules.process
        var out: [QuestionJudgment] = []
        let hard = HardFrames(teacher: self, video: video)
        for (k, check) in checks.enumerated() {
            let (ok, evidence) = hardJudge(check, hard)
            out.append(QuestionJudgment(question: questions[k].question, type: questions[k].check.typeName,
                                        satisfied: ok, pYes: scored.pYes[k], evidence: .object(evidence)))
        }
        return Judgment(goal: out[0], process: Array(out.dropFirst()), passed: out.allSatisfy(\.satisfied))
    }
}

/// An object whose mask the checks read in every frame, with its first-frame statistics.
struct Subject: Sendable {
    var name: String
    var color: SIMD3<Float>
    var tolerance: Float
    /// Soft area in the first frame, pixels.
    var softArea: Float
    /// Soft spatial variance (mean squared distance from the centroid) in the first frame, pixels².
    var spread: Float
    /// Hard area of the non-speck blobs in the first frame.
    var hardArea: Int
    /// Non-speck blobs in the first frame.
    var blobCount: Int
    /// Hard mask in the first frame, `[h * w]`.
    var firstMask: [UInt8]
}

/// A check with its objects and regions resolved to indices.
enum CompiledCheck: Sendable {
    /// reach (`align` false) or align; `geodesic` `[h * w]` is the distance to the target
    /// through free space, in frame widths.
    case overlap(subject: Int, region: Int, minFraction: Float, align: Bool, geodesic: [Float])
    case avoid(subject: Int, region: Int, maxFraction: Float)
    case intact(subject: Int, areaTolerance: Float)
    case count(subject: Int, n: Int, atEnd: Bool)
    /// `occluders`: the subjects of every other object of the rule file; a first-frame pixel
    /// of the object that one of them covers in a frame is not counted as changed.
    case `static`(subject: Int, maxChange: Float, occluders: [Int])
    case order(subjects: [Int], axis: Check.Axis)
    case path(subject: Int, regions: [Int], signedDistances: [[Float]])
    case smooth(subject: Int, maxStep: Float)
}

extension Teacher {
    /// A cover mask grown by one pixel (the largest value in each 3 x 3 neighbourhood): where
    /// an object is drawn includes its anti-aliased rim, a blend of its colour and what lies
    /// under it that matches neither, so `static` does not count the rim of an object passing
    /// over it. `[h * w]` in and out; empty stays empty.
    static func withRim(_ mask: [Float], width w: Int, height h: Int) -> [Float] {
        if mask.isEmpty { return mask }
        var rows = mask
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                var m = mask[i]
                if x > 0 { m = max(m, mask[i - 1]) }
                if x < w - 1 { m = max(m, mask[i + 1]) }
                rows[i] = m
            }
        }
        var out = rows
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                var m = rows[i]
                if y > 0 { m = max(m, rows[i - w]) }
                if y < h - 1 { m = max(m, rows[i + w]) }
                out[i] = m
            }
        }
        return out
    }
}

@inline(__always) func sigmoid(_ z: Float) -> Float { 1 / (1 + expf(-z)) }
/// log(1 + e^x), computed without overflow.
@inline(__always) func softplus(_ x: Float) -> Float { x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x)) }

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
