/// The differentiable side of the checks: each check's margin `z` in logit units, with
/// `p_yes = sigmoid(z)`; `z > 0` exactly where the soft statistics pass the check's
/// threshold, so p_yes agrees with the judge wherever soft and hard masks agree.
///
/// Every check reads soft masks only (membership, area, centroid, spread, overlap with a
/// fixed region). A check over frames takes a soft minimum of the per-frame margins,
/// `-tau log sum_t exp(-z_t / tau)`, which never exceeds the worst frame's margin.
///
/// Where the hard definition counts something no smooth function can (blobs), the margin
/// uses a smooth stand-in that agrees in the cases that matter:
/// - `intact`: one blob becomes "the spread (mean squared distance from the centroid) has
///   not grown past twice the first frame's": pieces that split apart spread out.
/// - `count`: n blobs becomes "the soft area is n times the first frame's mean blob area";
///   blobs that merge or split without changing area are seen by the judge only.
/// - `align`: each blob on a different target blob becomes the overlap fraction of the
///   whole object, exact for an object of one blob.
/// - `reach` and `align` subtract the mean geodesic distance of the object's mass to the
///   target through free space (0 once the object's centre is on the target), so the loss
///   falls as the object travels along a corridor toward the target, where overlap alone is
///   flat (docs/DESIGN.md, decision 5).
/// - `path` takes hard maxima and minima over frames (differentiable almost everywhere).

/// Soft masks of one video and the buffer their gradients go into.
struct SoftContext {
    /// `[subjects, frames, h * w]`
    let masks: UnsafePointer<Float>
    /// `[subjects, frames, h * w]`, dL/dmask, accumulated; nil when no gradient is wanted.
    let gmasks: UnsafeMutablePointer<Float>?
    let frames: Int
    let width: Int
    let height: Int
    let xs: [Float]
    let ys: [Float]
    /// `[subjects * frames]`: the rows holding every pixel whose membership is not 0, as a
    /// range of pixel indices. Outside it both the mask and its derivative are exactly 0, so
    /// sums and gradients may skip it.
    let activeRows: [Range<Int>]
    var n: Int { width * height }

    func active(_ s: Int, _ t: Int) -> Range<Int> { activeRows[s * frames + t] }

    func mask(_ s: Int, _ t: Int) -> UnsafePointer<Float> { masks + (s * frames + t) * n }
    func grad(_ s: Int, _ t: Int) -> UnsafeMutablePointer<Float>? { gmasks.map { $0 + (s * frames + t) * n } }
}

/// Scales from margins to logits: one logit per this much margin.
enum Scale {
    static let overlap: Float = 0.05     // fraction of the object's area
    static let avoid: Float = 0.005      // fraction of the object's area
    static let area: Float = 0.05        // area ratio
    static let spread: Float = 0.25      // spread ratio
    static let count: Float = 0.1        // blobs
    static let changed: Float = 0.02     // fraction of first-frame pixels
    static let orderGap: Float = 1.5     // pixels
    static let presence: Float = 1       // pixels of area
    static let pathDistance: Float = 1   // pixels
    static let step: Float = 0.01        // frame widths
    /// Soft minimum temperature, logits.
    static let tau: Float = 0.5
    /// The reach and align margin subtracts this times the mean geodesic distance (frame widths).
    static let geodesicWeight: Float = 1
    /// A frame's spread may grow to this multiple of the first frame's before `intact` fails.
    static let maxSpreadRatio: Float = 2
}

/// `-tau log sum exp(-z / tau)` and its weights `d value / d z_k` (which sum to 1).
func softmin(_ z: [Float], tau: Float = Scale.tau) -> (value: Float, weights: [Float]) {
    let m = z.min()!
    var e = z.map { expf(-($0 - m) / tau) }
    let sum = e.reduce(0, +)
    for k in e.indices { e[k] /= sum }
    return (m - tau * logf(sum), e)
}

extension Teacher {
    /// The boundary between "few enough" and "too many" pixels for a fraction threshold
    /// over `total` pixels: halfway between the largest allowed count and the next.
    static func discreteBound(_ maxFraction: Float, total: Int) -> Float {
        let t = Float(max(total, 1))
        return ((maxFraction * t + 1e-4).rounded(.down) + 0.5) / t
    }

    /// The boundary for "at least `minFraction` of `total` pixels": halfway between the
    /// smallest allowed count and the one below it.
    static func discreteLowerBound(_ minFraction: Float, total: Int) -> Float {
        let t = Float(max(total, 1))
        return ((minFraction * t - 1e-4).rounded(.up) - 0.5) / t
    }

