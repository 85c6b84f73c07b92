import Basics

/// The strategies a task can ask for in `job.json`.
public enum Strategy: String, Sendable, CaseIterable, Codable {
    /// Test-time LoRA optimisation guided by the teacher (the paper's method).
    case teacherLoRA = "teacher-lora"
    /// `samples` videos from the base model; the teacher keeps the best.
    case bestOfN = "best-of-n"
    /// One video from the base model.
    case base = "base"
    /// A few samples first; adaptation from the best only when none passes.
    case sampleThenAdapt = "sample-then-adapt"
}

/// Per-task settings from `job.json` (docs/FORMAT.md, section 3). Absent keys take the defaults;
/// unknown keys and out-of-range values are input errors.
public struct JobSettings: Sendable, Equatable {
    public var strategy: Strategy = JobSettings.defaultStrategy
    public var seed: UInt64 = 0
    public var maxSteps: Int = 200
    public var stopLoss: Double = 0.22
    public var learningRate: Double = 1.5e-3
    public var rank: Int = 16
    public var alpha: Double = 16
    public var samples: Int = 256
    public var sampleSteps: Int = 4
    /// sample-then-adapt: the adaptation steps are split over this many of the best samples'
    /// noises, adapted in turn until one passes.
    public var restarts: Int = 4
    /// The written frames' longer side at most (docs/FORMAT.md); the first frame's size when smaller.
    public var frameLongSide: Int = 1024

    /// What the task asks of a Slurm cluster when a daemon runs it as a batch job
    /// (`tutor daemon --executor slurm`); `tutor run` itself does not use it.
    public var slurm = SlurmRequest()

    /// The `slurm` object of job.json: each key optional, each overriding the daemon's setting.
    public struct SlurmRequest: Sendable, Equatable {
        public var cpus: Int?
        public var memoryMB: Int?
        public var timeMinutes: Int?
        public var partition: String?
        public var account: String?
        public static let knownKeys = ["cpus", "memory_mb", "time_minutes", "partition", "account"]
        public init() {}
    }

    public static let defaultStrategy: Strategy = .sampleThenAdapt

    public static let knownKeys = ["strategy", "seed", "max_steps", "stop_loss", "learning_rate",
                                   "rank", "alpha", "samples", "sample_steps", "restarts", "frame_long_side", "slurm"]

    public init() {}

