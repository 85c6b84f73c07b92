import Engine
import ModelFiles

/// A LoRA adapter attached to a Reasoner's transformer blocks: its parameters and gradients, for
/// the engine's optimisers, and its files in PEFT's layout.
///
/// Module names are the parameter table's (`blocks.0.attn.q`, `blocks.0.mlp.fc1`, ...); the
/// tensors are `<module>.lora_A.weight` `[r, in]` and `<module>.lora_B.weight` `[out, r]`, saved
/// as `base_model.model.<module>.lora_A.weight` and so on.
public final class ReasonerLoRA {
    public let config: Engine.LoRAConfig
    /// The adapter's tensors, with gradients once backward has run (owned by the model's stack).
    public let store: ParameterStore

    init(config: Engine.LoRAConfig, store: ParameterStore) {
        self.config = config
        self.store = store
        store.allocateGradients()
    }

    /// Every adapter tensor, for `AdamW(lora.parameters, ...)`.
    public var parameters: ParameterSubset { ParameterSubset(all: store) }

    public func zeroGradients() { store.zeroGradients() }

    /// Number of adapter parameters.
    public var parameterCount: Int { store.count }

    /// The adapter in PEFT's form.
    public func peft(baseModel: String?) -> PEFTAdapter {
        var layers: [PEFTAdapter.Layer] = []
        for e in store.entries where e.name.hasSuffix(".lora_A.weight") {
            let module = String(e.name.dropLast(".lora_A.weight".count))
            let bName = module + ".lora_B.weight"
            guard let b = store.entry(bName) else { continue }
            layers.append(PEFTAdapter.Layer(module: module, rank: e.shape[0], inFeatures: e.shape[1],
                                            outFeatures: b.shape[0], a: store.array(e.name), b: store.array(bName)))
        }
        let cfg = ModelFiles.LoRAConfig(r: config.rank, loraAlpha: Double(config.alpha), targetModules: config.targetModules,
                                        baseModelNameOrPath: baseModel)
        return PEFTAdapter(config: cfg, layers: layers)
    }

    /// Writes `adapter_model.safetensors` and `adapter_config.json` into `folder`.
    public func save(to folder: String, baseModel: String? = "tutor-reasoner") throws {
        try peft(baseModel: baseModel).save(to: folder)
    }
}

extension Reasoner {
    /// Attaches a fresh adapter (A small random, B zero: the model is unchanged until trained) to
    /// `targets` of every block, replacing any attached before.
    @discardableResult
    public func attachLoRA(rank: Int = 16, alpha: Float = 16,
                           targets: [DiTStack.LinearKind] = Engine.LoRAConfig.defaultTargets, seed: UInt64) -> ReasonerLoRA {
        let cfg = Engine.LoRAConfig(rank: rank, alpha: alpha, targets: targets)
        return ReasonerLoRA(config: cfg, store: stack.attachLoRA(cfg, seed: seed))
    }

    /// Loads a PEFT adapter folder written by `ReasonerLoRA.save` (or by PEFT for this model) and
    /// attaches it.
    @discardableResult
    public func loadLoRA(from folder: String) throws -> ReasonerLoRA {
        let adapter = try PEFTAdapter.load(from: folder)
        var kinds: [DiTStack.LinearKind] = []
        for m in adapter.config.targetModules {
            guard let k = DiTStack.LinearKind.allCases.first(where: { $0.path == m }) else {
                throw ReasonerError.adapterMismatch("target module \"\(m)\" is not one of \(DiTStack.LinearKind.allCases.map(\.path))")
            }
            kinds.append(k)
        }
        let lora = attachLoRA(rank: adapter.config.r, alpha: Float(adapter.config.loraAlpha), targets: kinds, seed: 0)
        var seen = 0
        for l in adapter.layers {
            let aName = l.module + ".lora_A.weight", bName = l.module + ".lora_B.weight"
            guard let ea = lora.store.entry(aName), let eb = lora.store.entry(bName) else {
                detachLoRA()
                throw ReasonerError.adapterMismatch("module \"\(l.module)\" is not an adapted module of this model")
            }
            guard ea.shape == [l.rank, l.inFeatures], eb.shape == [l.outFeatures, l.rank] else {
                detachLoRA()
                throw ReasonerError.adapterMismatch("module \"\(l.module)\" is [\(l.outFeatures), \(l.inFeatures)] in the adapter but \(eb.shape[0]) x \(ea.shape[1]) in the model")
            }
            try lora.store.set(aName, l.a)
            try lora.store.set(bName, l.b)
            seen += 2
        }
        if seen != lora.store.entries.count {
            detachLoRA()
            throw ReasonerError.adapterMismatch("the adapter has \(seen) of the \(lora.store.entries.count) tensors its target modules need")
        }
        return lora
    }

    public func detachLoRA() { stack.detachLoRA() }
    /// Merges the attached adapter into the base weights (faster sampling; undo with `unfuseLoRA`).
    public func fuseLoRA() { stack.fuseLoRA() }
    public func unfuseLoRA() { stack.unfuseLoRA() }
}
