/// A subset of a store's tensors for an optimiser to update (LoRA only, everything, ...).
public struct ParameterSubset {
    public let store: ParameterStore
    /// Contiguous float ranges of the store, merged from the chosen tensors.
    public let ranges: [Range<Int>]

    /// Every tensor of the store.
    public init(all store: ParameterStore) {
        self.store = store
        ranges = store.count > 0 ? [0..<store.count] : []
    }

    /// The tensors whose names satisfy `include`.
    public init(_ store: ParameterStore, where include: (ParameterStore.Entry) -> Bool) {
        self.store = store
        var r: [Range<Int>] = []
        for e in store.entries where include(e) {
            let next = e.offset..<(e.offset + e.count)
            if let last = r.last, last.upperBound == next.lowerBound {
                r[r.count - 1] = last.lowerBound..<next.upperBound
            } else {
                r.append(next)
            }
        }
        ranges = r
    }

    public var count: Int { ranges.reduce(0) { $0 + $1.count } }
}

/// L2 norm of the gradients of `subset` (Double accumulation, index order).
public func gradientNorm(_ subset: ParameterSubset) -> Float {
    guard let g = subset.store.grads else { return 0 }
    var s = 0.0
    for r in subset.ranges { for i in r { s += Double(g[i]) * Double(g[i]) } }
    return Float(s.squareRoot())
}

/// The factor that brings the global gradient norm down to `maxNorm` (1 when it is already below).
func clipFactor(_ subset: ParameterSubset, maxNorm: Float?) -> (norm: Float, factor: Float) {
    let norm = gradientNorm(subset)
    guard let maxNorm, norm > maxNorm, norm > 0 else { return (norm, 1) }
    return (norm, maxNorm / norm)
}

/// AdamW (Loshchilov and Hutter) with bias correction and decoupled weight decay, with optional
/// clipping by global gradient norm. Updates only the tensors of its subset.
public final class AdamW {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    public var weightDecay: Float
    public var maxGradNorm: Float?
    public let subset: ParameterSubset
    /// Updates made so far (the bias correction's t); set it when restoring saved moments.
    public var step = 0

    public init(_ subset: ParameterSubset, learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 0, maxGradNorm: Float? = nil) {
        self.subset = subset
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay; self.maxGradNorm = maxGradNorm
        subset.store.allocateGradients()
        subset.store.allocateMoments()
    }

    /// One update from the current gradients; returns the gradient norm before clipping.
    @discardableResult
    public func update() -> Float {
        let store = subset.store
        guard let p = store.values, let g = store.grads, let m = store.m, let v = store.v else {
            preconditionFailure("AdamW.update: the store has no values, gradients or moments")
        }
        let (norm, clip) = clipFactor(subset, maxNorm: maxGradNorm)
        step += 1
        let bc1 = 1 - Float(_exp(Double(step) * _log(Double(beta1))))
        let bc2 = 1 - Float(_exp(Double(step) * _log(Double(beta2))))
        let lr = learningRate, b1 = beta1, b2 = beta2, e = eps, wd = weightDecay
        for r in subset.ranges {
            parallelFor(r.count, grain: 8192) { sub in
                for j in sub {
                    let i = r.lowerBound + j
                    let grad = g[i] * clip
                    m[i] = b1 * m[i] + (1 - b1) * grad
                    v[i] = b2 * v[i] + (1 - b2) * grad * grad
                    let mh = m[i] / bc1, vh = v[i] / bc2
                    p[i] -= lr * (mh / (vh.squareRoot() + e) + wd * p[i])
                }
            }
        }
        return norm
    }
}

/// Plain SGD, with optional clipping by global gradient norm, over a subset.
public final class SGD {
    public var learningRate: Float
    public var maxGradNorm: Float?
    public let subset: ParameterSubset

    public init(_ subset: ParameterSubset, learningRate: Float, maxGradNorm: Float? = nil) {
        self.subset = subset
        self.learningRate = learningRate
        self.maxGradNorm = maxGradNorm
        subset.store.allocateGradients()
    }

    /// One update `p -= lr · clip · g`; returns the gradient norm before clipping.
    @discardableResult
    public func update() -> Float {
        guard let p = subset.store.values, let g = subset.store.grads else {
            preconditionFailure("SGD.update: the store has no values or gradients")
        }
        let (norm, clip) = clipFactor(subset, maxNorm: maxGradNorm)
        let k = learningRate * clip
        for r in subset.ranges { for i in r { p[i] -= k * g[i] } }
        return norm
    }
}
