import Foundation
import Media
import Reasoner
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `tutor run` as a user runs it: the built executable on task folders on disk. The helpers
/// of every such test; the tests are in its subclasses.
class TutorRunTestCase: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

    // MARK: Helpers

    func tutor() throws -> String {
        guard let t = builtTutor() else { throw XCTSkip("the tutor executable is not built: run `swift build` first") }
        return t
    }

    /// Runs tutor with `args` (and `environment` on top of this process's, without TUTOR_MODEL);
    /// returns the exit status and what it printed.
    @discardableResult
    func run(_ args: [String], environment: [String: String] = [:], executable: String? = nil) throws -> (status: Int32, output: String) {
        var env: [String: String?] = ["TUTOR_MODEL": nil]
        for (k, v) in environment { env[k] = v }
        let r = try runProgram(try executable ?? tutor(), args, environment: env, mergeOutput: true)
        return (r.status, r.stdout)
    }

    /// A tiny model with random weights in `root/model`.
    func tinyModel() throws -> String {
        let dir = root.appendingPathComponent("model").path
        if !FileManager.default.fileExists(atPath: dir + "/config.json") {
            try Reasoner.makeTinyRandom().saveCheckpoint(to: dir)
        }
        return dir
    }

    /// A generated held-out task folder, with `job` as job.json when given.
    func makeTask(_ name: String, family: String = "obstacles", seed: Int = 1_000_003, job: String? = nil) throws -> URL {
        let dir = root.appendingPathComponent(name)
        let r = try run(["make-task", family, "--seed", String(seed), "--out", dir.path])
        XCTAssertEqual(r.status, 0, r.output)
        if let job { try Data(job.utf8).write(to: dir.appendingPathComponent("job.json")) }
        return dir
    }

    func verdict(_ dir: URL) throws -> [String: Any] {
        let data = try Data(contentsOf: dir.appendingPathComponent("verdict.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Every file under `dir` (relative path -> bytes), links reported as "link -> target".
    func snapshot(_ dir: URL) throws -> [String: Data] {
        var out: [String: Data] = [:]
        let fm = FileManager.default
        for name in try fm.subpathsOfDirectory(atPath: dir.path) {
            let p = dir.appendingPathComponent(name).path
            if let dest = try? fm.destinationOfSymbolicLink(atPath: p) { out[name] = Data("link -> \(dest)".utf8); continue }
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue { out[name] = fm.contents(atPath: p) ?? Data() }
        }
        return out
    }
}

final class RunTests: TutorRunTestCase {
    // MARK: Input errors

    /// Each input error ends as an error verdict that names the problem, exit 1, the inputs
    /// untouched, and no model loaded (the model path given does not exist: reaching it would
    /// give a model error instead).
    func testInputErrorsGiveAnErrorVerdictWithoutLoadingTheModel() throws {
        let cases: [(String, (URL) throws -> Void, String)] = [
            ("missing-file", { try FileManager.default.removeItem(at: $0.appendingPathComponent("rules.json")) }, "rules.json"),
            ("symlink", {
                let f = $0.appendingPathComponent("first_frame.jpg")
                try FileManager.default.removeItem(at: f)
                try FileManager.default.createSymbolicLink(atPath: f.path, withDestinationPath: "/etc/passwd")
            }, "first_frame.jpg"),
            ("zero-byte-jpeg", { try Data().write(to: $0.appendingPathComponent("first_frame.jpg")) }, "first_frame.jpg"),
            ("huge-header", {
                var bytes = try JPEG.encode(RGBImage(width: 8, height: 8, fill: (1, 2, 3)))
                let sof = (0..<bytes.count - 1).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 }!
                bytes[sof + 5] = 0x75; bytes[sof + 6] = 0x30; bytes[sof + 7] = 0x75; bytes[sof + 8] = 0x30
                try Data(bytes).write(to: $0.appendingPathComponent("first_frame.jpg"))
            }, "30000 x 30000"),
            ("unknown-check", {
                let p = $0.appendingPathComponent("rules.json")
                let s = try String(contentsOf: p, encoding: .utf8).replacingOccurrences(of: "\"avoid\"", with: "\"dodge\"")
                try Data(s.utf8).write(to: p)
            }, "dodge"),
            ("unknown-job-key", { try Data("{\"strategy\": \"base\", \"colour\": 1}".utf8).write(to: $0.appendingPathComponent("job.json")) }, "colour"),
            ("out-of-range", { try Data("{\"max_steps\": 100000}".utf8).write(to: $0.appendingPathComponent("job.json")) }, "max_steps"),
            ("repeated-job-key", { try Data("{\"seed\": 1, \"seed\": 2}".utf8).write(to: $0.appendingPathComponent("job.json")) }, "job.json: seed: appears twice"),
            ("job-trailing-comma", { try Data("{\"seed\": 1,}".utf8).write(to: $0.appendingPathComponent("job.json")) }, "trailing comma"),
            ("utf16-job", { try Data([0xFF, 0xFE] + Array("{}".utf8).flatMap { [$0, 0] }).write(to: $0.appendingPathComponent("job.json")) }, "UTF-16"),
            ("signed-colour", {
                let p = $0.appendingPathComponent("rules.json")
                var s = try String(contentsOf: p, encoding: .utf8)
                let r = try XCTUnwrap(s.range(of: ##""#[0-9a-f]{6}""##, options: .regularExpression))
                s.replaceSubrange(r, with: ##""#+f+f+f""##)
                try Data(s.utf8).write(to: p)
            }, "#+f+f+f"),
            ("non-utf8-prompt", { try Data([0x4D, 0xFF, 0xFE, 0x6F]).write(to: $0.appendingPathComponent("prompt.txt")) }, "UTF-8"),
            ("png-not-png", {
                try FileManager.default.moveItem(at: $0.appendingPathComponent("first_frame.jpg"), to: $0.appendingPathComponent("first_frame.png"))
            }, "first_frame.png: not a PNG"),
            ("both-first-frames", {
                try Data(PNG.encode(RGBImage(width: 8, height: 8, fill: (1, 2, 3)))).write(to: $0.appendingPathComponent("first_frame.png"))
            }, "both first_frame.jpg and first_frame.png"),
            ("frame-too-large", {
                try Data(JPEG.encode(RGBImage(width: 3000, height: 2400, fill: (240, 240, 240)))).write(to: $0.appendingPathComponent("first_frame.jpg"))
                try Data("{\"frame_long_side\": 4096}".utf8).write(to: $0.appendingPathComponent("job.json"))
            }, "frame_long_side: frames of 3000 x 2400"),
        ]
        for (name, damage, mention) in cases {
            let dir = try makeTask(name)
            try damage(dir)
            let before = try snapshot(dir)
            let r = try run(["run", dir.path, "--model", root.appendingPathComponent("no-model").path, "--quiet"])
            XCTAssertEqual(r.status, 1, "\(name): \(r.output)")
            let v = try verdict(dir)
            XCTAssertEqual(v["status"] as? String, "error", name)
            XCTAssertEqual(v["passed"] as? Bool, false, name)
            let e = try XCTUnwrap(v["error"] as? [String: Any], name)
            XCTAssertEqual(e["code"] as? String, "invalid-input", "\(name): \(e)")
            XCTAssertTrue((e["message"] as? String ?? "").contains(mention), "\(name): \(e["message"] ?? "")")
            var after = try snapshot(dir)
            after.removeValue(forKey: "verdict.json")
            XCTAssertEqual(after, before, "\(name): the inputs changed or other files appeared")
        }
    }

    func testMissingModelIsAnErrorVerdictThatSaysWhereToPutIt() throws {
        let dir = try makeTask("no-model")
        let r = try run(["run", dir.path, "--model", root.appendingPathComponent("nowhere").path, "--quiet"])
        XCTAssertEqual(r.status, 1)
        let e = try XCTUnwrap(try verdict(dir)["error"] as? [String: Any])
        XCTAssertEqual(e["code"] as? String, "model-unavailable")
        XCTAssertTrue((e["message"] as? String ?? "").contains("config.json"), "\(e)")
    }

    // MARK: A full run

    /// A full teacher-lora run writes every output with the verdict last, a PEFT adapter whose
    /// keys and shapes fit the model, and the same bytes again from a copy of the same folder.
    func testFullRunWritesEveryOutputDeterministically() throws {
        let model = try tinyModel()
        let job = "{\"strategy\": \"teacher-lora\", \"seed\": 7, \"max_steps\": 3, \"rank\": 4, \"alpha\": 8, \"sample_steps\": 2}"
        let a = try makeTask("full-a", job: job)
        let b = try makeTask("full-b", job: job)
        let ra = try run(["run", a.path, "--model", model])
        XCTAssertTrue(ra.status == 0 || ra.status == 1, ra.output)
        try run(["run", b.path, "--model", model, "--quiet"])
        let v = try verdict(a)
        XCTAssertNotEqual(v["status"] as? String, "error", "\(v)")
        XCTAssertEqual((v["status"] as? String) == "passed", ra.status == 0)
        XCTAssertEqual(v["strategy"] as? String, "teacher-lora")
        XCTAssertEqual(v["seed"] as? Int, 7)
        let fm = FileManager.default
        let frames = try fm.contentsOfDirectory(atPath: a.appendingPathComponent("frames").path).sorted()
        XCTAssertEqual(frames, (0..<16).map { String(format: "%02d.jpg", $0) })
        for f in frames {
            // The first frame's size (make-task draws 256 x 256).
            let img = try JPEG.decode(contentsOf: a.appendingPathComponent("frames/" + f))
            XCTAssertEqual([img.width, img.height], [256, 256])
        }
        // 4:4:4: every component of the frame header (SOF0) samples 1 x 1.
        let jpg = Array(fm.contents(atPath: a.appendingPathComponent("frames/00.jpg").path)!)
        let sof = try XCTUnwrap((0..<jpg.count - 1).first { jpg[$0] == 0xFF && jpg[$0 + 1] == 0xC0 })
        XCTAssertEqual(jpg[sof + 9], 3)
        XCTAssertEqual([jpg[sof + 11], jpg[sof + 14], jpg[sof + 17]], [0x11, 0x11, 0x11], "frames are written 4:4:4")
        XCTAssertTrue(fm.fileExists(atPath: a.appendingPathComponent("contact_sheet.jpg").path))
        XCTAssertTrue(fm.fileExists(atPath: a.appendingPathComponent("progress.json").path))
        // verdict.json is written last.
        func mtime(_ p: String) throws -> Double {
            var st = stat()
            XCTAssertEqual(stat(a.appendingPathComponent(p).path, &st), 0, p)
            return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) * 1e-9
        }
        let last = try mtime("verdict.json")
        for p in frames.map({ "frames/" + $0 }) + ["contact_sheet.jpg", "progress.json", "adapter/adapter_model.safetensors", "adapter/adapter_config.json"] {
            XCTAssertLessThanOrEqual(try mtime(p), last, p)
        }
        // The verdict's parts.
        let cost = try XCTUnwrap(v["cost"] as? [String: Any])
        XCTAssertGreaterThan(cost["model_evaluations"] as? Int ?? 0, 0)
        XCTAssertGreaterThan(cost["peak_rss_bytes"] as? Int ?? 0, 1 << 20)
        XCTAssertNotNil(cost["seconds"] as? Double)
        let opt = try XCTUnwrap(v["optimization"] as? [String: Any])
        XCTAssertEqual((opt["loss"] as? [Double])?.count, opt["steps"] as? Int)
        XCTAssertNotNil((v["goal"] as? [String: Any])?["p_yes"])
        let rules = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: a.appendingPathComponent("rules.json"))) as? [String: Any])
        XCTAssertEqual((v["process"] as? [Any])?.count, (rules["process"] as? [Any])?.count)
        XCTAssertNotNil((v["base"] as? [String: Any])?["goal"], "the unadapted video's answers")
        XCTAssertEqual(((v["model"] as? [String: Any])?["sha256"] as? String)?.count, 64)
        // The adapter in PEFT's layout: keys and shapes.
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: a.appendingPathComponent("adapter/adapter_config.json"))) as? [String: Any])
        XCTAssertEqual(config["peft_type"] as? String, "LORA")
        XCTAssertEqual(config["r"] as? Int, 4)
        XCTAssertEqual(config["lora_alpha"] as? Double, 8)
        let st = try Array(Data(contentsOf: a.appendingPathComponent("adapter/adapter_model.safetensors")))
        let n = st[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let tensors = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(st[8..<(8 + n)])) as? [String: Any])
        let q = try XCTUnwrap(tensors["base_model.model.blocks.0.attn.q.lora_A.weight"] as? [String: Any])
        XCTAssertEqual(q["shape"] as? [Int], [4, 32])
        let fc2 = try XCTUnwrap(tensors["base_model.model.blocks.0.mlp.fc2.lora_B.weight"] as? [String: Any])
        XCTAssertEqual(fc2["shape"] as? [Int], [32, 4])
        XCTAssertEqual(tensors.keys.filter { $0 != "__metadata__" }.count, 12)
        // Determinism: frames, adapter and verdict (apart from the timings) are byte-identical.
        for p in frames.map({ "frames/" + $0 }) + ["contact_sheet.jpg", "adapter/adapter_model.safetensors", "adapter/adapter_config.json"] {
            XCTAssertEqual(fm.contents(atPath: a.appendingPathComponent(p).path), fm.contents(atPath: b.appendingPathComponent(p).path), p)
        }
        var va = v, vb = try verdict(b)
        for k in ["cost", "task"] { va.removeValue(forKey: k); vb.removeValue(forKey: k) }
        XCTAssertEqual(NSDictionary(dictionary: va), NSDictionary(dictionary: vb))
        XCTAssertEqual((try verdict(b)["cost"] as? [String: Any])?["model_evaluations"] as? Int, cost["model_evaluations"] as? Int)
    }

    /// kill -9 in the middle of a run leaves no half-written output under a visible name, and
    /// running the folder again completes it.
    /// A PNG first frame of another size and aspect: frames come back at its size (or capped by
    /// frame_long_side), and frame 0 reproduces the first frame (PSNR at least 35 dB).
    func testPictureOfAnotherSizeComesBackWhole() throws {
        let model = try tinyModel()
        let dir = root.appendingPathComponent("wide")
        XCTAssertEqual(try run(["make-task", "align", "--seed", "1000002", "--out", dir.path, "--size", "400x250", "--png"]).status, 0)
        try Data("{\"strategy\": \"base\"}".utf8).write(to: dir.appendingPathComponent("job.json"))
        let r = try run(["run", dir.path, "--model", model, "--quiet"])
        XCTAssertTrue(r.status == 0 || r.status == 1, r.output)
        XCTAssertNotEqual(try verdict(dir)["status"] as? String, "error", r.output)
        let first = try PNG.decode(Array(Data(contentsOf: dir.appendingPathComponent("first_frame.png"))))
        let f0 = try JPEG.decode(contentsOf: dir.appendingPathComponent("frames/00.jpg"))
        XCTAssertEqual([f0.width, f0.height], [400, 250])
        var se = 0.0
        for i in first.pixels.indices { let d = Double(first.pixels[i]) - Double(f0.pixels[i]); se += d * d }
        let psnr = 10 * log10(255 * 255 / (se / Double(first.pixels.count)))
        XCTAssertGreaterThanOrEqual(psnr, 35, "frame 0 against the first frame")
        let sheet = try JPEG.decode(contentsOf: dir.appendingPathComponent("contact_sheet.jpg"))
        XCTAssertGreaterThan(sheet.width, 4 * 200, "the contact sheet's tiles stay large enough to see")
        // frame_long_side caps the written frames, keeping the aspect.
        try Data("{\"strategy\": \"base\", \"frame_long_side\": 200}".utf8).write(to: dir.appendingPathComponent("job.json"))
        _ = try run(["run", dir.path, "--model", model, "--quiet"])
        let small = try JPEG.decode(contentsOf: dir.appendingPathComponent("frames/15.jpg"))
        XCTAssertEqual([small.width, small.height], [200, 125])
    }

    func testKilledRunLeavesNoHalfFileAndRerunCompletes() throws {
        let model = try tinyModel()
        let dir = try makeTask("killed", job: "{\"strategy\": \"teacher-lora\", \"max_steps\": 400, \"stop_loss\": 0, \"rank\": 4, \"sample_steps\": 2}")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try tutor())
        p.arguments = ["run", dir.path, "--model", model, "--quiet"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait for a few steps of progress, then kill it mid-write as likely as anywhere.
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("progress.json").path) && Date() < deadline {
            usleep(20_000)
        }
        usleep(300_000)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("verdict.json").path))
        // Every visible output is whole.
        let progress = try Data(contentsOf: dir.appendingPathComponent("progress.json"))
        XCTAssertNotNil(try? JSONSerialization.jsonObject(with: progress), "progress.json is whole JSON")
        for (name, data) in try snapshot(dir) where !name.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
            if name.hasSuffix(".jpg") { XCTAssertEqual(Array(data.suffix(2)), [0xFF, 0xD9], "\(name) is a whole JPEG") }
            if name.hasSuffix(".json") { XCTAssertNotNil(try? JSONSerialization.jsonObject(with: data), "\(name) is whole JSON") }
        }
        // Again, with a small budget: it completes and tidies what the killed run left.
        try Data("{\"strategy\": \"teacher-lora\", \"max_steps\": 2, \"rank\": 4, \"sample_steps\": 2}".utf8)
            .write(to: dir.appendingPathComponent("job.json"))
        let r = try run(["run", dir.path, "--model", model, "--quiet"])
        XCTAssertTrue(r.status == 0 || r.status == 1, r.output)
        XCTAssertNotEqual(try verdict(dir)["status"] as? String, "error")
        let hidden = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(hidden, [], "temporaries of the killed run are removed")
    }
}
