import Foundation
import Media
import System
import TaskFolder
import Tasks

/// The project's own families written in the layout of a training folder (`ExampleFolder`):
/// data with known answers for `tutor train --tasks`, and a way for users to mix the built-in
/// families into their own data.
public enum TrainingLayout {
    /// Writes the example of `family` and `seed`, drawn and worded in `look`, as `root/FAMILY-SEED/`: the first frame,
    /// prompt.txt, rules.json, final_frame and (unless `finalOnly`) frames/00 ... 15, every
    /// frame at the first frame's size, PNG or JPEG (quality 95, 4:4:4). The folder is built
    /// under a hidden temporary name and renamed into place complete.
    @discardableResult
    public static func write(family: Family, seed: UInt64, size: (width: Int, height: Int)?, png: Bool, finalOnly: Bool,
                             identicalPieces: Bool = false, look: LookSplit = .canonical, to root: URL) throws -> URL {
        let task = Families.solutionExample(family: family, seed: seed, size: size, identicalPieces: identicalPieces, look: look)
        let frames = task.frames
        let ext = png ? "png" : "jpg"
        func encode(_ image: RGBImage) throws -> [UInt8] {
            png ? try PNG.encode(image) : try JPEG.encode(image, quality: 95, subsample444: true)
        }
        let name = "\(family.rawValue)-\(seed)"
        let temp = root.appendingPathComponent(".\(name).partial"), dir = root.appendingPathComponent(name)
        let fm = FileManager.default
        if fm.fileExists(atPath: temp.path) { try fm.removeItem(at: temp) }
        try fm.createDirectory(at: temp, withIntermediateDirectories: true)
        try AtomicFile.write(task.prompt + "\n", to: temp.appendingPathComponent("prompt.txt").path)
        try AtomicFile.write(task.rulesJSON, to: temp.appendingPathComponent("rules.json").path)
        try AtomicFile.write(encode(frames[0]), to: temp.appendingPathComponent("first_frame.\(ext)").path)
        try AtomicFile.write(encode(frames.last!), to: temp.appendingPathComponent("final_frame.\(ext)").path)
        if !finalOnly {
            let fdir = temp.appendingPathComponent("frames")
            try fm.createDirectory(at: fdir, withIntermediateDirectories: true)
            for (t, frame) in frames.enumerated() {
                try AtomicFile.write(encode(frame), to: fdir.appendingPathComponent((t < 10 ? "0\(t)" : "\(t)") + ".\(ext)").path)
            }
        }
        if fm.fileExists(atPath: dir.path) { try fm.removeItem(at: dir) }
        try fm.moveItem(at: temp, to: dir)
        return dir
    }
}
