import Foundation
import Media
import Reasoner
import Teacher

/// An example turned into what the Reasoner learns: the scene it conditions on and each
/// layer's trajectory, recovered from the solution's pictures.
public struct TrackedExample: Sendable {
    public var scene: Scene
    /// `[maxLayers, frames, 2]` offsets in the model view's pixels (`Trajectory`).
    public var trajectory: Trajectory
    /// Pixels of the first frame per pixel of the model's view: errors are reported in the
    /// first frame's pixels.
    public var pixelScale: Float
    /// Whether the motion was interpolated from a final frame alone (no solution video).
    public var interpolated: Bool
    /// Layers that move (final offset over a pixel of the view).
    public var movingLayers: Int
}

/// Cuts an example's first frame into layers with the Reasoner's own cut (`Picture`, at the
/// size `tutor run` would judge it at) and follows each layer through the solution
/// (`LayerTracker`). The solution video's frames are sampled at the trajectory's 16 times
/// (evenly over the video, first to last) and decoded one at a time, a JPEG at the smallest of
/// libjpeg's reduced scales that is not below the working size.
public enum ExampleTracker {
    /// The solution frames read, with their indices: the trajectory's times after the first,
    /// evenly over the video, the last frame last.
    public static func sampledFrames(_ frames: [URL]) -> [(index: Int, url: URL)] {
        let n = frames.count, F = Trajectory.frames
        return (1..<F).map { f in
            let i = Int((Double(f * (n - 1)) / Double(F - 1)).rounded())
            return (i, frames[i])
        }
    }

    public static func track(_ ex: ExampleFolder) throws(ExampleProblem) -> TrackedExample {
        let img = ex.firstFrame
        let picture: Picture
        if let rules = ex.rules {
            let (working, frame) = WorkingSize.chooseWithFrame(rules: rules, firstFrame: img)
            picture = Picture(frame: frame, width: working.width, height: working.height)
        } else {
            let working = WorkingSize.candidates(width: img.width, height: img.height).first!
            picture = Picture(firstFrame: img, working: (working.width, working.height))
        }
        let scene = Scene(prompt: ex.prompt, layered: picture.view, working: picture.working)
        let cut = picture.working
        if cut.layers.isEmpty { throw ExampleProblem("the first frame has no layer to move (one colour only)") }
        let tracker = LayerTracker(cut: cut)
        let F = Trajectory.frames, K = cut.layers.count
        var offsets = [[SIMD2<Float>]](repeating: [SIMD2<Float>](repeating: .zero, count: K), count: F)

        func load(_ url: URL) throws(ExampleProblem) -> [Float] {
            let name = url.deletingLastPathComponent().lastPathComponent + "/" + url.lastPathComponent
            let folder = url.deletingLastPathComponent()
            let decoded: (image: RGBImage, width: Int, height: Int)
            do { decoded = try ExampleFolder.decodeImage(url.lastPathComponent, in: folder, atLeast: (cut.width, cut.height)) } catch {
                throw ExampleProblem(error.reason.replacingOccurrences(of: url.lastPathComponent, with: name))
            }
            if decoded.width != img.width || decoded.height != img.height {
                throw ExampleProblem("\(name) is \(decoded.width) x \(decoded.height), the first frame \(img.width) x \(img.height): every solution frame must have the first frame's size")
            }
            return decoded.image.resizedFloat(width: cut.width, height: cut.height)
        }
        let interpolated = ex.frames.count < 2
        do {
            if !interpolated {
                var previous = offsets[0]
                for (f, (i, url)) in sampledFrames(ex.frames).enumerated() {
                    previous = try tracker.locate(frame: try load(url), previous: previous, frameIndex: i)
                    offsets[f + 1] = previous
                }
            } else {
                let final = try tracker.locate(frame: try load(ex.finalFrame ?? ex.frames[0]), previous: offsets[0], frameIndex: 1)
                for f in 1..<F { offsets[f] = final.map { $0 * Float(f) / Float(F - 1) } }
            }
        } catch let e as TrackFailure {
            throw ExampleProblem("\(e)")
        } catch let e as ExampleProblem {
            throw e
        } catch {
            throw ExampleProblem("\(error)")
        }
        // Working pixels to the view's pixels.
        let toView = 1 / cut.offsetScale
        var t = Trajectory.zero
        var moving = 0
        for l in 0..<min(K, Trajectory.maxLayers) {
            for f in 0..<F {
                t.offsets[(l * F + f) * 2] = offsets[f][l].x * toView
                t.offsets[(l * F + f) * 2 + 1] = offsets[f][l].y * toView
            }
            let last = offsets[F - 1][l] * toView
            if (last * last).sum() > 1 { moving += 1 }
        }
        let scale = cut.offsetScale * Float(img.width) / Float(cut.width)
        return TrackedExample(scene: scene, trajectory: t, pixelScale: scale, interpolated: interpolated, movingLayers: moving)
    }
}