    /// One problem with `job.json`, naming the key.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public let key: String
        public let message: String
        public var description: String { key.isEmpty ? "job.json: \(message)" : "job.json: \(key): \(message)" }
    }

    /// The largest seed: 2^53 - 1, the largest integer that every JSON reader keeps exact
    /// (above it, many read `seed` as a nearby double, so the task would not be the one written).
    public static let maxSeed: UInt64 = (1 << 53) - 1

    /// Parses `job.json`, collecting every problem rather than stopping at the first.
    public static func parse(_ bytes: [UInt8]) -> (JobSettings, [Problem]) {
        var s = JobSettings()
        var problems: [Problem] = []
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch {
            if let key = error.duplicateKey {
                return (s, [Problem(key: key, message: "appears twice (the second at line \(error.line), column \(error.column)); give each key once")])
            }
            return (s, [Problem(key: "", message: "not valid JSON (\(error.description))")])
        }
        guard case .object(let members) = json else {
            return (s, [Problem(key: "", message: "must be a JSON object, not \(json.kindName)")])
        }
        for key in members.map(\.0).sorted() where !knownKeys.contains(key) {
            problems.append(Problem(key: key, message: "unknown key (known: \(knownKeys.joined(separator: ", ")))"))
        }
        func number(_ key: String) -> Double? {
            guard let v = json[key] else { return nil }
            if let d = v.doubleValue { return d }
            problems.append(Problem(key: key, message: "must be a number, not \(v.kindName)"))
            return nil
        }
        func integer(_ key: String, _ range: ClosedRange<Int>) -> Int? {
            guard number(key) != nil, let v = json[key] else { return nil }
            guard let n = v.integerValue, n >= range.lowerBound, n <= range.upperBound else {
                problems.append(Problem(key: key, message: "must be a whole number from \(range.lowerBound) to \(range.upperBound), got \(v.serialized())"))
                return nil
            }
            return Int(n)
        }
        func real(_ key: String, _ lo: Double, _ hi: Double, openLow: Bool = false) -> Double? {
            guard let d = number(key) else { return nil }
            guard d.isFinite, openLow ? d > lo : d >= lo, d <= hi else {
                problems.append(Problem(key: key, message: "must be \(openLow ? "above" : "at least") \(lo) and at most \(hi), got \(d)"))
                return nil
            }
            return d
        }
        if let v = json["strategy"] {
            if let name = v.stringValue, let st = Strategy(rawValue: name) { s.strategy = st }
            else {
                problems.append(Problem(key: "strategy", message: "must be one of \(Strategy.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
        }
        if number("seed") != nil {
            if let n = json["seed"]?.integerValue, n >= 0, UInt64(n) <= maxSeed { s.seed = UInt64(n) }
            else {
                problems.append(Problem(key: "seed", message: "must be a whole number from 0 to \(maxSeed) (2^53 - 1), got \(json["seed"]!.serialized())"))
            }
        }
        if let v = integer("max_steps", 0...1000) { s.maxSteps = v }
        if let v = real("stop_loss", 0, 100) { s.stopLoss = v }
        if let v = real("learning_rate", 0, 1, openLow: true) { s.learningRate = v }
        if let v = integer("rank", 1...256) { s.rank = v }
        if let v = real("alpha", 0, 4096, openLow: true) { s.alpha = v }
        if let v = integer("samples", 1...1000) { s.samples = v }
        if let v = integer("sample_steps", 1...64) { s.sampleSteps = v }
        if let v = integer("restarts", 1...64) { s.restarts = v }
        if let v = integer("frame_long_side", 16...4096) { s.frameLongSide = v }
        if let v = json["slurm"] {
            if case .object = v {
                s.slurm = parseSlurm(v, &problems)
            } else {
                problems.append(Problem(key: "slurm", message: "must be an object with any of \(SlurmRequest.knownKeys.joined(separator: ", "))"))
            }
        }
        return (s, problems)
    }

    /// The `slurm` object. Its ranges are the ones the daemon accepts (Spool's SlurmRequest).
    static func parseSlurm(_ o: JSONValue, _ problems: inout [Problem]) -> SlurmRequest {
        var r = SlurmRequest()
        for key in (o.objectValue ?? []).map(\.0).sorted() where !SlurmRequest.knownKeys.contains(key) {
            problems.append(Problem(key: "slurm.\(key)", message: "unknown key (known: \(SlurmRequest.knownKeys.joined(separator: ", ")))"))
        }
        func integer(_ key: String, _ hi: Int) -> Int? {
            guard let v = o[key] else { return nil }
            if let n = v.integerValue, n >= 1, n <= hi { return Int(n) }
            problems.append(Problem(key: "slurm.\(key)", message: "must be a whole number from 1 to \(hi)"))
            return nil
        }
        func name(_ key: String) -> String? {
            guard let v = o[key] else { return nil }
            if let s = v.stringValue, !s.isEmpty, s.count <= 64,
               s.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E }) {
                return s
            }
            problems.append(Problem(key: "slurm.\(key)", message: "must be a Slurm name: 1 to 64 letters, digits, '-', '_' or '.'"))
            return nil
        }
        r.cpus = integer("cpus", 4096)
        r.memoryMB = integer("memory_mb", 1 << 30)
        r.timeMinutes = integer("time_minutes", 525_600)
        r.partition = name("partition")
        r.account = name("account")
        return r
    }
}
