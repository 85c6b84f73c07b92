import Media
@testable import Reasoner
import Tasks
import XCTest

/// The layer cut and the compositor on the task families' own first frames and solutions.
final class GeneratedTaskTests: XCTestCase {
    /// Every moving object of a generated task becomes a layer of its colour whose alpha matches
    /// the generator's coverage, and rendering the layers along the tracks reproduces the
    /// solution video.
    func testLayersAndCompositorReproduceGeneratedSolutions() throws {
        // slots: identical pieces share one colour, so one colour layer holds them all until the
        // layer cut gives every connected component its own layer.
        for family in Family.allCases where family != .slots {
            for seed: UInt64 in [3, 1_000_007] {
                let task = Families.generate(family: family, seed: seed)
                let first = try JPEG.decode(JPEG.encode(task.firstFrame, quality: 95))
                let scene = Scene(prompt: task.prompt, firstFrame: first)
                XCTAssertFalse(task.tracks.isEmpty)
                var used = Set<Int>()
                for track in task.tracks {
                    let l = try XCTUnwrap(scene.layerIndex(matching: track.color, excluding: used),
                                          "\(family) \(seed): no layer for the mover of colour \(track.color)")
                    used.insert(l)
                    let alpha = scene.layered.layers[l].alpha
                    var inter: Float = 0, union: Float = 0
                    for i in 0..<alpha.count {
                        inter += min(alpha[i], track.firstFrameCoverage[i]); union += max(alpha[i], track.firstFrameCoverage[i])
                    }
                    XCTAssertGreaterThan(inter / union, 0.8, "\(family) \(seed): soft IoU of the mover's layer")
                }
                let traj = try XCTUnwrap(scene.trajectory(from: task.tracks.map { ($0.color, $0.offsets) }))
                let video = Compositor.render(scene.layered, traj)
                let truth = Video(images: task.solution)
                var err: Float = 0
                for i in 0..<video.pixels.count { err += abs(video.pixels[i] - truth.pixels[i]) }
                err /= Float(video.pixels.count)
                // slide: the tray under the moving tile is not in the first frame, and the plate
                // shows the background there once the tile has moved.
                XCTAssertLessThan(err, family == .slide ? 0.03 : 0.01, "\(family) \(seed): mean absolute error per value")
            }
        }
    }
}
