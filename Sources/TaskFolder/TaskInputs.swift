import Basics
import Foundation
import Media
import System
import Teacher

/// The inputs of a task folder (docs/FORMAT.md, section 1), read safely and checked.
public struct TaskInputs: Sendable {
    public var name: String
    public var prompt: String
    /// The rule file, parsed and checked.
    public var rules: RuleFile
    public var firstFrame: RGBImage
    public var job: JobSettings

    public static let promptLimit = 64 * 1024
    public static let rulesLimit = 1024 * 1024
    public static let jobLimit = 64 * 1024
    /// The most bytes a first frame may have (JPEG or PNG).
    public static let jpegLimit = 64 * 1024 * 1024
    /// A task's first frame is one of these, never both (docs/FORMAT.md).
    public static let firstFrameNames = ["first_frame.jpg", "first_frame.png"]
    /// The most pixels a written frame may have: the video is drawn one frame at a time at
    /// about 36 bytes a pixel, so this bounds a task's memory for frames to about 150 MB.
    public static let maxFramePixels = 2048 * 2048
    /// The most entries a task folder may hold (inputs, outputs and anything else).
    public static let maxEntries = 1000

    /// Every problem and warning found in a folder.
    public struct Report: Sendable {
        public var problems: [String] = []
        public var warnings: [String] = []
        public var inputs: TaskInputs?
        public var ok: Bool { problems.isEmpty }

        public var jsonString: String {
            let obj: JSONValue = .object([("valid", .bool(ok)), ("problems", .array(problems.map(JSONValue.string))),
                                          ("warnings", .array(warnings.map(JSONValue.string)))])
            var text = String(decoding: obj.prettyBytes(), as: UTF8.self)
            text.removeLast() // the caller prints it with its own newline
            return text
        }
    }

    /// Checks a folder: each required file is a regular file (never followed), the first frame
    /// (first_frame.jpg or first_frame.png, exactly one) decodes within the size limit, the
    /// prompt is non-empty UTF-8, rules.json is a valid rule file (parsed here, once, and checked
    /// against the decoded first frame by `RuleFile.check(firstFrame:)`), job.json has only known
    /// keys in range, and the frames it asks for fit the cap arithmetic.
    public static func validate(folder: URL, maxSide: Int = JPEG.defaultMaxSide) -> Report {
        var r = Report()
        let name = folder.lastPathComponent
        switch SafeFile.kind(at: folder) {
        case nil: r.problems.append("\(folder.path): no such folder"); return r
        case .folder?: break
        case let k?: r.problems.append("\(folder.path) is a \(k), not a folder"); return r
        }
        // A folder with thousands of entries is almost always a mistake (a dataset dropped in
        // by accident); refusing it keeps a scan of the spool cheap.
        if let n = try? FileManager.default.contentsOfDirectory(atPath: folder.path).count, n > maxEntries {
            r.problems.append("the folder holds \(n) entries, more than the limit of \(maxEntries): a task folder needs only prompt.txt, rules.json, first_frame.jpg (or .png) and job.json")
            return r
        }
        var prompt = ""
        do {
            let bytes = try SafeFile.read("prompt.txt", in: folder, limit: promptLimit)
            if let s = String(validating: bytes, as: UTF8.self) {
                prompt = s.trimmingCharacters(in: .whitespacesAndNewlines)
                if prompt.isEmpty { r.problems.append("prompt.txt is empty: write the task in words") }
            } else {
                r.problems.append("prompt.txt is not valid UTF-8 text")
            }
        } catch { r.problems.append(error.description) }

        var image: RGBImage?
        var firstFrameName = "first_frame.jpg"
        let present = firstFrameNames.filter { SafeFile.kind(at: folder.appendingPathComponent($0)) != nil }
        if present.count > 1 {
            r.problems.append("both first_frame.jpg and first_frame.png are present: keep exactly one first frame")
        } else {
            firstFrameName = present.first ?? "first_frame.jpg"
            do {
                let bytes = try SafeFile.read(firstFrameName, in: folder, limit: jpegLimit)
                image = firstFrameName.hasSuffix(".png") ? try PNG.decode(bytes, maxSide: maxSide)
                                                         : try JPEG.decode(bytes, maxSide: maxSide)
            } catch let e as InputFileError {
                r.problems.append(present.isEmpty ? "first_frame.jpg (or first_frame.png) is missing" : e.description)
            }
            catch let e as JPEGError { r.problems.append("\(firstFrameName): \(e.description)") }
            catch let e as PNGError { r.problems.append("\(firstFrameName): \(e.description)") }
            catch { r.problems.append("\(firstFrameName): \(ErrorText.describe(error))") }
        }

        var rules: RuleFile?
        do {
            let parsed = try RuleFile.parse(try SafeFile.read("rules.json", in: folder, limit: rulesLimit))
            let (p, w) = parsed.check(firstFrame: image)
            r.problems += p; r.warnings += w
            rules = parsed
        } catch let e as InputFileError { r.problems.append(e.description) }
        catch { r.problems.append("\(error)") }

        var job = JobSettings()
        if SafeFile.kind(at: folder.appendingPathComponent("job.json")) != nil {
            do {
                let bytes = try SafeFile.read("job.json", in: folder, limit: jobLimit)
                let (j, p) = JobSettings.parse(bytes)
                job = j
                r.problems += p.map(\.description)
            } catch { r.problems.append(error.description) }
        }
        if let image {
            // The written frames: the first frame's size, the longer side at most frame_long_side.
            let s = Double(min(job.frameLongSide, max(image.width, image.height))) / Double(max(image.width, image.height))
            let ow = max(1, Int((Double(image.width) * s).rounded())), oh = max(1, Int((Double(image.height) * s).rounded()))
            if ow * oh > maxFramePixels {
                r.problems.append("job.json: frame_long_side: frames of \(ow) x \(oh) pixels (the \(image.width) x \(image.height) first frame with its longer side at most \(job.frameLongSide)) are over the limit of \(maxFramePixels) pixels a frame (2048 x 2048); set frame_long_side to 2048 or less")
            }
        }
        if r.problems.isEmpty, let image, let rules {
            r.inputs = TaskInputs(name: name, prompt: prompt, rules: rules, firstFrame: image, job: job)
        }
        return r
    }
}
