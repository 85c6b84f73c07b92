import ArgumentParser
import Foundation
import Media
import System
import TaskFolder
import Tasks
import Training

struct MakeTask: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-task",
        abstract: "Write a generated task folder.",
        discussion: """
        Families: maze (a ball through a maze to a target), obstacles (a ball to a target across a grid of \
        crosses), align (pieces onto the outlines of their shape), order (objects rearranged into a given \
        order), shapes (cards onto outlines of one colour, matched by shape), slots (identical pieces into \
        identical slots), slide (a tile into the gap of a sliding puzzle), waypoint (a ball to a target, passing over a waypoint first). Writes prompt.txt, rules.json and first_frame.jpg (256 x 256, quality 95, 4:4:4) into DIR, \
        and with --solution the solution video as solution/00.jpg ... 15.jpg at the native 64 x 64. \
        --size WxH draws the same task at another size and aspect (as large as fits, centred, anti-aliased); \
        --png writes first_frame.png instead; --identical-pieces makes align's pieces one shape and colour. \
        --look canonical (default: the drawing the shipped model knows), varied (sampled from the training \
        ranges of background, grid lines, colours, shapes, glyphs, target styles, sizes, maze styles and \
        wording) or heldout (from ranges varied never uses); a varied or held-out first frame is a square of \
        its own size unless --size is given. \
        Seeds below 1000000 are the training set; 1000000 and up are held out for evaluation.

        --layout training --count N writes N tasks (seeds --seed ... --seed + N - 1) as a training folder in \
        the layout `tutor train --tasks` reads: DIR/FAMILY-SEED/ with the first frame, prompt.txt, rules.json, \
        final_frame and the solution video as frames/00 ... 15, every frame at the first frame's size \
        (PNG with --png, else JPEG); --final-only leaves frames/ out.
        """
    )

    @Argument(help: "maze, obstacles, align, order, shapes, slots, slide or waypoint.")
    var family: String

    @Option(help: "The task's seed (the same seed gives the same task); the first seed with --count.")
    var seed: UInt64 = 0

    @Option(help: "task (one task folder) or training (a training folder of --count examples).")
    var layout: Layout = .task

    @Option(help: "Examples to write with --layout training.")
    var count = 1

    @Flag(help: "--layout training: write the final frame only, no frames/ (the motion must be interpolated).")
    var finalOnly = false

    enum Layout: String, ExpressibleByArgument { case task, training }

    @Option(help: "The folder to write (created if missing).")
    var out: String

    @Flag(help: "Also write the solution video as solution/NN.jpg.")
    var solution = false

    @Option(help: "The first frame's size, WxH (default 256x256).")
    var size: String?

    @Flag(help: "Write first_frame.png instead of first_frame.jpg.")
    var png = false

    @Flag(help: "align: every piece the same shape and colour, every outline alike.")
    var identicalPieces = false

    @Option(help: "canonical, varied or heldout: the ranges the look and wording are drawn from.")
    var look: LookSplit = .canonical

    func validate() throws {
        if Family(rawValue: family) == nil {
            throw ValidationError("unknown family '\(family)'; use one of \(Family.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let s = size, Families.parseSize(s) == nil { throw ValidationError("--size must be WxH, each side 16 to 4096, such as 512x340") }
        if identicalPieces && family != Family.align.rawValue { throw ValidationError("--identical-pieces applies to align only") }
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if layout == .task && (count != 1 || finalOnly) { throw ValidationError("--count and --final-only apply to --layout training") }
        if layout == .training && solution { throw ValidationError("--solution applies to --layout task; a training folder always has its solution") }
    }

    func run() throws {
        if layout == .training { return try writeTraining() }
        let task = Families.generate(family: Family(rawValue: family)!, seed: seed, size: size.flatMap(Families.parseSize),
                                     identicalPieces: identicalPieces, look: look)
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try AtomicFile.write(task.prompt + "\n", to: dir.appendingPathComponent("prompt.txt").path)
        try AtomicFile.write(task.rulesJSON, to: dir.appendingPathComponent("rules.json").path)
        let other = dir.appendingPathComponent(png ? "first_frame.jpg" : "first_frame.png")
        if FileManager.default.fileExists(atPath: other.path) { try FileManager.default.removeItem(at: other) }
        if png {
            try AtomicFile.write(PNG.encode(task.firstFrame), to: dir.appendingPathComponent("first_frame.png").path)
        } else {
            try AtomicFile.write(JPEG.encode(task.firstFrame, quality: 95, subsample444: true),
                                 to: dir.appendingPathComponent("first_frame.jpg").path)
        }
        if solution {
            let sdir = dir.appendingPathComponent("solution")
            try FileManager.default.createDirectory(at: sdir, withIntermediateDirectories: true)
            for (t, frame) in task.solution.enumerated() {
                let name = t < 10 ? "0\(t).jpg" : "\(t).jpg"
                try AtomicFile.write(JPEG.encode(frame, quality: 95, subsample444: true), to: sdir.appendingPathComponent(name).path)
            }
        }
        print("\(out): \(family) seed \(seed)\(Families.isHeldOut(seed: seed) ? " (held out)" : " (training)")\(look == .canonical ? "" : ", \(look.rawValue) look")")
    }

    /// Writes `count` examples in the training layout.
    func writeTraining() throws {
        let fam = Family(rawValue: family)!, sz = size.flatMap(Families.parseSize)
        let root = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        for seed in self.seed..<(self.seed + UInt64(count)) {
            try TrainingLayout.write(family: fam, seed: seed, size: sz, png: png, finalOnly: finalOnly,
                                     identicalPieces: identicalPieces, look: look, to: root)
        }
        print("\(out): \(count) \(family) examples, seeds \(self.seed) to \(self.seed + UInt64(count) - 1)\(look == .canonical ? "" : ", \(look.rawValue) look")\(finalOnly ? ", final frames only" : "")")
    }
}
