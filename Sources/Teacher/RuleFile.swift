import Basics
import Media

/// A problem in `rules.json`, with the path of the offending value
/// (`process[1].check.obstacle`) and what to do about it.
public struct RuleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where in the file: `objects.ball.color`, `process[1].check.obstacle`; empty for the whole file.
    public var path: String
    public var message: String

    public init(_ path: String, _ message: String) { self.path = path; self.message = message }

    public var description: String {
        path.isEmpty ? "rules.json: \(message)" : "rules.json: \(path): \(message)"
    }
}

/// An object of the rule file: everything of one colour.
public struct RuleObject: Sendable, Equatable {
    public var name: String
    /// RGB, 0-255.
    public var color: SIMD3<Float>
    /// A pixel belongs to the object when its RGB distance (0-255 per channel) to `color`
    /// is at most this. Default 60.
    public var tolerance: Float
}

/// A region: an object's pixels in the first frame, or a box in normalised coordinates.
public enum Region: Sendable, Equatable {
    case object(String)
    /// x0, y0, x1, y1 in [0, 1], x to the right, y downwards.
    case box(Float, Float, Float, Float)
}

/// One machine-checkable check of docs/FORMAT.md, section 2 (version 1), with defaults filled in.
public enum Check: Sendable, Equatable {
    case reach(object: String, target: Region, minFraction: Float)
    case avoid(object: String, obstacle: Region, maxFraction: Float)
    case intact(object: String, areaTolerance: Float)
    case count(object: String, n: Int, atEnd: Bool)
    case `static`(object: String, maxChange: Float)
    case align(object: String, target: Region, minFraction: Float)
    case order(objects: [String], axis: Axis)
    case path(object: String, through: [Region])
    case smooth(object: String, maxStep: Float)

    public enum Axis: String, Sendable { case x, y }

    /// The check's `type` as written in the file.
    public var typeName: String {
        switch self {
        case .reach: return "reach"
        case .avoid: return "avoid"
        case .intact: return "intact"
        case .count: return "count"
        case .static: return "static"
        case .align: return "align"
        case .order: return "order"
        case .path: return "path"
        case .smooth: return "smooth"
        }
    }

    /// Every object the check names, directly or through a region.
    public var objectNames: [String] {
        func r(_ g: Region) -> [String] { if case .object(let n) = g { return [n] }; return [] }
        switch self {
        case let .reach(o, t, _), let .align(o, t, _): return [o] + r(t)
        case let .avoid(o, t, _): return [o] + r(t)
        case let .intact(o, _), let .count(o, _, _), let .static(o, _), let .smooth(o, _): return [o]
        case let .order(os, _): return os
        case let .path(o, through): return [o] + through.flatMap(r)
        }
    }
}

/// A yes/no question of the rule file and its check.
public struct RuleQuestion: Sendable, Equatable {
    public var question: String
    public var check: Check
    /// Weight inside the mean of the process losses (default 1; the goal's is unused).
    public var weight: Float
}

/// A parsed and checked `rules.json` (docs/FORMAT.md, section 2, version 1).
public struct RuleFile: Sendable, Equatable {
    public var version: Int
    /// In the order of the file.
    public var objects: [RuleObject]
    public var goal: RuleQuestion
    public var process: [RuleQuestion]
    /// Weight of the goal in the loss, in [0, 1]; default 0.5.
    public var lambda: Float

    public static let defaultTolerance: Float = 60

    public func object(named name: String) -> RuleObject? { objects.first { $0.name == name } }

    /// Parses and checks a rule file. The first problem found is thrown, naming its path.
    public static func parse(_ bytes: [UInt8]) throws(RuleError) -> RuleFile {
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch {
            throw RuleError("", "not valid JSON (\(error.description))")
        }
        return try RuleParser.file(json)
    }

    /// Checks a rule file against a first frame, for `tutor validate`.
    ///
    /// - Parameters:
    ///   - firstFrame: the task's first frame at its own size, or nil when it could not be read.
    /// - Returns: problems (the file is unusable: an object with no pixel of its colour in the
    ///   first frame, at the size the teacher judges at) and warnings (it will run, but a check
    ///   may be unreliable: an object of fewer than twice the speck size's pixels, no process
    ///   question).
    public static func validate(_ bytes: [UInt8], firstFrame: RGBImage?) -> (problems: [String], warnings: [String]) {
        do { return try parse(bytes).check(firstFrame: firstFrame) } catch {
            return ([error.description], [])
        }
    }

