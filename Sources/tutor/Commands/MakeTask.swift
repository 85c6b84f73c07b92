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

    func validate() throws {
        if Family(rawValue: family) == nil {
            throw ValidationError("unknown family '\(family)'; use one of \(Family.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let task = Families.generate(family: Family(rawValue: family)!, seed: seed)
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try AtomicFile.write(task.prompt + "\n", to: dir.appendingPathComponent("prompt.txt").path)
        try AtomicFile.write(task.rulesJSON, to: dir.appendingPathComponent("rules.json").path)
        try AtomicFile.write(JPEG.encode(task.firstFrame, quality: 95, subsample444: true),
                             to: dir.appendingPathComponent("first_frame.jpg").path)
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
