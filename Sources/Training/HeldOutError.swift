import Foundation
import Reasoner

/// How far a model's layers end from where the solution puts them, on held-out examples: for
/// every layer the solution moves (by over a pixel of the model's view), the distance between
/// the model's final position and the solution's, in the example's first-frame pixels.
public struct HeldOutError: Codable, Sendable, Equatable {
    public var examples: Int
    /// Moving layers measured.
    public var layers: Int
    public var meanPixels: Double
    public var medianPixels: Double
    /// Share of moving layers that end within 3 pixels of the model's view (about 5% of its 64).
    public var withinThreeViewPixels: Double

    enum CodingKeys: String, CodingKey {
        case examples, layers
        case meanPixels = "mean_pixels", medianPixels = "median_pixels", withinThreeViewPixels = "within_3_view_pixels"
    }

    /// Samples `reasoner` (4 Euler steps, the noise of seed i for record i: the same draws for
    /// every model) on the first `limit` records.
    public static func measure(_ reasoner: Reasoner, records: ExampleRecords.Reader, limit: Int, batch: Int = 16) -> HeldOutError {
        let n = min(limit, records.count)
        var errors: [Double] = [], close = 0
        var i = 0
        let acts = reasoner.makeActivations(maxBatch: batch)
        while i < n {
            let chunk = (i..<min(n, i + batch)).map { records.read($0) }
            let noises = chunk.indices.map { Reasoner.noise(seed: UInt64(i + $0) &+ 0x4E1D) }
            let out = reasoner.sample(chunk.map(\.scene), noises: noises, steps: 4, activations: acts)
            for (e, t) in zip(chunk, out) {
                for l in 0..<min(e.scene.layerCount, reasoner.config.maxLayers) {
                    let truth = e.trajectory.offset(layer: l, frame: Trajectory.frames - 1)
                    if (truth * truth).sum() <= 1 { continue }
                    let d = t.offset(layer: l, frame: Trajectory.frames - 1) - truth
                    let view = Double((d * d).sum().squareRoot())
                    errors.append(view * Double(e.pixelScale))
                    if view <= 3 { close += 1 }
                }
            }
            i += chunk.count
        }
        let sorted = errors.sorted()
        return HeldOutError(examples: n, layers: errors.count,
                            meanPixels: errors.isEmpty ? 0 : errors.reduce(0, +) / Double(errors.count),
                            medianPixels: sorted.isEmpty ? 0 : sorted[sorted.count / 2],
                            withinThreeViewPixels: errors.isEmpty ? 0 : Double(close) / Double(errors.count))
    }
}
