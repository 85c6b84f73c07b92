import Basics
import Foundation
import Media
import System
import TaskFolder
import Verdicts

/// Writes a task's outputs into its folder (docs/FORMAT.md, section 4). Every file goes to a
/// temporary name (System's `AtomicFile`) and is renamed into place; `verdict.json` is
/// written last.
public struct Outputs {
    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    /// Writes `frames/00.jpg ...` (quality 95, 4:4:4) and returns their relative paths
    /// together with the video decoded back from those files, which is what the verdict judges.
    public func writeFrames(_ video: Video, quality: Int = 95) throws -> (paths: [String], asWritten: Video) {
        var decoded: [RGBImage] = []
        let paths = try writeFrames(count: video.frames, quality: quality, frame: video.image) { decoded.append($1) }
        return (paths, Video(images: decoded))
    }

    /// Writes `frames/00.jpg ...` one at a time, as `frame(t)` draws them, and hands each one
    /// decoded back from its file to `written` (so that a long video of large frames is never
    /// held whole); returns the relative paths.
    public func writeFrames(count: Int, quality: Int = 95, frame: (Int) throws -> RGBImage,
                            written: (Int, RGBImage) throws -> Void) throws -> [String] {
        let dir = folder.appendingPathComponent("frames")
        try ensureFolder(dir)
        var paths: [String] = []
        let digits = max(2, String(count - 1).count)
        for t in 0..<count {
            let name = String(repeating: "0", count: max(0, digits - String(t).count)) + String(t) + ".jpg"
            let bytes = try JPEG.encode(try frame(t), quality: quality, subsample444: true)
            try AtomicFile.write(bytes, to: dir.appendingPathComponent(name).path)
            try written(t, try JPEG.decode(bytes, maxSide: 1 << 16))
            paths.append("frames/" + name)
        }
        // Frames left over from an earlier run with more frames would be mistaken for this
        // video's. Only names of tutor's own scheme go; a user's frames/my.jpg stays.
        for n in Files.names(in: dir.path) ?? [] where Self.isFrameName(n) && !paths.contains("frames/" + n) {
            try? Files.removeFile(dir.appendingPathComponent(n).path)
        }
        return paths
    }

    /// Whether `name` is one tutor gives a frame: two or more digits and `.jpg`.
    static func isFrameName(_ name: String) -> Bool {
        guard name.hasSuffix(".jpg") else { return false }
        let stem = name.dropLast(4)
        return stem.count >= 2 && stem.allSatisfy { $0 >= "0" && $0 <= "9" }
    }

    public func writeJPEG(_ image: RGBImage, name: String) throws {
        try AtomicFile.write(try JPEG.encode(image, quality: 95, subsample444: true), to: folder.appendingPathComponent(name).path)
    }

    public func writeJSON(_ value: JSONValue, name: String) throws {
        try AtomicFile.write(value.prettyBytes(), to: folder.appendingPathComponent(name).path)
    }

    /// Throws `SystemError` when verdict.json cannot be written.
    public func writeVerdict(_ verdict: Verdict) throws {
        try AtomicFile.write(verdict.jsonBytes(), to: folder.appendingPathComponent("verdict.json").path)
    }

    /// Removes the verdict of an earlier run, so that its presence again means "this run finished".
    public func clearVerdict() {
        let url = folder.appendingPathComponent("verdict.json")
        if SafeFile.kind(at: url) == .file {
            try? Files.removeFile(url.path)
            Files.syncFolder(folder.path)
        }
    }

    /// Replaces `name/` with `staged/` (a folder already complete and synced) in two renames.
    /// A reader sees the old folder, briefly none, or the new one; never a half-written one.
    public func replaceFolder(_ name: String, with staged: URL) throws {
        try removeFolder(name)
        try Files.rename(staged.path, folder.appendingPathComponent(name).path)
        Files.syncFolder(folder.path)
    }

    /// Removes `name/` if present (an adapter left by an earlier run that adapted), in one
    /// rename out of sight, to a temporary name of tutor's, and a delete.
    public func removeFolder(_ name: String) throws {
        let target = folder.appendingPathComponent(name)
        guard SafeFile.kind(at: target) != nil else { return }
        let old = folder.appendingPathComponent(TemporaryName.make(for: name)).path
        try Files.rename(target.path, old)
        Files.syncFolder(folder.path)
        try? Files.removeTree(old)
    }

    /// Removes what a killed run of tutor left behind: its temporary files and staged or
    /// replaced folders, in the task folder and in frames/. They carry tutor's marker
    /// (`.tutor-tmp.<name>.<pid>.<random>`, see `TemporaryName`); nothing else is touched, so
    /// a user's `.verdict.json.bak` or `frames/.keep.tmp` stays where it is.
    public func removeStaleTemporaries() {
        for n in Files.names(in: folder.path) ?? [] where TemporaryName.isTemporary(n) {
            try? Files.removeTree(folder.appendingPathComponent(n).path)
        }
        let frames = folder.appendingPathComponent("frames")
        if SafeFile.kind(at: frames) == .folder {
            for n in Files.names(in: frames.path) ?? [] where TemporaryName.isTemporary(n) {
                try? Files.removeTree(frames.appendingPathComponent(n).path)
            }
        }
    }

    func ensureFolder(_ dir: URL) throws {
        switch SafeFile.kind(at: dir) {
        case .folder?: return
        case nil: try Files.makeFolder(dir.path)
        case let k?: throw OutputError(path: dir.path, reason: "it exists as a \(k); remove it so tutor can write the frames")
        }
    }
}

/// An output that cannot be written for a reason other than a failed call.
public struct OutputError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "cannot write \(path): \(reason)" }
}
