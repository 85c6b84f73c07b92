import Foundation

/// The Reasoner's size and input layout, stored as `config.json` beside `model.safetensors`.
///
/// Keys are snake_case. Everything that changes the parameter table or the meaning of the
/// inputs is here, so a checkpoint and its config always agree. Read by `parse(_:)`, which
/// checks every value against `Limits`.
public struct ReasonerConfig: Encodable, Sendable, Equatable {
    /// Token width C.
    public var width: Int
    /// Transformer blocks.
    public var depth: Int
    /// Attention heads; `width` must be divisible by it.
    public var heads: Int
    /// MLP hidden width = `mlpRatio * width`.
    public var mlpRatio: Int
    /// Width of the sinusoidal time embedding before its MLP.
    public var timeEmbedding: Int
    /// Layer slots K (tokens for layers; the trajectory is `[K, frames, 2]`): always this build's
    /// `Trajectory.maxLayers`. No parameter depends on K (layer tokens carry no slot position,
    /// and empty slots are masked out of attention), so a checkpoint trained with fewer slots
    /// runs unchanged with more: its `max_layers` is read, checked and raised to this build's.
    public var maxLayers: Int
    public var frames: Int
    /// Prompt tokens kept.
    public var maxPromptTokens: Int
    /// Prompt vocabulary size (fixed words plus hash buckets), `PromptTokenizer().size`.
    public var vocabulary: Int
    /// Trajectories are divided by this many pixels for the model (offsets of up to about a
    /// frame's width become values of order 1, like the noise).
    public var trajectoryScale: Float
    /// What the output head predicts: "x", the clean trajectory x1 (the velocity is then
    /// `(x_t - x1) / t`), or "v", the velocity `z - x1` itself. With "x" a static layer is a
    /// constant zero output and the last Euler step lands exactly on the prediction.
    public var prediction: String
    /// A free-form name written into verdicts.
    public var name: String

    enum CodingKeys: String, CodingKey {
        case width, depth, heads, frames, vocabulary, name, prediction
        case mlpRatio = "mlp_ratio"
        case timeEmbedding = "time_embedding"
        case maxLayers = "max_layers"
        case maxPromptTokens = "max_prompt_tokens"
        case trajectoryScale = "trajectory_scale"
    }

    /// Tokens per sequence: patches, layer slots, prompt.
    public var tokens: Int { Scene.patches + maxLayers + maxPromptTokens }
    /// Floats in one trajectory, `[maxLayers, frames, 2]`.
    public var trajectoryCount: Int { maxLayers * frames * 2 }

    public init(width: Int, depth: Int, heads: Int, mlpRatio: Int = 4, timeEmbedding: Int = 128,
                maxLayers: Int = Trajectory.maxLayers, frames: Int = Trajectory.frames,
                maxPromptTokens: Int = PromptTokenizer.maxTokens, vocabulary: Int = PromptTokenizer().size,
                trajectoryScale: Float = 16, prediction: String = "x", name: String = "tutor-reasoner") {
        self.width = width; self.depth = depth; self.heads = heads; self.mlpRatio = mlpRatio
        self.timeEmbedding = timeEmbedding; self.maxLayers = maxLayers; self.frames = frames
        self.maxPromptTokens = maxPromptTokens; self.vocabulary = vocabulary
        self.trajectoryScale = trajectoryScale; self.prediction = prediction; self.name = name
    }

    /// True when the head predicts the clean trajectory rather than the velocity.
    public var predictsClean: Bool { prediction == "x" }

    /// The default size of the shipped model.
    public static let standard = ReasonerConfig(width: 128, depth: 4, heads: 4, mlpRatio: 4)
    /// A very small model for tests: random weights are fine, it only has to run quickly.
    public static let tiny = ReasonerConfig(width: 32, depth: 1, heads: 2, mlpRatio: 2, timeEmbedding: 16, name: "tutor-reasoner-tiny")

    /// The slots a checkpoint trained with `trained` slots runs with: this build's, when it has
    /// at least as many (otherwise `trained`, which `validationProblem` refuses).
    static func slots(forCheckpoint trained: Int) -> Int {
        trained >= 1 && trained <= Trajectory.maxLayers ? Trajectory.maxLayers : trained
    }