    /// Checks this parsed rule file against the first frame (at its own size, or nil when it
    /// could not be read), at the working size the teacher will judge it at: an object with no
    /// pixel of its colour is a problem; an object under twice the speck size, or no process
    /// question, is a warning.
    public func check(firstFrame: RGBImage?) -> (problems: [String], warnings: [String]) {
        let rules = self
        var warnings: [String] = [], problems: [String] = []
        if rules.process.isEmpty {
            warnings.append("rules.json: process: no process question; only the goal will be checked")
        }
        if let image = firstFrame {
            let size = WorkingSize.choose(rules: rules, firstFrame: image)
            let counts = WorkingSize.objectPixels(rules, image, at: size)
            let speck = 0.001 * Double(size.width * size.height)
            let at = "at the \(size.width) x \(size.height) the teacher judges this \(image.width) x \(image.height) frame at"
            for (o, n) in zip(rules.objects, counts) {
                let hex = RuleParser.hex(o.color)
                if n == 0 {
                    problems.append("rules.json: objects.\(o.name): no pixel of the first frame, \(at), is within \(Int(o.tolerance)) of \(hex); checks on \(o.name) would see nothing (draw it, or fix its colour or tolerance)")
                } else if Double(n) < 2 * speck {
                    warnings.append("rules.json: objects.\(o.name): only \(n) pixels of the first frame, \(at), are within \(Int(o.tolerance)) of \(hex), under twice the speck size (\(Int(speck.rounded(.up))) pixels, 0.1% of the frame, below which a blob is ignored); \(o.name) may vanish from the judge's view when it moves (draw it larger, or widen its tolerance)")
                }
            }
        }
        return (problems, warnings)
    }
}

/// Turns a JSON value into a `RuleFile`, naming the path of the first problem.
enum RuleParser {
    static let checkFields: [String: (required: [String], optional: [String])] = [
        "reach": (["object", "target"], ["min_fraction"]),
        "avoid": (["object", "obstacle"], ["max_fraction"]),
        "intact": (["object"], ["area_tolerance"]),
        "count": (["object", "n"], ["at"]),
        "static": (["object"], ["max_change"]),
        "align": (["object", "target"], ["min_fraction"]),
        "order": (["objects"], ["axis"]),
        "path": (["object", "through"], []),
        "smooth": (["object"], ["max_step"]),
    ]

    static func hex(_ c: SIMD3<Float>) -> String {
        func h(_ v: Float) -> String { let s = String(Int(v), radix: 16); return s.count == 1 ? "0" + s : s }
        return "#" + h(c.x) + h(c.y) + h(c.z)
    }

    static func fields(_ v: JSONValue, _ path: String, allowed: [String]) throws(RuleError) -> [(String, JSONValue)] {
        guard case .object(let kv) = v else { throw RuleError(path, "must be an object, not \(v.kindName)") }
        for (k, _) in kv where !allowed.contains(k) {
            throw RuleError(path.isEmpty ? k : "\(path).\(k)", "unknown key; the keys allowed here are \(allowed.joined(separator: ", "))")
        }
        return kv
    }

    static func number(_ v: JSONValue?, _ path: String, default d: Float, in range: ClosedRange<Float>) throws(RuleError) -> Float {
        guard let v else { return d }
        guard let x = v.doubleValue else { throw RuleError(path, "must be a number, not \(v.kindName)") }
        let f = Float(x)
        guard range.contains(f) else { throw RuleError(path, "is \(x); it must be between \(range.lowerBound) and \(range.upperBound)") }
        return f
    }

    static func string(_ v: JSONValue?, _ path: String) throws(RuleError) -> String {
        guard let v else { throw RuleError(path, "is missing") }
        guard case .string(let s) = v else { throw RuleError(path, "must be a string, not \(v.kindName)") }
        return s
    }

