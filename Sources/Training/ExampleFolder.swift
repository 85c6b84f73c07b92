import Foundation
import Media
import Reasoner
import TaskFolder
import Teacher
#if canImport(Glibc)
import Glibc
#endif

/// Why one example of a training folder cannot be used: a sentence that names the file and
/// what to fix.
public struct ExampleProblem: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// One example of a training folder in the layout of this field's benchmarks (VBVR,
/// VMEvalKit): `first_frame.png` or `.jpg`, `prompt.txt`, the solution as `final_frame.png` or
/// `.jpg` and/or a folder of the solution video's numbered frames (`frames/` or
/// `ground_truth/`), and `rules.json` when the example can be judged.
///
/// Read as task folders are (`SafeFile`): nothing behind a symbolic link, no FIFO or device,
/// sizes checked from the file and the image header before anything is decoded. The solution's
/// frames are not read here: `ExampleTracker` decodes them one at a time.
public struct ExampleFolder: Sendable {
    public var url: URL
    public var prompt: String
    public var firstFrame: RGBImage
    public var rules: RuleFile?
    /// The solution video's frames in order (paths), empty when there is only a final frame.
    public var frames: [URL]
    /// `final_frame.png|jpg`, when present.
    public var finalFrame: URL?

    public static let imageLimit = TaskInputs.jpegLimit
    /// Longest side of any image of an example.
    public static let maxSide = JPEG.defaultMaxSide
    /// Most frames a solution folder may hold.
    public static let maxFrames = 10_000
    public static let frameFolders = ["frames", "ground_truth"]

    public static func read(_ url: URL) throws(ExampleProblem) -> ExampleFolder {
        let firsts = ["first_frame.png", "first_frame.jpg", "first_frame.jpeg"].filter { SafeFile.kind(at: url.appendingPathComponent($0, isDirectory: false)) != nil }
        if firsts.isEmpty { throw ExampleProblem("no first_frame.png or first_frame.jpg") }
        if firsts.count > 1 { throw ExampleProblem("both \(firsts.joined(separator: " and ")): keep exactly one first frame") }
        let first = try decodeImage(firsts[0], in: url)
        let prompt: String
        do {
            let bytes = try SafeFile.read("prompt.txt", in: url, limit: TaskInputs.promptLimit)
            guard let text = String(validating: bytes, as: UTF8.self) else { throw ExampleProblem("prompt.txt is not UTF-8 text") }
            prompt = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if prompt.isEmpty { throw ExampleProblem("prompt.txt is empty") }
        } catch let e as InputFileError { throw ExampleProblem("\(e)") } catch let e as ExampleProblem { throw e } catch { throw ExampleProblem("\(error)") }
        var rules: RuleFile? = nil
        if SafeFile.kind(at: url.appendingPathComponent("rules.json", isDirectory: false)) != nil {
            do {
                rules = try RuleFile.parse(try SafeFile.read("rules.json", in: url, limit: TaskInputs.rulesLimit))
            } catch let e as InputFileError { throw ExampleProblem("\(e)") } catch { throw ExampleProblem("rules.json: \(error)") }
        }
        let finals = ["final_frame.png", "final_frame.jpg", "final_frame.jpeg"].filter { SafeFile.kind(at: url.appendingPathComponent($0, isDirectory: false)) != nil }
        if finals.count > 1 { throw ExampleProblem("both \(finals.joined(separator: " and ")): keep exactly one final frame") }
        var frames: [URL] = []
        for name in frameFolders {
            let sub = url.appendingPathComponent(name, isDirectory: true)
            guard let kind = SafeFile.kind(at: sub) else { continue }
            if kind != .folder { throw ExampleProblem("\(name) is a \(kind), not a folder (it is never followed)") }
            frames = try listFrames(sub, name: name)
            break
        }
        if frames.isEmpty && finals.isEmpty {
            throw ExampleProblem("no solution: neither final_frame.png/.jpg nor numbered frames in frames/ or ground_truth/")
        }
        return ExampleFolder(url: url, prompt: prompt, firstFrame: first, rules: rules, frames: frames,
                             finalFrame: finals.first.map { url.appendingPathComponent($0, isDirectory: false) })
    }

    /// Decodes an image of the example, refusing links, special files, files over the limit and
    /// images whose header says they are over `maxSide`.
    public static func decodeImage(_ name: String, in folder: URL) throws(ExampleProblem) -> RGBImage {
        try decodeImage(name, in: folder, atLeast: nil).image
    }

    /// The same for a picture the caller shrinks to `atLeast` or less anyway: a JPEG is decoded
    /// at the smallest of libjpeg's scales that is not smaller (`JPEG.decode(_:atLeast:)`), a
    /// PNG at full size. Returns the file's own size beside the decoded picture.
    public static func decodeImage(_ name: String, in folder: URL, atLeast: (width: Int, height: Int)?)
        throws(ExampleProblem) -> (image: RGBImage, width: Int, height: Int) {
        do {
            let bytes = try SafeFile.read(name, in: folder, limit: imageLimit)
            if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
                let img = try PNG.decode(bytes, maxSide: maxSide)
                return (img, img.width, img.height)
            }
            return try JPEG.decode(bytes, maxSide: maxSide, atLeast: atLeast)
        } catch let e as InputFileError {
            throw ExampleProblem("\(e)")
        } catch {
            throw ExampleProblem("\(name) cannot be decoded: \(error)")
        }
    }

    /// The numbered images of a solution folder, in the order of the number in their names.
    static func listFrames(_ folder: URL, name: String) throws(ExampleProblem) -> [URL] {
        guard let dir = opendir(folder.path) else { throw ExampleProblem("\(name)/ cannot be read: \(String(cString: strerror(errno)))") }
        defer { closedir(dir) }
        var found: [(Int, String)] = []
        while let e = readdir(dir) {
            let entry = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
            if entry == "." || entry == ".." { continue }
            let lower = entry.lowercased()
            guard lower.hasSuffix(".png") || lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") else { continue }
            let digits = entry.split(whereSeparator: { !$0.isNumber }).last.flatMap { Int($0) }
            guard let number = digits else { throw ExampleProblem("\(name)/\(entry) has no frame number in its name") }
            found.append((number, entry))
            if found.count > maxFrames { throw ExampleProblem("\(name)/ holds more than \(maxFrames) frames") }
        }
        found.sort { $0 < $1 }
        for i in found.indices.dropFirst() where found[i].0 == found[i - 1].0 {
            throw ExampleProblem("\(name)/\(found[i - 1].1) and \(found[i].1) have the same frame number")
        }
        return found.map { folder.appendingPathComponent($0.1, isDirectory: false) }
    }
}
