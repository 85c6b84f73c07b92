import Foundation
import ModelFiles
import Reasoner
import TaskFolder
#if canImport(Glibc)
import Glibc
#endif

/// What reading a training folder found (`data/summary.json` of the run).
public struct TrainingFolderSummary: Codable, Sendable, Equatable {
    public var folder: String
    /// Subfolders read (every entry but regular files).
    public var entries: Int = 0
    public var training: Int = 0
    public var heldOut: Int = 0
    /// Usable examples whose motion was interpolated from a final frame alone.
    public var interpolated: Int = 0
    public var unusable: Int = 0
    /// Unusable examples by kind of reason.
    public var reasons: [String: Int] = [:]
    /// Regular files beside the example folders (not examples; ignored).
    public var files: Int = 0
    /// Hidden entries (names starting with a dot), not read.
    public var hidden: Int = 0
    public var heldOutShare: Double
    public var seconds: Double = 0

    enum CodingKeys: String, CodingKey {
        case folder, entries, training, interpolated, unusable, reasons, files, hidden, seconds
        case heldOut = "held_out", heldOutShare = "held_out_share"
    }
}

/// Reads a user's training folder (one subfolder per example, `ExampleFolder`) into record
/// files (`ExampleRecords`), streaming: entries are listed with `readdir` and each example is
/// read, tracked and written before the next, so memory does not grow with the folder.
///
/// A run's `data/` folder afterwards:
///
///     train.records     the training examples
///     heldout.records   the held-out part (`heldOutShare`, by a hash of the folder name, so the
///                       same folder splits the same way whatever order it is listed in)
///     heldout.txt       the held-out examples' folder names, in record order
///     unusable.txt      every example that cannot be used: name, tab, reason
///     summary.json      the counts (`TrainingFolderSummary`), written last
public enum TrainingFolder {
    public static func isHeldOut(_ name: String, share: Double) -> Bool {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Double(h % 100_000) < share * 100_000
    }

    /// The kind of an unusable example's reason, for the summary.
    static func kind(_ reason: String) -> String {
        let table: [(String, String)] = [
            ("vanishes", "a layer vanishes"), ("splits", "a layer splits"), ("first frame's size", "a frame of another size"),
            ("symbolic link", "a symbolic link"), ("not a regular file", "not a regular file"), ("over the limit", "too large"),
            ("larger than", "too large"), ("prompt", "prompt"), ("cannot be decoded", "an unreadable image"),
            ("no solution", "no solution"), ("no first_frame", "no first frame"), ("rules.json", "rules.json"),
            ("no layer", "nothing to move"),
        ]
        return table.first { reason.contains($0.0) }?.1 ?? "other"
    }

    /// Reads `tasks` into `data` (created). `log` gets a progress line every `every` entries.
    /// Throws when the folder cannot be listed or yields no usable example.
    @discardableResult
    public static func prepare(tasks: String, data: String, heldOutShare: Double, every: Int = 1000,
                               log: (String) -> Void) throws -> TrainingFolderSummary {
        let t0 = Date()
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        guard let dir = opendir(tasks) else {
            throw ReasonerError.file("\(tasks) cannot be listed: \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        let train = try ExampleRecords.Writer(path: data + "/train.records")
        let held = try ExampleRecords.Writer(path: data + "/heldout.records")
        var heldNames = "", unusable = try LineWriter(path: data + "/unusable.txt")
        var s = TrainingFolderSummary(folder: tasks, heldOutShare: heldOutShare)
        let root = URL(fileURLWithPath: tasks)
        while let e = readdir(dir) {
            let name = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
            if name == "." || name == ".." { continue }
            // Hidden entries (a folder still being written under a temporary name) are counted, not read.
            if name.hasPrefix(".") { s.hidden += 1; continue }
            let url = root.appendingPathComponent(name, isDirectory: true)
            let entryKind = SafeFile.kind(at: url).map(\.rawValue) ?? "missing entry"
            if entryKind == "regular file" { s.files += 1; continue }
            s.entries += 1
            do {
                if entryKind != "folder" { throw ExampleProblem("a \(entryKind), not an example folder (it is never followed)") }
                let ex = try ExampleFolder.read(url)
                let tracked = try ExampleTracker.track(ex)
                if isHeldOut(name, share: heldOutShare) {
                    try held.append(tracked); s.heldOut += 1
                    heldNames += name + "\n"
                } else {
                    try train.append(tracked); s.training += 1
                }
                if tracked.interpolated { s.interpolated += 1 }
            } catch let p as ExampleProblem {
                s.unusable += 1
                s.reasons[kind(p.reason), default: 0] += 1
                try unusable.write(name + "\t" + p.reason + "\n")
            }
            if s.entries % every == 0 {
                let dt = Date().timeIntervalSince(t0)
                log(String(format: "reading: %d examples, %d usable, %d unusable, %.0f examples/s", s.entries, s.training + s.heldOut,
                           s.unusable, Double(s.entries) / max(dt, 1e-9)))
            }
        }
        try train.finish(); try held.finish(); try unusable.finish()
        try AtomicFileWriter.write(Array(heldNames.utf8), to: data + "/heldout.txt")
        s.seconds = Date().timeIntervalSince(t0)
        if s.training + s.heldOut == 0 {
            let why = s.reasons.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            throw ReasonerError.file("\(tasks) yields no usable example: \(s.entries) entries" + (why.isEmpty ? "" : " (\(why))")
                + (s.entries == 0 ? "; a training folder holds one subfolder per example with first_frame.png or .jpg, prompt.txt and final_frame.png/.jpg or frames/" : "; every reason is in \(data)/unusable.txt"))
        }
        if s.training == 0 {
            throw ReasonerError.file("all \(s.heldOut) usable examples of \(tasks) are held out: lower --held-out or add examples")
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.write(Array(try enc.encode(s)) + [0x0A], to: data + "/summary.json")
        return s
    }

    /// The summary of a folder prepared before (a resumed run), or nil.
    public static func summary(data: String) -> TrainingFolderSummary? {
        guard let d = FileManager.default.contents(atPath: data + "/summary.json") else { return nil }
        return try? JSONDecoder().decode(TrainingFolderSummary.self, from: d)
    }
}

/// Appends text to a file under a temporary name, renamed into place when finished.
struct LineWriter {
    let path: String, temp: String, handle: FileHandle
    init(path: String) throws {
        self.path = path; temp = path + ".partial"
        _ = FileManager.default.createFile(atPath: temp, contents: nil)
        guard let h = FileHandle(forWritingAtPath: temp) else { throw ReasonerError.file("\(temp) cannot be created") }
        handle = h
    }
    mutating func write(_ s: String) throws { try handle.write(contentsOf: Data(s.utf8)) }
    func finish() throws {
        try handle.synchronize(); try handle.close()
        if rename(temp, path) != 0 { throw ReasonerError.file("\(path): \(String(cString: strerror(errno)))") }
    }
}
