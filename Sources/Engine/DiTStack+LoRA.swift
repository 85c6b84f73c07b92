import Basics

extension DiTStack {
    /// An attached LoRA adapter: its parameters, its shape, the store indices of its A and B for
    /// every adapted linear map, and whether its product is merged into the base weights. One
    /// value, so that these cannot disagree.
    struct Adapter {
        let store: ParameterStore
        let config: LoRAConfig
        /// `[block][LinearKind]`, with `loraA`/`loraB` set on the adapted maps.
        let slots: [[LinearSlot]]
        var fused = false

        /// The adapted map `kind` of block `l` with its A and B indices, or nil when not adapted.
        func slot(_ l: Int, _ kind: LinearKind) -> (slot: LinearSlot, a: Int, b: Int)? {
            let s = slots[l][kind.rawValue]
            guard let a = s.loraA, let b = s.loraB else { return nil }
            return (s, a, b)
        }
    }

    /// The attached adapter's parameters (nil when none is attached).
    public var lora: ParameterStore? { adapter?.store }
    /// The attached adapter's shape.
    public var loraConfig: LoRAConfig? { adapter?.config }
    /// True while the LoRA product is merged into the base weights.
    public var loraFused: Bool { adapter?.fused ?? false }

    /// Attaches a LoRA adapter to the configured targets of every block and returns its store
    /// (allocated; A uniform in ±1/sqrt(in) as PEFT does, B zero, so nothing changes yet).
    /// Replaces any adapter attached before.
    @discardableResult
    public func attachLoRA(_ config: LoRAConfig, seed: UInt64) -> ParameterStore {
        if loraFused { unfuseLoRA() }
        let s = ParameterStore()
        var slotsAll = linears
        for l in 0..<slotsAll.count {
            for (ki, kind) in LinearKind.allCases.enumerated() where config.targets.contains(kind) {
                let slot = slotsAll[l][ki]
                slotsAll[l][ki].loraA = s.add(slot.name + ".lora_A.weight", [config.rank, slot.inC])
                slotsAll[l][ki].loraB = s.add(slot.name + ".lora_B.weight", [slot.outC, config.rank])
            }
        }
        s.allocate()
        var rng = SplitMix64(seed: seed)
        for slots in slotsAll {
            for slot in slots {
                guard let a = slot.loraA else { continue }
                let p = s.value(a), bound = 1 / Float(slot.inC).squareRoot()
                for i in 0..<(config.rank * slot.inC) { p[i] = (2 * rng.uniform() - 1) * bound }
            }
        }
        adapter = Adapter(store: s, config: config, slots: slotsAll)
        return s
    }

    /// Removes the adapter (taking it out of the weights first if it was fused).
    public func detachLoRA() {
        if loraFused { unfuseLoRA() }
        adapter = nil
    }

    /// Merges `scale · B · A` into each adapted weight; forward then skips the low-rank path.
    public func fuseLoRA() {
        guard let ad = adapter, !ad.fused else { return }
        mergeLoRA(ad, sign: 1)
        adapter?.fused = true
    }

    /// Takes the merged product out of the weights again (exact up to float rounding).
    public func unfuseLoRA() {
        guard let ad = adapter, ad.fused else { return }
        mergeLoRA(ad, sign: -1)
        adapter?.fused = false
    }

    private func mergeLoRA(_ ad: Adapter, sign: Float) {
        for l in 0..<config.blocks {
            for kind in LinearKind.allCases {
                guard let (s, a, b) = ad.slot(l, kind) else { continue }
                LoRA.merge(weight: store.value(s.weight), a: ad.store.value(a), b: ad.store.value(b),
                           scale: ad.config.scale, sign: sign, inC: s.inC, outC: s.outC, rank: ad.config.rank)
            }
        }
    }
}