    /// The check's margin in logits; when the context carries a gradient buffer, adds
    /// `coefficient * dL_q/dz * dz/dmask` into it.
    func softMargin(_ check: CompiledCheck, _ c: SoftContext, coefficient: Float) -> Float {
        let F = c.frames, N = c.n
        let wantGrad = c.gmasks != nil && coefficient != 0
        // dL/dz for L = coefficient * softplus(-z)
        func dLdz(_ z: Float) -> Float { coefficient * (sigmoid(z) - 1) }

        switch check {
        case let .overlap(s, r, minf, _, geo):
            // z = softmin(overlap margin, presence margin): the judge needs the object present.
            let t = F - 1, m = c.mask(s, t), R = regions[r]
            let bound = Teacher.discreteLowerBound(minf, total: subjects[s].hardArea)
            var S: Float = 0, I: Float = 0, G: Float = 0
            for i in c.active(s, t) { S += m[i]; I += m[i] * R[i]; G += m[i] * geo[i] }
            let Se = S + 1e-3
            let f = I / Se, g = G / Se
            let zf = (f - bound - Scale.geodesicWeight * g) / Scale.overlap
            let zp = (S - Float(speckArea)) / Scale.presence
            let (z, w) = softmin([zf, zp])
            if wantGrad, let gm = c.grad(s, t) {
                let dz = dLdz(z)
                let k = dz * w[0] / Scale.overlap / Se, kp = dz * w[1] / Scale.presence
                for i in c.active(s, t) { gm[i] += k * ((R[i] - f) - Scale.geodesicWeight * (geo[i] - g)) + kp }
            }
            return z

        case let .avoid(s, r, maxf):
            let O = regions[r]
            let bound = Teacher.discreteBound(maxf, total: subjects[s].hardArea)
            var zs = [Float](repeating: 0, count: F), fs = zs, ses = zs
            for t in 0..<F {
                let m = c.mask(s, t)
                var S: Float = 0, I: Float = 0
                for i in c.active(s, t) { S += m[i]; I += m[i] * O[i] }
                ses[t] = S + 1; fs[t] = I / ses[t]
                zs[t] = (bound - fs[t]) / Scale.avoid
            }
            let (z, w) = softmin(zs)
            if wantGrad {
                let dz = dLdz(z)
                for t in 0..<F {
                    let gm = c.grad(s, t)!
                    let k = -dz * w[t] / Scale.avoid / ses[t]
                    for i in c.active(s, t) { gm[i] += k * (O[i] - fs[t]) }
                }
            }
            return z

        case let .intact(s, tol):
            let A0 = max(subjects[s].softArea, 1), V0 = subjects[s].spread
            var zs = [Float](repeating: 0, count: F)
            var inner: [[Float]] = [], stats: [(S: Float, a: Float, sab: Float, cx: Float, cy: Float, v: Float)] = []
            for t in 0..<F {
                let m = c.mask(s, t)
                var S: Float = 0, Px: Float = 0, Py: Float = 0, Q: Float = 0
                for i in c.active(s, t) {
                    let x = c.xs[i], y = c.ys[i]
                    S += m[i]; Px += m[i] * x; Py += m[i] * y; Q += m[i] * (x * x + y * y)
                }
                let Se = S + 1e-3
                let a = S / A0, sab = ((a - 1) * (a - 1) + 1e-4).squareRoot()
                let cx = Px / Se, cy = Py / Se
                let v = Q / Se - cx * cx - cy * cy
                let z1 = (tol - sab) / Scale.area
                let z2 = (Scale.maxSpreadRatio - v / V0) / Scale.spread
                let (zt, w12) = softmin([z1, z2])
                zs[t] = zt; inner.append(w12); stats.append((Se, a, sab, cx, cy, v))
            }
            let (z, w) = softmin(zs)
            if wantGrad {
                let dz = dLdz(z)
                for t in 0..<F {
                    let gm = c.grad(s, t)!
                    let st = stats[t]
                    let k1 = dz * w[t] * inner[t][0] * (-1 / Scale.area) * ((st.a - 1) / st.sab) / A0
                    let k2 = dz * w[t] * inner[t][1] * (-1 / Scale.spread) / (st.S * V0)
                    for i in c.active(s, t) {
                        let dx = c.xs[i] - st.cx, dy = c.ys[i] - st.cy
                        gm[i] += k1 + k2 * (dx * dx + dy * dy - st.v)
                    }
                }
            }
            return z

        case let .count(s, n, atEnd):
            let sub = subjects[s]
            let blobs0 = sub.blobCount > 0 ? sub.blobCount : max(n, 1)
            let unit = max(sub.softArea, 1) / Float(blobs0)
            let ts = atEnd ? [F - 1] : Array(0..<F)
            var zs: [Float] = [], cs: [Float] = [], sabs: [Float] = []
            for t in ts {
                let m = c.mask(s, t)
                var S: Float = 0
                for i in c.active(s, t) { S += m[i] }
                let est = S / unit, sab = ((est - Float(n)) * (est - Float(n)) + 1e-4).squareRoot()
                zs.append((0.5 - sab) / Scale.count); cs.append(est); sabs.append(sab)
            }
            let (z, w) = softmin(zs)
            if wantGrad {
                let dz = dLdz(z)
                for (j, t) in ts.enumerated() {
                    let gm = c.grad(s, t)!
                    let k = dz * w[j] * (-1 / Scale.count) * ((cs[j] - Float(n)) / sabs[j]) / unit
                    for i in c.active(s, t) { gm[i] += k }
                }
            }
            return z

        case let .static(s, maxc, occluders):
            // A pixel counts as changed in proportion to how far it is from the object's colour
            // and how far it is from being covered by another object, `(1 - m) * (1 - cover)`,
            // cover being the soft union of the other objects' masks with their rim (`withRim`),
            // as the judge counts it. The cover is held constant
            // for the gradient: the loss should pull the object back into place, never invite
            // another object to hide it.
            let S0 = subjects[s].firstMask
            let K = S0.reduce(0) { $0 + Int($1) }
            if K == 0 { return 10 }
            let bound = Teacher.discreteBound(maxc, total: K)
            var zs = [Float](repeating: 0, count: F)
            // `[frames, h * w]`: 1 - cover.
            var open = [Float](repeating: 1, count: occluders.isEmpty ? 0 : F * N)
            for t in 0..<F where !occluders.isEmpty {
                var free = [Float](repeating: 1, count: N)
                for o in occluders {
                    let mo = c.mask(o, t)
                    for i in c.active(o, t) { free[i] *= 1 - mo[i] }
                }
                let cover = Teacher.withRim(free.map { 1 - $0 }, width: c.width, height: c.height)
                for i in 0..<N { open[t * N + i] = 1 - cover[i] }
            }
            for t in 0..<F {
                let m = c.mask(s, t)
                var lost: Float = 0
                if occluders.isEmpty {
                    for i in 0..<N where S0[i] != 0 { lost += 1 - m[i] }
                } else {
                    for i in 0..<N where S0[i] != 0 { lost += (1 - m[i]) * open[t * N + i] }
                }
                zs[t] = (bound - lost / Float(K)) / Scale.changed
            }
            let (z, w) = softmin(zs)
            if wantGrad {
                let dz = dLdz(z)
                for t in 0..<F {
                    let gm = c.grad(s, t)!
                    let k = dz * w[t] / Float(K) / Scale.changed
                    if occluders.isEmpty {
                        for i in 0..<N where S0[i] != 0 { gm[i] += k }
                    } else {
                        for i in 0..<N where S0[i] != 0 { gm[i] += k * open[t * N + i] }
                    }
                }
            }
            return z

        case let .order(ss, axis):
            let t = F - 1
            let coord = axis == .x ? c.xs : c.ys
            var S = [Float](), C = [Float]()
            for s in ss {
                let m = c.mask(s, t)
                var a: Float = 0, p: Float = 0
                for i in c.active(s, t) { a += m[i]; p += m[i] * coord[i] }
                S.append(a + 1e-3); C.append(p / (a + 1e-3))
            }
            let minArea = Float(speckArea)
            var zs: [Float] = []
            for j in 0..<(ss.count - 1) { zs.append((C[j + 1] - C[j]) / Scale.orderGap) }
            for k in ss.indices { zs.append((S[k] - minArea) / Scale.presence) }
            let (z, w) = softmin(zs)
            if wantGrad {
                let dz = dLdz(z)
                // d z / d C_k from the gaps; d z / d S_k from presence.
                var dC = [Float](repeating: 0, count: ss.count), dS = dC
                for j in 0..<(ss.count - 1) {
                    dC[j + 1] += w[j] / Scale.orderGap; dC[j] -= w[j] / Scale.orderGap
                }
                for k in ss.indices { dS[k] += w[ss.count - 1 + k] / Scale.presence }
                for (k, s) in ss.enumerated() {
                    let gm = c.grad(s, t)!
                    for i in c.active(s, t) { gm[i] += dz * (dC[k] * (coord[i] - C[k]) / S[k] + dS[k]) }
                }
            }
            return z

        case let .smooth(s, maxStep):
            var S = [Float](), C = [SIMD2<Float>]()
            for t in 0..<F {
                let m = c.mask(s, t)
                var a: Float = 0, px: Float = 0, py: Float = 0
                for i in c.active(s, t) { a += m[i]; px += m[i] * c.xs[i]; py += m[i] * c.ys[i] }
                S.append(a + 1e-3); C.append(SIMD2(px, py) / (a + 1e-3))
            }
            let minArea = Float(speckArea)
            let scale = SIMD2(Float(c.width), Float(c.height))
            var zs: [Float] = [], dirs: [SIMD2<Float>] = []
            for t in 0..<F { zs.append((S[t] - minArea) / Scale.presence) }
            for t in 1..<max(F, 1) {
                let d = (C[t] - C[t - 1]) / scale
                let len = ((d * d).sum() + 1e-8).squareRoot()
                zs.append((maxStep - len) / Scale.step)
                dirs.append(d / len / scale) // d len / d C_t
            }
            let (z, w) = softmin(zs)
            if wantGrad {
                let dz = dLdz(z)
                var dC = [SIMD2<Float>](repeating: .zero, count: F), dS = [Float](repeating: 0, count: F)
                for t in 0..<F { dS[t] = w[t] / Scale.presence }
                for t in 1..<max(F, 1) {
                    let k = -w[F + t - 1] / Scale.step
                    dC[t] += k * dirs[t - 1]; dC[t - 1] -= k * dirs[t - 1]
                }
                for t in 0..<F {
                    let gm = c.grad(s, t)!
                    for i in c.active(s, t) {
                        let dcdm = (SIMD2(c.xs[i], c.ys[i]) - C[t]) / S[t]
                        gm[i] += dz * ((dC[t] * dcdm).sum() + dS[t])
                    }
                }
            }
            return z

        case let .path(s, _, sds):
            // Hard max and min in the recursion (differentiable almost everywhere): the margin
            // is one (region, frame) term, and its gradient flows to that frame's centroid.
            var S = [Float](), C = [SIMD2<Float>]()
            for t in 0..<F {
                let m = c.mask(s, t)
                var a: Float = 0, px: Float = 0, py: Float = 0
                for i in c.active(s, t) { a += m[i]; px += m[i] * c.xs[i]; py += m[i] * c.ys[i] }
                S.append(a + 1e-3); C.append(SIMD2(px, py) / (a + 1e-3))
            }
            let K = sds.count
            var zkt = [[Float]](repeating: [Float](repeating: 0, count: F), count: K)
            var gkt = [[SIMD2<Float>]](repeating: [SIMD2<Float>](repeating: .zero, count: F), count: K)
            for k in 0..<K {
                for t in 0..<F {
                    let (v, g) = bilinear(sds[k], at: C[t])
                    zkt[k][t] = -v / Scale.pathDistance; gkt[k][t] = -g / Scale.pathDistance
                }
            }
            // H[k][t] = max over t' <= t of min(H[k-1][t'], z[k][t']); `from` keeps which term.
            var H = [Float](repeating: -.infinity, count: F)
            var from = [(Int, Int)](repeating: (0, 0), count: F)
            var prevH = [Float](repeating: .infinity, count: F)
            var prevFrom = [(Int, Int)](repeating: (-1, -1), count: F)
            for k in 0..<K {
                var best: Float = -.infinity, bestFrom = (k, 0)
                for t in 0..<F {
                    let (v, src) = prevH[t] < zkt[k][t] ? (prevH[t], prevFrom[t]) : (zkt[k][t], (k, t))
                    if v > best { best = v; bestFrom = src }
                    H[t] = best; from[t] = bestFrom
                }
                prevH = H; prevFrom = from
            }
            let z = H[F - 1]
            if wantGrad {
                let (k, t) = from[F - 1]
                let dz = dLdz(z)
                let gm = c.grad(s, t)!
                let g = gkt[k][t]
                for i in c.active(s, t) {
                    let dcdm = (SIMD2(c.xs[i], c.ys[i]) - C[t]) / S[t]
                    gm[i] += dz * (g * dcdm).sum()
                }
            }
            return z
        }
    }

    /// A field sampled at a point in pixel coordinates (pixel centres at i + 0.5), and its gradient.
    func bilinear(_ f: [Float], at p: SIMD2<Float>) -> (Float, SIMD2<Float>) {
        let u = min(max(p.x - 0.5, 0), Float(width - 1)), v = min(max(p.y - 0.5, 0), Float(height - 1))
        let x0 = min(Int(u), width - 2 < 0 ? 0 : width - 2), y0 = min(Int(v), height - 2 < 0 ? 0 : height - 2)
        let x1 = min(x0 + 1, width - 1), y1 = min(y0 + 1, height - 1)
        let fx = u - Float(x0), fy = v - Float(y0)
        let a = f[y0 * width + x0], b = f[y0 * width + x1], cc = f[y1 * width + x0], d = f[y1 * width + x1]
        let val = (a * (1 - fx) + b * fx) * (1 - fy) + (cc * (1 - fx) + d * fx) * fy
        let gx = ((b - a) * (1 - fy) + (d - cc) * fy)
        let gy = ((cc - a) * (1 - fx) + (d - b) * fx)
        return (val, SIMD2(gx, gy))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