    static func file(_ json: JSONValue) throws(RuleError) -> RuleFile {
        _ = try fields(json, "", allowed: ["version", "objects", "goal", "process", "lambda"])
        guard let vv = json["version"] else { throw RuleError("version", "is missing; write \"version\": 1") }
        guard vv.doubleValue == 1 else {
            throw RuleError("version", "is \(vv.serialized()); this tutor reads version 1")
        }
        guard let objs = json["objects"] else { throw RuleError("objects", "is missing; name each object and its colour") }
        guard case .object(let okv) = objs else { throw RuleError("objects", "must be an object, not \(objs.kindName)") }
        if okv.isEmpty { throw RuleError("objects", "is empty; name at least one object and its colour") }
        var objects: [RuleObject] = []
        for (name, spec) in okv {
            let p = "objects.\(name)"
            if name.isEmpty { throw RuleError("objects", "an object has an empty name") }
            _ = try fields(spec, p, allowed: ["color", "tolerance"])
            let hexText = try string(spec["color"], "\(p).color")
            guard let color = parseHex(hexText) else {
                throw RuleError("\(p).color", "is \"\(hexText)\"; write a colour as \"#rrggbb\"")
            }
            let tol = try number(spec["tolerance"], "\(p).tolerance", default: RuleFile.defaultTolerance, in: 0...442)
            objects.append(RuleObject(name: name, color: color, tolerance: tol))
        }
        let names = Set(objects.map(\.name))
        guard let g = json["goal"] else { throw RuleError("goal", "is missing; the rules need one goal question") }
        let goal = try question(g, "goal", names: names, isGoal: true)
        var process: [RuleQuestion] = []
        if let pv = json["process"] {
            guard case .array(let items) = pv else { throw RuleError("process", "must be an array, not \(pv.kindName)") }
            for (k, item) in items.enumerated() {
                process.append(try question(item, "process[\(k)]", names: names, isGoal: false))
            }
        }
        let lambda = try number(json["lambda"], "lambda", default: 0.5, in: 0...1)
        if !process.isEmpty && lambda < 1 && process.reduce(0, { $0 + $1.weight }) <= 0 {
            throw RuleError("process", "every weight is 0; give at least one process question a positive weight")
        }
        return RuleFile(version: 1, objects: objects, goal: goal, process: process, lambda: lambda)
    }

    /// `#rrggbb`, six hex digits and nothing else (no sign: `UInt8(_:radix:)` would read
    /// `"#+f+f+f"` as `#0f0f0f`).
    static func parseHex(_ s: String) -> SIMD3<Float>? {
        let u = Array(s.utf8)
        guard u.count == 7, u[0] == UInt8(ascii: "#") else { return nil }
        var c: [Float] = []
        for k in 0..<3 {
            guard let hi = hexDigit(u[1 + 2 * k]), let lo = hexDigit(u[2 + 2 * k]) else { return nil }
            c.append(Float(hi * 16 + lo))
        }
        return SIMD3(c[0], c[1], c[2])
    }

    static func question(_ v: JSONValue, _ path: String, names: Set<String>, isGoal: Bool) throws(RuleError) -> RuleQuestion {
        _ = try fields(v, path, allowed: isGoal ? ["question", "check"] : ["question", "check", "weight"])
        let q = try string(v["question"], "\(path).question")
        if q.allSatisfy(\.isWhitespace) { throw RuleError("\(path).question", "is empty; write the yes/no question") }
        guard let cv = v["check"] else { throw RuleError("\(path).check", "is missing") }
        let check = try parseCheck(cv, "\(path).check", names: names)
        let w = try number(v["weight"], "\(path).weight", default: 1, in: 0...1000)
        return RuleQuestion(question: q, check: check, weight: w)
    }

    static func objectName(_ v: JSONValue?, _ path: String, names: Set<String>) throws(RuleError) -> String {
        let n = try string(v, path)
        guard names.contains(n) else {
            throw RuleError(path, "names \"\(n)\", which is not defined under objects (defined: \(names.sorted().joined(separator: ", ")))")
        }
        return n
    }

