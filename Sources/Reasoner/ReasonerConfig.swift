import Foundation

/// The Reasoner's size and input layout, stored as `config.json` beside `model.safetensors`.
///
/// Keys are snake_case. Everything that changes the parameter table or the meaning of the
/// inputs is here, so a checkpoint and its config always agree.
public struct ReasonerConfig: Codable, Sendable, Equatable {
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

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(width: try c.decode(Int.self, forKey: .width), depth: try c.decode(Int.self, forKey: .depth),
                  heads: try c.decode(Int.self, forKey: .heads), mlpRatio: try c.decode(Int.self, forKey: .mlpRatio),
                  timeEmbedding: try c.decode(Int.self, forKey: .timeEmbedding),
                  maxLayers: ReasonerConfig.slots(forCheckpoint: try c.decode(Int.self, forKey: .maxLayers)),
                  frames: try c.decode(Int.self, forKey: .frames),
                  maxPromptTokens: try c.decode(Int.self, forKey: .maxPromptTokens),
                  vocabulary: try c.decode(Int.self, forKey: .vocabulary),
                  trajectoryScale: try c.decode(Float.self, forKey: .trajectoryScale),
                  prediction: try c.decodeIfPresent(String.self, forKey: .prediction) ?? "v",
                  name: try c.decodeIfPresent(String.self, forKey: .name) ?? "tutor-reasoner")
        if let problem = validationProblem {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: problem))
        }
    }

    /// The slots a checkpoint trained with `trained` slots runs with: this build's, when it has
    /// at least as many (otherwise `trained`, which `validationProblem` refuses).
    static func slots(forCheckpoint trained: Int) -> Int {
        trained >= 1 && trained <= Trajectory.maxLayers ? Trajectory.maxLayers : trained
    }

    /// Why this configuration cannot be built, or nil.
    public var validationProblem: String? {
        if width <= 0 || depth <= 0 || heads <= 0 || mlpRatio <= 0 { return "width, depth, heads and mlp_ratio must be positive" }
        if width % heads != 0 { return "width \(width) is not divisible by heads \(heads)" }
        if timeEmbedding <= 0 || timeEmbedding % 2 != 0 { return "time_embedding must be a positive even number" }
        if maxLayers != Trajectory.maxLayers || frames != Trajectory.frames {
            return "this build renders up to \(Trajectory.maxLayers) layers over \(Trajectory.frames) frames; the config asks for \(maxLayers) and \(frames)"
        }
        if maxPromptTokens <= 0 || maxPromptTokens > PromptTokenizer.maxTokens {
            return "max_prompt_tokens must be 1...\(PromptTokenizer.maxTokens)"
        }
        if vocabulary != PromptTokenizer().size {
            return "vocabulary \(vocabulary) does not match this build's tokenizer (\(PromptTokenizer().size)); the checkpoint was made by another version"
        }
        if !(trajectoryScale > 0) { return "trajectory_scale must be positive" }
        if prediction != "x" && prediction != "v" { return "prediction must be \"x\" or \"v\", not \"\(prediction)\"" }
        return nil
    }
}
