import Basics
import Foundation
import Media
import TaskFolder

/// Writes a task's outputs into its folder (SPEC section 4). Every file goes to a
/// temporary name and is renamed into place; `verdict.json` is written last.
public struct Outputs {
    public let folder: URL

    public init(folder: URL) { self.folder = folder }

    /// Writes `frames/00.jpg ...` (quality 95, 4:4:4) and returns their relative paths
    /// together with the video decoded back from those files, which is what the verdict judges.
    public func writeFrames(_ video: Video, quality: Int = 95) throws -> (paths: [String], asWritten: Video) {
        let dir = folder.appendingPathComponent("frames")
        try ensureFolder(dir)
        var paths: [String] = []
        var decoded: [RGBImage] = []
        let digits = max(2, String(video.frames - 1).count)
        for t in 0..<video.frames {
            let name = String(repeating: "0", count: max(0, digits - String(t).count)) + String(t) + ".jpg"
            let bytes = try JPEG.encode(video.image(t), quality: quality, subsample444: true)
            try AtomicWrite.write(bytes, to: dir.appendingPathComponent(name))
            decoded.append(try JPEG.decode(bytes))
            paths.append("frames/" + name)
        }
        // Frames left over from an earlier run with more frames would be mistaken for this video's.
        if let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) {
            for n in names where n.hasSuffix(".jpg") && !paths.contains("frames/" + n) {
                try? FileManager.default.removeItem(at: dir.appendingPathComponent(n))
            }
        }
        return (paths, Video(images: decoded))
    }

    public func writeJPEG(_ image: RGBImage, name: String) throws {
        try AtomicWrite.write(try JPEG.encode(image, quality: 95, subsample444: true), to: folder.appendingPathComponent(name))
    }

    public func writeJSON(_ object: Any, name: String) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try AtomicWrite.write(Array(data) + [0x0A], to: folder.appendingPathComponent(name))
    }

    public func writeVerdict(_ verdict: Verdict) throws {
        try AtomicWrite.write(verdict.jsonBytes(), to: folder.appendingPathComponent("verdict.json"))
    }

    /// Removes the verdict of an earlier run, so that its presence again means "this run finished".
    public func clearVerdict() {
        let url = folder.appendingPathComponent("verdict.json")
        if SafeFile.kind(at: url) == "regular file" {
            try? FileManager.default.removeItem(at: url)
            AtomicWrite.syncFolder(folder)
        }
    }

    /// Replaces `name/` with `staged/` (a folder already complete and synced) in two renames.
    /// A reader sees the old folder, briefly none, or the new one; never a half-written one.
    public func replaceFolder(_ name: String, with staged: URL) throws {
        try removeFolder(name)
        try Self.plainly(folder.appendingPathComponent(name)) {
            try FileManager.default.moveItem(at: staged, to: folder.appendingPathComponent(name))
        }
        AtomicWrite.syncFolder(folder)
    }

    /// Removes `name/` if present (an adapter left by an earlier run that adapted), in one
    /// rename out of sight and a delete.
    public func removeFolder(_ name: String) throws {
        let target = folder.appendingPathComponent(name)
        guard SafeFile.kind(at: target) != nil else { return }
        let old = folder.appendingPathComponent(".\(name).old.\(getpid())")
        try Self.plainly(target) { try FileManager.default.moveItem(at: target, to: old) }
        AtomicWrite.syncFolder(folder)
        try? FileManager.default.removeItem(at: old)
    }

    /// Removes what a killed run of tutor left behind: its temporary files
    /// (`.verdict.json.PID.tmp`, `frames/.00.jpg.PID.tmp`, ...), a staged adapter
    /// (`.adapter.PID.staging`) and replaced folders (`.adapter.old.PID`). They are hidden names
    /// no reader takes for outputs; files of anyone else (the spool's own) are left alone.
    public func removeStaleTemporaries() {
        let fm = FileManager.default
        let ours = [".verdict.json.", ".progress.json.", ".contact_sheet.jpg.", ".adapter."]
        if let names = try? fm.contentsOfDirectory(atPath: folder.path) {
            for n in names where ours.contains(where: { n.hasPrefix($0) }) {
                try? fm.removeItem(at: folder.appendingPathComponent(n))
            }
        }
        let frames = folder.appendingPathComponent("frames")
        if SafeFile.kind(at: frames) == "folder", let names = try? fm.contentsOfDirectory(atPath: frames.path) {
            for n in names where n.hasPrefix(".") && n.hasSuffix(".tmp") {
                try? fm.removeItem(at: frames.appendingPathComponent(n))
            }
        }
    }

    /// Runs a FileManager operation on `path`, its failure told in plain words and naming the path.
    static func plainly(_ path: URL, _ body: () throws -> Void) throws {
        do { try body() } catch { throw AtomicWrite.Failure(path: path.path, reason: ErrorText.describe(error)) }
    }

    func ensureFolder(_ dir: URL) throws {
        switch SafeFile.kind(at: dir) {
        case "folder": return
        case nil: try Self.plainly(dir) { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: false) }
        case let k?: throw AtomicWrite.Failure(path: dir.path, reason: "it exists as a \(k); remove it so tutor can write the frames")
        }
    }
}
