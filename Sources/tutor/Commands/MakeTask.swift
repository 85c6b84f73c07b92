import ArgumentParser
import Foundation
import Media
import System
import TaskFolder
import Tasks

struct MakeTask: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-task",
        abstract: "Write a generated task folder.",
        discussion: """
        Families: maze (a ball through a maze to a target), obstacles (a ball to a target across a grid of \
        crosses), align (pieces onto the outlines of their shape), order (objects rearranged into a given \
        order). Writes prompt.txt, rules.json and first_frame.jpg (256 x 256, quality 95, 4:4:4) into DIR, \
        and with --solution the solution video as solution/00.jpg ... 15.jpg at the native 64 x 64. \
        --size WxH draws the same task at another size and aspect (as large as fits, centred, anti-aliased); \
        --png writes first_frame.png instead; --identical-pieces makes align's pieces one shape and colour. \
        Seeds below 1000000 are the training set; 1000000 and up are held out for evaluation.
        """
    )

    @Argument(help: "maze, obstacles, align or order.")
    var family: String

    @Option(help: "The task's seed (the same seed gives the same task).")
    var seed: UInt64

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

    func validate() throws {
        if Family(rawValue: family) == nil {
            throw ValidationError("unknown family '\(family)'; use one of \(Family.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let s = size, Families.parseSize(s) == nil { throw ValidationError("--size must be WxH, each side 16 to 4096, such as 512x340") }
        if identicalPieces && family != Family.align.rawValue { throw ValidationError("--identical-pieces applies to align only") }
    }

    func run() throws {
        let task = Families.generate(family: Family(rawValue: family)!, seed: seed, size: size.flatMap(Families.parseSize),
                                     identicalPieces: identicalPieces)
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
        print("\(out): \(family) seed \(seed)\(Families.isHeldOut(seed: seed) ? " (held out)" : " (training)")")
    }
}