    static func region(_ v: JSONValue?, _ path: String, names: Set<String>) throws(RuleError) -> Region {
        guard let v else { throw RuleError(path, "is missing") }
        switch v {
        case .string: return .object(try objectName(v, path, names: names))
        case .object:
            _ = try fields(v, path, allowed: ["box"])
            guard let b = v["box"] else { throw RuleError("\(path).box", "is missing") }
            guard case .array(let a) = b, a.count == 4 else {
                throw RuleError("\(path).box", "must be an array of four numbers [x0, y0, x1, y1]")
            }
            var x: [Float] = []
            for (k, e) in a.enumerated() { x.append(try number(e, "\(path).box[\(k)]", default: 0, in: 0...1)) }
            guard x[0] < x[2], x[1] < x[3] else { throw RuleError("\(path).box", "needs x0 < x1 and y0 < y1") }
            return .box(x[0], x[1], x[2], x[3])
        default:
            throw RuleError(path, "must be an object name or {\"box\": [x0, y0, x1, y1]}, not \(v.kindName)")
        }
    }

    static func parseCheck(_ v: JSONValue, _ path: String, names: Set<String>) throws(RuleError) -> Check {
        guard case .object = v else { throw RuleError(path, "must be an object, not \(v.kindName)") }
        let type = try string(v["type"], "\(path).type")
        guard let spec = checkFields[type] else {
            throw RuleError("\(path).type", "\"\(type)\" is not a check type; use one of \(checkFields.keys.sorted().joined(separator: ", "))")
        }
        _ = try fields(v, path, allowed: ["type"] + spec.required + spec.optional)
        for r in spec.required where v[r] == nil { throw RuleError("\(path).\(r)", "is missing; a \(type) check needs it") }
        func obj() throws(RuleError) -> String { try objectName(v["object"], "\(path).object", names: names) }
        switch type {
        case "reach":
            return .reach(object: try obj(), target: try region(v["target"], "\(path).target", names: names),
                          minFraction: try number(v["min_fraction"], "\(path).min_fraction", default: 0.5, in: 0...1))
        case "avoid":
            return .avoid(object: try obj(), obstacle: try region(v["obstacle"], "\(path).obstacle", names: names),
                          maxFraction: try number(v["max_fraction"], "\(path).max_fraction", default: 0.02, in: 0...1))
        case "intact":
            return .intact(object: try obj(), areaTolerance: try number(v["area_tolerance"], "\(path).area_tolerance", default: 0.35, in: 0...10))
        case "count":
            let n = try number(v["n"], "\(path).n", default: 0, in: 0...100_000)
            guard n == n.rounded() else { throw RuleError("\(path).n", "must be a whole number") }
            var atEnd = false
            if let a = v["at"] {
                let s = try string(a, "\(path).at")
                guard s == "all" || s == "end" else { throw RuleError("\(path).at", "is \"\(s)\"; use \"all\" or \"end\"") }
                atEnd = s == "end"
            }
            return .count(object: try obj(), n: Int(n), atEnd: atEnd)
        case "static":
            return .static(object: try obj(), maxChange: try number(v["max_change"], "\(path).max_change", default: 0.1, in: 0...1))
        case "align":
            return .align(object: try obj(), target: try region(v["target"], "\(path).target", names: names),
                          minFraction: try number(v["min_fraction"], "\(path).min_fraction", default: 0.5, in: 0...1))
        case "order":
            guard case .array(let a)? = v["objects"], a.count >= 2 else {
                throw RuleError("\(path).objects", "must be an array of at least two object names")
            }
            var os: [String] = []
            for (k, e) in a.enumerated() { os.append(try objectName(e, "\(path).objects[\(k)]", names: names)) }
            var axis = Check.Axis.x
            if let av = v["axis"] {
                let s = try string(av, "\(path).axis")
                guard let ax = Check.Axis(rawValue: s) else { throw RuleError("\(path).axis", "is \"\(s)\"; use \"x\" or \"y\"") }
                axis = ax
            }
            return .order(objects: os, axis: axis)
        case "path":
            guard case .array(let a)? = v["through"], !a.isEmpty else {
                throw RuleError("\(path).through", "must be a non-empty array of regions")
            }
            var rs: [Region] = []
            for (k, e) in a.enumerated() { rs.append(try region(e, "\(path).through[\(k)]", names: names)) }
            return .path(object: try obj(), through: rs)
        default: // smooth
            return .smooth(object: try obj(), maxStep: try number(v["max_step"], "\(path).max_step", default: 0.15, in: 0...2))
        }
    }
}