    /// The ranges a config must keep to, checked before anything is allocated, so that a damaged
    /// or hostile `config.json` ends as a clear error instead of a huge allocation or an
    /// arithmetic trap. Generous but bounded: the shipped model is width 128, depth 4, 4 heads,
    /// MLP ratio 4, time embedding 128 (1.3 million parameters); the largest model tutor loads has
    /// at most `maxParameters` (2^28, about 268 million: 1 GiB of F32 weights, some 200 times the
    /// shipped model), for example width 1024, depth 12, 16 heads, MLP ratio 4.
    public enum Limits {
        public static let width = 8...1024
        public static let depth = 1...32
        public static let heads = 1...32
        public static let mlpRatio = 1...8
        public static let timeEmbedding = 2...2048
        public static let trajectoryScale: ClosedRange<Float> = 0.001...1024
        public static let nameLength = 1...200
        public static let maxParameters = 1 << 28
    }

    /// Why this configuration cannot be built, or nil. Each field is checked against its range
    /// before any size is computed from it.
    public var validationProblem: String? {
        func outside(_ key: String, _ v: Int, _ r: ClosedRange<Int>) -> String? {
            r.contains(v) ? nil : "\(key) is \(v); it must be \(r.lowerBound) to \(r.upperBound)"
        }
        if let p = outside("width", width, Limits.width) ?? outside("depth", depth, Limits.depth)
            ?? outside("heads", heads, Limits.heads) ?? outside("mlp_ratio", mlpRatio, Limits.mlpRatio)
            ?? outside("time_embedding", timeEmbedding, Limits.timeEmbedding) { return p }
        if width % heads != 0 { return "width \(width) is not divisible by heads \(heads)" }
        if timeEmbedding % 2 != 0 { return "time_embedding \(timeEmbedding) must be even (sines and cosines in pairs)" }
        if maxLayers != Trajectory.maxLayers || frames != Trajectory.frames {
            return "this build renders up to \(Trajectory.maxLayers) layers over \(Trajectory.frames) frames; the config asks for \(maxLayers) and \(frames)"
        }
        if maxPromptTokens <= 0 || maxPromptTokens > PromptTokenizer.maxTokens {
            return "max_prompt_tokens is \(maxPromptTokens); it must be 1 to \(PromptTokenizer.maxTokens)"
        }
        if vocabulary != PromptTokenizer().size {
            return "vocabulary \(vocabulary) does not match this build's tokenizer (\(PromptTokenizer().size)); the checkpoint was made by another version"
        }
        if !Limits.trajectoryScale.contains(trajectoryScale) {
            return "trajectory_scale is \(trajectoryScale); it must be \(Limits.trajectoryScale.lowerBound) to \(Limits.trajectoryScale.upperBound)"
        }
        if prediction != "x" && prediction != "v" { return "prediction must be \"x\" or \"v\", not \"\(prediction)\"" }
        if !Limits.nameLength.contains(name.count) {
            return "name must be 1 to \(Limits.nameLength.upperBound) characters, not \(name.count)"
        }
        guard let n = parameterCount else { return "the model is too large to count its parameters" }
        if n > Limits.maxParameters {
            return "the model would have \(n) parameters, over the limit of \(Limits.maxParameters) (1 GiB of weights)"
        }
        return nil
    }

    /// The number of parameters `Reasoner(config:)` declares, computed with overflow checks
    /// (nil on overflow), so a config can be judged before anything is allocated. A test checks
    /// it against the parameter table of real models.
    public var parameterCount: Int? {
        func mul(_ xs: Int...) -> Int? {
            var p = 1
            for x in xs {
                let (m, o) = p.multipliedReportingOverflow(by: x)
                if o { return nil }
                p = m
            }
            return p
        }
        func sum(_ xs: Int?...) -> Int? {
            var s = 0
            for x in xs {
                guard let x else { return nil }
                let (m, o) = s.addingReportingOverflow(x)
                if o { return nil }
                s = m
            }
            return s
        }
        let C = width, H = mlpRatio.multipliedReportingOverflow(by: width), out = frames * 2
        if H.overflow { return nil }
        // One block: q, k, v and o (C x C and C each), fc1 (C -> H), fc2 (H -> C), adaLN (C -> 6C).
        let block = sum(mul(4, C, C), mul(4, C), mul(2, C, H.partialValue), H.partialValue, C, mul(6, C, C), mul(6, C))
        let stack = block.flatMap { mul(depth, $0) }
        return sum(mul(C, Scene.patchFeatures), C, mul(Scene.patches, C),
                   mul(C, Scene.layerFeatures + out), C, mul(vocabulary, C), mul(maxPromptTokens, C),
                   mul(C, timeEmbedding), C, mul(C, C), C,
                   stack, C, C, mul(out, C), out)
    }
}
