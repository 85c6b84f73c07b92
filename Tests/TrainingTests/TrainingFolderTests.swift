import System
import Foundation
import Media
import Reasoner
import Tasks
@testable import Training
import XCTest

/// A user's training folder: examples written in the field's layout are read back, their
/// layers followed through the solution's pictures to the generator's own tracks.
final class TrainingFolderTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-trainfolder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    /// The largest difference between the recovered trajectory and the generator's tracks, in
    /// the model view's pixels (the generator's native pixels for a square drawing), over the
    /// moving layers and all frames; every other layer must stay within a pixel.
    func trackError(_ tracked: TrackedExample, _ task: GeneratedTask, frames: Range<Int> = 0..<Trajectory.frames) -> Float {
        guard let truth = tracked.scene.trajectory(from: task.layerTracks) else { return .infinity }
        var worst: Float = 0
        for l in 0..<tracked.scene.layerCount {
            for f in frames {
                let d = tracked.trajectory.offset(layer: l, frame: f) - truth.offset(layer: l, frame: f)
                worst = max(worst, (d * d).sum().squareRoot())
            }
        }
        return worst
    }

    func testTrajectoriesFromWrittenFramesMatchTheGeneratorsTracks() throws {
        var worst: [String: Float] = [:], final: [String: Float] = [:]
        // The four first families and identical pieces into identical slots (each piece matched
        // to its own track by where it is); slide's tiles share the tray's colour family and are
        // measured by its own tests.
        for family in Family.original + [.slots] {
            for seed in UInt64(0)..<2 {
                let dir = try TrainingLayout.write(family: family, seed: seed, size: nil, png: true, finalOnly: false, to: root)
                let tracked = try ExampleTracker.track(try ExampleFolder.read(dir))
                XCTAssertFalse(tracked.interpolated)
                XCTAssertGreaterThan(tracked.movingLayers, 0, "\(family) \(seed)")
                let task = Families.generate(family: family, seed: seed)
                worst[family.rawValue] = max(worst[family.rawValue] ?? 0, trackError(tracked, task))
                final[family.rawValue] = max(final[family.rawValue] ?? 0, trackError(tracked, task, frames: 15..<16))
            }
        }
        // Where each layer ends: within a pixel of the model's view; on the way, within two
        // (a piece that slides onto a pale target of its own hue loses part of its edge).
        for (f, e) in final { XCTAssertLessThan(e, 1, "\(f): final positions differ from the tracks by \(e) px") }
        for (f, e) in worst { XCTAssertLessThan(e, 2, "\(f): recovered trajectories differ from the tracks by \(e) px") }
    }

    /// `make-task --layout training --look L` writes the task of that look (its drawing, its
    /// words, its square side), and the trajectories recovered from it are the generator's.
    func testTrainingLayoutKeepsTheLook() throws {
        for (family, look) in [(Family.waypoint, LookSplit.varied), (.obstacles, .heldout)] {
            let seed: UInt64 = 3
            let dir = try TrainingLayout.write(family: family, seed: seed, size: nil, png: false, finalOnly: false, look: look, to: root)
            let task = Families.generate(family: family, seed: seed, look: look)
            let ex = try ExampleFolder.read(dir)
            XCTAssertEqual(ex.prompt, task.prompt, "\(family) \(look)")
            XCTAssertEqual([ex.firstFrame.width, ex.firstFrame.height], [task.firstFrame.width, task.firstFrame.height])
            XCTAssertNotEqual(task.prompt, Families.generate(family: family, seed: seed).prompt, "the look changed nothing")
            let tracked = try ExampleTracker.track(ex)
            XCTAssertLessThan(trackError(tracked, task, frames: 15..<16), 1, "\(family) \(look): final positions")
            // On the way within two pixels, but for the frame where the ball sits on the
            // waypoint (up to 3.3 px there; the solution's own frames cannot be clearer).
            XCTAssertLessThan(trackError(tracked, task), family == .waypoint ? 4 : 2, "\(family) \(look): trajectories")
        }
    }

    func testAnotherSizeAndJPEG() throws {
        let dir = try TrainingLayout.write(family: .align, seed: 5, size: (180, 120), png: false, finalOnly: false, to: root)
        let tracked = try ExampleTracker.track(try ExampleFolder.read(dir))
        XCTAssertLessThan(trackError(tracked, Families.generate(family: .align, seed: 5, size: (180, 120))), 1.5)
        XCTAssertEqual(tracked.pixelScale, 120.0 / 64, accuracy: 0.05)
    }

    func testFinalFrameOnlyIsInterpolated() throws {
        let dir = try TrainingLayout.write(family: .align, seed: 2, size: nil, png: true, finalOnly: true, to: root)
        let tracked = try ExampleTracker.track(try ExampleFolder.read(dir))
        XCTAssertTrue(tracked.interpolated)
        // The final offsets are the tracks' final offsets; the path is a straight line.
        let task = Families.generate(family: .align, seed: 2)
        let truth = tracked.scene.trajectory(from: task.layerTracks)!
        for l in 0..<tracked.scene.layerCount {
            let d = tracked.trajectory.offset(layer: l, frame: 15) - truth.offset(layer: l, frame: 15)
            XCTAssertLessThan((d * d).sum().squareRoot(), 1.5)
            let mid = tracked.trajectory.offset(layer: l, frame: 5), end = tracked.trajectory.offset(layer: l, frame: 15)
            XCTAssertEqual(mid.x, end.x / 3, accuracy: 1e-4)
        }
    }

    func testIdenticalPiecesAreToldApartByPosition() throws {
        let dir = try TrainingLayout.write(family: .align, seed: 7, size: nil, png: true, finalOnly: false, identicalPieces: true, to: root)
        let tracked = try ExampleTracker.track(try ExampleFolder.read(dir))
        let task = Families.generate(family: .align, seed: 7, identicalPieces: true)
        // Each piece's final position is one of the tracks' final positions, and no two share one.
        let cut = tracked.scene.layered
        var finals: [SIMD2<Float>] = []
        for l in 0..<tracked.scene.layerCount where tracked.trajectory.maxDisplacement(layer: l) > 1 {
            finals.append(cut.layers[l].centroid + tracked.trajectory.offset(layer: l, frame: 15))
        }
        XCTAssertEqual(finals.count, task.tracks.count)
        for i in finals.indices { for j in finals.indices where j > i { XCTAssertGreaterThan(((finals[i] - finals[j]) * (finals[i] - finals[j])).sum(), 4) } }
    }

    func testUnusableExamplesAreListedWithTheirReasons() throws {
        let fm = FileManager.default
        // Good examples, one of them a final frame only.
        try TrainingLayout.write(family: .order, seed: 1, size: nil, png: true, finalOnly: false, to: root)
        try TrainingLayout.write(family: .maze, seed: 1, size: nil, png: true, finalOnly: true, to: root)
        // No prompt.
        let noPrompt = try TrainingLayout.write(family: .order, seed: 2, size: nil, png: true, finalOnly: true, to: root)
        try fm.removeItem(at: noPrompt.appendingPathComponent("prompt.txt"))
        // A solution frame of another size.
        let other = try TrainingLayout.write(family: .order, seed: 3, size: nil, png: true, finalOnly: true, to: root)
        try Data(PNG.encode(RGBImage(width: 100, height: 80, fill: (255, 255, 255)))).write(to: other.appendingPathComponent("final_frame.png"))
        // A symbolic link to a good example.
        try fm.createSymbolicLink(at: root.appendingPathComponent("link"), withDestinationURL: root.appendingPathComponent("order-1"))
        // An image that is not one, and an image whose header is over the size limit.
        let bad = try TrainingLayout.write(family: .order, seed: 4, size: nil, png: true, finalOnly: true, to: root)
        try Data("not a picture".utf8).write(to: bad.appendingPathComponent("final_frame.png"))
        let huge = try TrainingLayout.write(family: .order, seed: 5, size: nil, png: true, finalOnly: true, to: root)
        var png = try PNG.encode(RGBImage(width: 4, height: 4))
        // IHDR width at bytes 16...19: 100000 pixels.
        png[16] = 0; png[17] = 0x01; png[18] = 0x86; png[19] = 0xA0
        // The chunk's CRC (over type and data, bytes 12..<29) at 29...32, so that only the size is wrong.
        var crc: UInt32 = 0xFFFF_FFFF
        for b in png[12..<29] {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc ^= 0xFFFF_FFFF
        for k in 0..<4 { png[29 + k] = UInt8((crc >> (24 - 8 * UInt32(k))) & 0xFF) }
        try Data(png).write(to: huge.appendingPathComponent("first_frame.png"))
        // A layer that vanishes: the final frame is blank.
        let gone = try TrainingLayout.write(family: .order, seed: 6, size: nil, png: true, finalOnly: true, to: root)
        try Data(PNG.encode(RGBImage(width: 256, height: 256, fill: (255, 255, 255)))).write(to: gone.appendingPathComponent("final_frame.png"))
        // An empty folder.
        try fm.createDirectory(at: root.appendingPathComponent("empty"), withIntermediateDirectories: true)

        let tasks = root.path
        // The run's own folder would be an example; keep it out of the training folder.
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-trainrun-\(UUID().uuidString)").path
        defer { try? fm.removeItem(atPath: out) }
        let s = try TrainingFolder.prepare(tasks: tasks, data: out, heldOutShare: 0, log: { _ in })
        XCTAssertEqual(s.training, 2)
        XCTAssertEqual(s.interpolated, 1)
        XCTAssertEqual(s.unusable, 7)
        let listing = try String(contentsOfFile: out + "/unusable.txt", encoding: .utf8)
        let reasons = Dictionary(uniqueKeysWithValues: listing.split(separator: "\n").map { line -> (String, String) in
            let p = line.split(separator: "\t", maxSplits: 1); return (String(p[0]), String(p[1]))
        })
        XCTAssertTrue(reasons["order-2"]?.contains("prompt.txt is missing") == true, reasons["order-2"] ?? "")
        XCTAssertTrue(reasons["order-3"]?.contains("100 x 80") == true, reasons["order-3"] ?? "")
        XCTAssertTrue(reasons["link"]?.contains("symbolic link") == true, reasons["link"] ?? "")
        XCTAssertTrue(reasons["order-4"]?.contains("cannot be decoded") == true, reasons["order-4"] ?? "")
        XCTAssertTrue(reasons["order-5"]?.contains("100000") == true, reasons["order-5"] ?? "")
        XCTAssertTrue(reasons["order-6"]?.contains("vanishes") == true, reasons["order-6"] ?? "")
        XCTAssertTrue(reasons["empty"]?.contains("first_frame") == true, reasons["empty"] ?? "")
        // The records read back as what was tracked.
        let reader = try ExampleRecords.Reader(path: out + "/train.records")
        XCTAssertEqual(reader.count, 2)
        XCTAssertTrue((0..<2).contains { reader.read($0).interpolated })
    }

    func testAFolderWithoutUsableExamplesIsAnError() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-trainrun-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        XCTAssertThrowsError(try TrainingFolder.prepare(tasks: root.path, data: out, heldOutShare: 0, log: { _ in })) {
            XCTAssertTrue("\($0)".contains("no usable example"), "\($0)")
        }
    }

    /// 20,000 empty example folders: each is listed with its reason, and memory does not grow
    /// with the folder (the listing goes to a file, the examples are streamed).
    func testTwentyThousandEmptyFoldersInFlatMemory() throws {
        let n = 20_000
        // In memory where the machine has it: creating and removing 20,000 folders on disk
        // takes a minute, which is the file system's time, not tutor's.
        if FileManager.default.isWritableFile(atPath: "/dev/shm") {
            try? FileManager.default.removeItem(at: root)
            root = URL(fileURLWithPath: "/dev/shm/tutor-trainfolder-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        }
        for i in 0..<n { mkdir(root.appendingPathComponent("ex\(i)").path, 0o755) }
        try TrainingLayout.write(family: .order, seed: 1, size: nil, png: true, finalOnly: true, to: root)
        let out = root.path + "-run"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let before = Memory.residentBytes() ?? 0
        var progress = 0
        let s = try TrainingFolder.prepare(tasks: root.path, data: out, heldOutShare: 0, every: 5000, log: { _ in progress += 1 })
        let grown = (Memory.residentBytes() ?? 0) - before
        XCTAssertEqual(s.entries, n + 1)
        XCTAssertEqual(s.training, 1)
        XCTAssertEqual(s.unusable, n)
        XCTAssertEqual(s.reasons, ["no first frame": n])
        XCTAssertEqual(progress, 4)
        let lines = try String(contentsOfFile: out + "/unusable.txt", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, n)
        XCTAssertTrue(lines.allSatisfy { $0.hasSuffix("\tno first_frame.png or first_frame.jpg") })
        XCTAssertLessThan(grown, 32 << 20, "resident memory grew by \(grown >> 20) MiB reading \(n) examples")
    }

    /// The tracker's one-pixel growth of the colours' masks (where a layer may be hidden behind
    /// another) is, for every pixel and colour bit, the union over its 3 x 3 neighbourhood, at the
    /// edges and in one-pixel rows.
    func testGrownMaskIsTheEightNeighbourhood() {
        var state: UInt64 = 7
        for (w, h) in [(1, 1), (1, 5), (6, 1), (2, 2), (9, 7), (64, 64)] {
            var bits = [UInt32](repeating: 0, count: w * h)
            for i in bits.indices {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                bits[i] = UInt32(truncatingIfNeeded: state >> 32) & UInt32(truncatingIfNeeded: state >> 16) & 0x8421_0421
            }
            var want = [UInt32](repeating: 0, count: w * h)
            for y in 0..<h { for x in 0..<w {
                for yy in max(0, y - 1)...min(h - 1, y + 1) { for xx in max(0, x - 1)...min(w - 1, x + 1) { want[yy * w + xx] |= bits[y * w + x] } }
            } }
            XCTAssertEqual(LayerTracker.grown(bits, width: w, height: h), want, "\(w) x \(h)")
        }
    }
}
