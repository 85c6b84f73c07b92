import Basics
import Foundation
import Teacher
import Verdicts

/// The parts of a verdict that `tutor run` fills from what it judged and ran. Figures are
/// rounded (`rounded`) so that verdicts stay stable and readable.
extension Verdict.Answer {
    /// The answer to one question; `p_yes` to 4 digits, the evidence's numbers to 6.
    public init(_ q: QuestionJudgment) {
        self.init(question: q.question, type: q.type, satisfied: q.satisfied, pYes: rounded(Double(q.pYes)),
                  evidence: q.evidence.roundingNumbers(6))
    }
}

extension Verdict.Answers {
    /// A whole video's answers, as the verdict's `base` holds them.
    public init(_ j: Judgment) {
        self.init(passed: j.passed, goal: Verdict.Answer(j.goal), process: j.process.map(Verdict.Answer.init))
    }
}

extension Verdict.Optimization {
    public init(_ r: OptimizationRecord) {
        self.init(steps: r.steps, stopped: r.stopped, loss: r.losses.map { rounded(Double($0)) }, finalChecks: r.finalChecks,
                  noise: r.noiseIndex, gradient: r.gradient.rawValue, lossTerms: r.loss.rawValue,
                  learningRate: Double(r.learningRate))
    }
}

extension Verdict.Settings {
    public init(_ s: StrategySettings) {
        self.init(maxSteps: s.maxSteps, stopLoss: shortestDecimal(s.stopLoss), learningRate: shortestDecimal(s.learningRate),
                  rank: s.rank, alpha: shortestDecimal(s.alpha), samples: s.samples, sampleSteps: s.sampleSteps,
                  gradient: s.gradient.rawValue, restarts: s.restarts)
    }
}

extension Verdict.Sample {
    public init(_ s: SampleRecord) {
        self.init(noise: s.noiseIndex, loss: rounded(Double(s.loss)), passed: s.passed)
    }
}

extension JSONValue {
    /// The value with every fractional number rounded to `digits` decimals and every number
    /// that is not finite written as 0.
    func roundingNumbers(_ digits: Int) -> JSONValue {
        switch self {
        case .number(let x): return .number(x.isFinite ? rounded(x, digits) : 0)
        case .array(let a): return .array(a.map { $0.roundingNumbers(digits) })
        case .object(let kv): return .object(kv.map { ($0.0, $0.1.roundingNumbers(digits)) })
        default: return self
        }
    }
}

/// The shortest decimal that reads back as `x`: a setting as the job gave it (1.5e-3 is written
/// 0.0015, not the float's 0.001500000013038516).
@inlinable public func shortestDecimal(_ x: Float) -> Double {
    Double("\(x)") ?? Double(x)
}

/// Rounds for JSON so that verdicts are stable and readable (floats print with all digits otherwise).
@inlinable public func rounded(_ x: Double, _ digits: Int = 4) -> Double {
    let p = pow(10.0, Double(digits))
    return (x * p).rounded() / p
}
