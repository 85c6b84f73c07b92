import Basics

/// `verdict.json`: written last into a task folder, atomically; its presence means "finished"
/// (docs/VERDICT.md, and its JSON Schema, docs/verdict.schema.json).
///
/// `tutor run` writes one for every task it runs; the spool daemon writes an `error` verdict
/// for a task whose worker could not leave one. Both build this type, so the two kinds have
/// the same keys and the error codes come from one list (`ErrorCode`). It holds no tensor:
/// answers, evidence and figures only.
public struct Verdict: Sendable, Equatable {
    /// The format's version, `version` in the file.
    public static let formatVersion = 1

    public enum Status: String, Sendable, CaseIterable {
        /// The goal and every process question are satisfied.
        case passed
        /// The video was made but some answer is no.
        case failed
        /// The task could not be run; `error` says why.
        case error
    }

    /// The answer to one question of the rule file, judged on the frames as written.
    public struct Answer: Sendable, Equatable {
        public var question: String
        /// The check's type (`reach`, `avoid`, ...).
        public var type: String
        public var satisfied: Bool
        /// The teacher's soft probability of "yes", in [0, 1].
        public var pYes: Double
        /// What the judge measured; its keys depend on the check type.
        public var evidence: JSONValue

        public init(question: String, type: String, satisfied: Bool, pYes: Double, evidence: JSONValue) {
            self.question = question; self.type = type; self.satisfied = satisfied; self.pYes = pYes; self.evidence = evidence
        }
    }

    /// One video's answers: `base`, the unadapted model's video from the same noise.
    public struct Answers: Sendable, Equatable {
        public var passed: Bool
        public var goal: Answer
        public var process: [Answer]

        public init(passed: Bool, goal: Answer, process: [Answer]) {
            self.passed = passed; self.goal = goal; self.process = process
        }
    }

    /// The test-time adaptation, when one ran.
    public struct Optimization: Sendable, Equatable {
        /// Optimiser updates made.
        public var steps: Int
        /// `early` (the final video passed) or `budget` (`max_steps` reached).
        public var stopped: String
        /// The teacher's loss at each step.
        public var loss: [Double]
        /// Videos judged at full quality to decide whether to stop.
        public var finalChecks: Int
        /// The noise adapted from (an index into the strategy's noises).
        public var noise: Int
        public var gradient: String
        public var lossTerms: String
        public var learningRate: Double

        public init(steps: Int, stopped: String, loss: [Double], finalChecks: Int, noise: Int, gradient: String,
                    lossTerms: String, learningRate: Double) {
            self.steps = steps; self.stopped = stopped; self.loss = loss; self.finalChecks = finalChecks
            self.noise = noise; self.gradient = gradient; self.lossTerms = lossTerms; self.learningRate = learningRate
        }
    }

    /// What the run cost. `seconds` and `peak_rss_bytes` are the only figures that differ
    /// between two runs of the same task and seed.
    public struct Cost: Sendable, Equatable {
        /// One per forward pass of the model, two per backward pass.
        public var modelEvaluations: Int
        public var seconds: Double
        public var peakRSSBytes: Int

        public init(modelEvaluations: Int, seconds: Double, peakRSSBytes: Int) {
            self.modelEvaluations = modelEvaluations; self.seconds = seconds; self.peakRSSBytes = peakRSSBytes
        }
    }

    /// The files written, relative to the task folder.
    public struct Outputs: Sendable, Equatable {
        public var frames: [String]
        public var contactSheet: String
        /// The adapter's weights, when adaptation ran.
        public var adapter: String?

        public init(frames: [String], contactSheet: String, adapter: String?) {
            self.frames = frames; self.contactSheet = contactSheet; self.adapter = adapter
        }
    }

    /// The model that made the video.
    public struct Model: Sendable, Equatable {
        public var name: String
        /// Of `model.safetensors`, hex.
        public var sha256: String
        public var parameters: Int

        public init(name: String, sha256: String, parameters: Int) {
            self.name = name; self.sha256 = sha256; self.parameters = parameters
        }
    }

    /// Why the task could not be run, and what to do about it.
    public struct Failure: Sendable, Equatable {
        public var code: ErrorCode
        /// Names the file or cause and says what to fix.
        public var message: String

        public init(code: ErrorCode, message: String) { self.code = code; self.message = message }
    }

    /// One base video sampled by `best-of-n` or `sample-then-adapt`.
    public struct Sample: Sendable, Equatable {
        public var noise: Int
        public var loss: Double
        public var passed: Bool

        public init(noise: Int, loss: Double, passed: Bool) { self.noise = noise; self.loss = loss; self.passed = passed }
    }

    /// The strategy's settings as run: `job.json`'s values with the defaults filled in.
    public struct Settings: Sendable, Equatable {
        public var maxSteps: Int
        public var stopLoss: Double
        public var learningRate: Double
        public var rank: Int
        public var alpha: Double
        public var samples: Int
        public var sampleSteps: Int
        public var gradient: String
        public var restarts: Int

        public init(maxSteps: Int, stopLoss: Double, learningRate: Double, rank: Int, alpha: Double, samples: Int,
                    sampleSteps: Int, gradient: String, restarts: Int) {
            self.maxSteps = maxSteps; self.stopLoss = stopLoss; self.learningRate = learningRate; self.rank = rank
            self.alpha = alpha; self.samples = samples; self.sampleSteps = sampleSteps; self.gradient = gradient
            self.restarts = restarts
        }
    }

    // The keys every verdict has (docs/VERDICT.md); nil is written as null.
    public var task: String
    public var status: Status
    /// The strategy run; nil in the daemon's verdicts (it never read job.json).
    public var strategy: String?
    public var seed: UInt64?
    public var goal: Answer?
    public var process: [Answer] = []
    public var optimization: Optimization?
    public var cost: Cost?
    /// nil is written as `{}`: no file was written.
    public var outputs: Outputs?
    public var model: Model?
    public var error: Failure?

    // Written only when set.
    /// The teacher's loss on the frames as written.
    public var loss: Double?
    /// The unadapted model's answers on the same noise.
    public var base: Answers?
    public var samples: [Sample]?
    public var settings: Settings?
    /// The size the teacher judged at and the written frames' size, width and height.
    public var workingSize: [Int]?
    public var frameSize: [Int]?
    /// Who wrote an error verdict other than `tutor run` (`tutor daemon`).
    public var writtenBy: String?
    /// Attempts made, in the daemon's verdicts for a task it gave up on.
    public var attempts: Int?

    public var passed: Bool { status == .passed }

    public init(task: String, status: Status, strategy: String?, seed: UInt64?) {
        self.task = task; self.status = status; self.strategy = strategy; self.seed = seed
    }

    /// An error verdict: the task could not be run; `message` tells the user what to fix.
    public static func failure(task: String, strategy: String?, seed: UInt64?, code: ErrorCode, message: String) -> Verdict {
        var v = Verdict(task: task, status: .error, strategy: strategy, seed: seed)
        v.error = Failure(code: code, message: message)
        return v
    }
}
