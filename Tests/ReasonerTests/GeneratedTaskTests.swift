import Media
@testable import Reasoner
import Tasks
import XCTest

/// The layer cut and the compositor on the task families' own first frames and solutions.
final class GeneratedTaskTests: XCTestCase {
    /// Every moving object of a generated task becomes a layer of its colour whose alpha matches
    /// the generator's coverage, and rendering the layers along the tracks reproduces the
    /// solution video.
    /// Identical pieces (slots) are told apart by where they are, in every look.
    func testLayersAndCompositorReproduceGeneratedSolutions() throws {
        for family in Family.allCases {
            for (seed, look): (UInt64, LookSplit) in [(3, .canonical), (1_000_007, .canonical), (5, .varied), (1_000_009, .heldout)] {
                let task = Families.generate(family: family, seed: seed, look: look)
                let first = try JPEG.decode(JPEG.encode(task.firstFrame, quality: 95))
                let scene = Scene(prompt: task.prompt, firstFrame: first)
                XCTAssertFalse(task.tracks.isEmpty)
                let layers = try XCTUnwrap(scene.layers(for: task.layerTracks.map { (color: $0.color, at: $0.at) }),
                                           "\(family) \(seed): a mover without a layer")
                for (track, l) in zip(task.tracks, layers) {
                    let alpha = scene.layered.layers[l].alpha
                    var inter: Float = 0, union: Float = 0
                    for i in 0..<alpha.count {
                        inter += min(alpha[i], track.firstFrameCoverage[i]); union += max(alpha[i], track.firstFrameCoverage[i])
                    }
                    XCTAssertGreaterThan(inter / union, 0.8, "\(family) \(seed): soft IoU of the mover's layer")
                }
                let traj = try XCTUnwrap(scene.trajectory(from: task.layerTracks))
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
