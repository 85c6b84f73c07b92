/// The shape of a DiT stack.
public struct DiTConfig: Codable, Sendable, Equatable {
    /// Number of transformer blocks.
    public var blocks: Int
    /// Token width C.
    public var width: Int
    /// Attention heads; width must be divisible by it.
    public var heads: Int
    /// MLP hidden width H (DiT: 4 C).
    public var hidden: Int
    /// Width CC of the conditioning vector.
    public var condWidth: Int
    /// Layer norm epsilon.
    public var eps: Float

    public init(blocks: Int, width: Int, heads: Int, hidden: Int? = nil, condWidth: Int, eps: Float = 1e-6) {
        self.blocks = blocks
        self.width = width
        self.heads = heads
        self.hidden = hidden ?? 4 * width
        self.condWidth = condWidth
        self.eps = eps
    }

    enum CodingKeys: String, CodingKey {
        case blocks, width, heads, hidden, eps
        case condWidth = "cond_width"
    }
}

/// A LoRA adapter's shape: rank R, alpha (the low-rank path is scaled by alpha / R) and which
/// linear maps of each block it adapts.
public struct LoRAConfig: Sendable, Equatable {
    public var rank: Int
    public var alpha: Float
    public var targets: [DiTStack.LinearKind]

    /// The attention projections and the MLP (q, k, v, o, fc1, fc2).
    public static let defaultTargets: [DiTStack.LinearKind] = [.q, .k, .v, .o, .fc1, .fc2]

    public init(rank: Int, alpha: Float, targets: [DiTStack.LinearKind] = LoRAConfig.defaultTargets) {
        precondition(rank >= 1, "LoRAConfig: rank must be at least 1")
        self.rank = rank
        self.alpha = alpha
        self.targets = targets
    }

    public var scale: Float { alpha / Float(rank) }

    /// PEFT's `target_modules` for this adapter (module paths inside a block, e.g. "attn.q").
    public var targetModules: [String] { targets.map(\.path) }
}

/// Seconds spent per kind of op, summed over calls (the benchmark's breakdown).
public final class OpProfile {
    public enum Op: String, CaseIterable, Sendable {
        case linear, lora, attention, layerNorm = "layernorm", modulation, gelu, silu, zero
    }
    public private(set) var seconds: [Op: Double] = [:]
    public init() {}
    public func add(_ op: Op, _ s: Double) { seconds[op, default: 0] += s }
    public func reset() { seconds = [:] }
    public var total: Double { seconds.values.reduce(0, +) }
}
