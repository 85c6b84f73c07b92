import Foundation

/// `verdict.json` (SPEC section 4): written last, atomically; its presence means "finished".
///
/// Kept as a JSON object tree so that the evidence of each check, which differs by check
/// type, goes through unchanged. Keys are written sorted, so the same run gives the same
/// bytes apart from the `cost` timings.
public struct Verdict {
    public enum Status: String { case passed, failed, error }

    public var task: String
    public var status: Status
    public var strategy: String
    public var seed: UInt64
    public var goal: [String: Any] = [:]
    public var process: [[String: Any]] = []
    public var optimization: [String: Any]? = nil
    /// Model evaluations, `cost.model_evaluations`: one per forward pass, two per backward pass.
    public var evaluations: Int = 0
    /// `seconds` and `peak_rss_bytes`; the only part that differs between two identical runs.
    public var cost: [String: Any] = [:]
    public var outputs: [String: Any] = [:]
    public var model: [String: Any] = [:]
    public var error: (code: String, message: String)? = nil
    /// Anything else worth keeping: the unadapted video's answers, the samples tried.
    public var extra: [String: Any] = [:]

    public init(task: String, status: Status, strategy: String, seed: UInt64) {
        self.task = task; self.status = status; self.strategy = strategy; self.seed = seed
    }

    /// An error verdict: the task could not be run; `message` tells the user what to fix.
    public static func failure(task: String, strategy: String, seed: UInt64, code: String, message: String) -> Verdict {
        var v = Verdict(task: task, status: .error, strategy: strategy, seed: seed)
        v.error = (code, message)
        return v
    }

    public var object: [String: Any] {
        var o: [String: Any] = [
            "version": 1,
            "task": task,
            "status": status.rawValue,
            "passed": status == .passed,
            "strategy": strategy,
            "seed": seed,
            "goal": goal.isEmpty ? NSNull() : goal,
            "process": process,
            "optimization": optimization ?? NSNull(),
            "cost": cost.merging(["model_evaluations": evaluations]) { a, _ in a },
            "outputs": outputs,
            "model": model.isEmpty ? NSNull() : model,
            "error": error.map { ["code": $0.code, "message": $0.message] as [String: Any] } ?? NSNull(),
        ]
        for (k, v) in extra { o[k] = v }
        return o
    }

    public func jsonBytes() -> [UInt8] {
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return Array(data) + [0x0A]
    }
}

/// Rounds for JSON so that verdicts are stable and readable (floats print with all digits otherwise).
@inlinable public func rounded(_ x: Double, _ digits: Int = 4) -> Double {
    let p = pow(10.0, Double(digits))
    return (x * p).rounded() / p
}
