import TaskFolder

/// Which sampling steps the teacher's gradient flows through during adaptation.
public enum GradientPath: String, Sendable, CaseIterable {
    /// The paper's default: the one-step prediction `z - v(z, 1)` is scored and differentiated.
    case oneStep = "one-step"
    /// Every step of the few-step sampler is differentiated, so the video scored is the final
    /// video's trajectory itself (the paper's "all steps" ablation).
    case allSteps = "all-steps"
}

/// Which of the teacher's questions the adaptation's loss includes (an ablation; the judge
/// always asks every question).
public enum LossTerms: String, Sendable, CaseIterable {
    case both
    case goalOnly = "goal-only"
    case processOnly = "process-only"
}

/// Everything a strategy run needs to know: `job.json`'s settings plus the runner's knobs.
public struct StrategySettings: Sendable {
    public var strategy: Strategy
    public var seed: UInt64
    /// Adaptation steps at most.
    public var maxSteps: Int
    /// The loss at or below which the final video is checked and, if it passes, adaptation stops.
    public var stopLoss: Float
    public var learningRate: Float
    public var rank: Int
    public var alpha: Float
    /// best-of-n: videos sampled; sample-then-adapt: videos sampled before adapting.
    public var samples: Int
    /// Euler steps of the sampler that makes every video judged and written.
    public var sampleSteps: Int
    public var gradient: GradientPath
    public var loss: LossTerms
    /// Clip the LoRA gradient to this global norm (nil: no clipping).
    public var maxGradNorm: Float?
    /// Adds to the adaptation's gradient a pull of the layers of `static` objects back to
    /// their place (the teacher's pixel score gives none once a layer has left its place).
    public var staticPrior: Bool = true
    /// sample-then-adapt: the step budget is split over the noises of this many of the best
    /// samples, adapted in turn until one passes (1: the best sample's noise only).
    public var restarts: Int

    /// The default path of the teacher's gradient (see docs/ADAPTATION.md for the measurements).
    public static let defaultGradient: GradientPath = .allSteps

    public init(job: JobSettings, gradient: GradientPath = StrategySettings.defaultGradient, loss: LossTerms = .both) {
        strategy = job.strategy
        seed = job.seed
        maxSteps = job.maxSteps
        stopLoss = Float(job.stopLoss)
        learningRate = Float(job.learningRate)
        rank = job.rank
        alpha = Float(job.alpha)
        samples = job.samples
        sampleSteps = job.sampleSteps
        restarts = job.restarts
        self.gradient = gradient
        self.loss = loss
        maxGradNorm = 1
    }

    /// Evaluations one sampled video costs.
    public var sampleCost: Int { sampleSteps }
    /// Steps the differentiable sample runs.
    public var gradientSteps: Int { gradient == .oneStep ? 1 : sampleSteps }
}
