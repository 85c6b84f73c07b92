import Basics
import Engine
import Foundation
import Media
import ModelFiles
import Reasoner
import System
import TaskFolder
import Teacher
import Verdicts
#if canImport(Glibc)
import Glibc
#endif

/// Runs one task folder in place (`tutor run FOLDER`): check the folder, read the inputs, load
/// the model, run the strategy, write the outputs of docs/FORMAT.md, section 4, `verdict.json` last.
///
/// Nothing a task folder or a model folder holds makes it crash, hang or exit without a word:
/// input and model problems end as an `error` verdict whose message says what to fix, and a
/// folder that cannot take a verdict is refused before anything runs. Inputs are left
/// untouched. An earlier run's verdict stays until this run's inputs and model have passed
/// their checks; every output goes to a temporary name and is renamed into place, so a run
/// killed at any point leaves only complete files (and `.tutor-tmp.` temporaries, removed by
/// the next run).
public struct TaskRun {
    public var folder: URL
    /// The task's name in the verdict: the folder's name, or the spool's name for the task when
    /// the daemon runs it (`tutor run` is told it by the daemon).
    public var name: String
    /// `--model DIR`; nil looks it up (`ModelLocation`).
    public var modelOption: String?
    /// Engine threads (OpenBLAS and the engine's loops).
    public var threads: Int
    /// No progress line and no summary line.
    public var quiet: Bool
    public var gradient: GradientPath = StrategySettings.defaultGradient
    /// Why verdict.json could not be written, once `run` found out; nil when it was written.
    public let verdictWrite = VerdictWriteRecord()

    public init(folder: URL, name: String? = nil, modelOption: String? = nil, threads: Int = 1, quiet: Bool = false) {
        self.folder = folder
        self.name = name ?? folder.lastPathComponent
        self.modelOption = modelOption
        self.threads = threads
        self.quiet = quiet
    }

    /// Runs the task and returns the verdict written; nil when none could be written (the
    /// folder is unusable, or writing verdict.json failed), after saying why on standard error.
    @discardableResult
    public func run() -> Verdict? {
        let started = Clock.monotonicSeconds()
        // 1. The folder: one this user may write into, with room for verdict.json.
        if let problem = Self.folderProblem(folder) {
            StandardError.line("\(name): no verdict: \(problem)")
            return nil
        }
        let outputs = Outputs(folder: folder)

        // 2. The inputs, read, checked and parsed once.
        let report = TaskInputs.validate(folder: folder)
        guard let inputs = report.inputs else {
            return finish(.failure(.invalidInput, report.problems.joined(separator: "; ")), nil, outputs, started)
        }
        let settings = StrategySettings(job: inputs.job, gradient: gradient)

        // 3. The model, checked through before it is used.
        Threads.set(max(1, threads))
        let model: Model
        do { model = try Model.load(option: modelOption) } catch {
            return finish(.failure(.modelUnavailable, ErrorText.describe(error)), settings, outputs, started)
        }

        // 4. The strategy. The earlier run's verdict goes first, so that a verdict again means
        //    "this run finished".
        outputs.clearVerdict()
        outputs.removeStaleTemporaries()
        let (runner, result) = runStrategy(inputs, model.reasoner, settings, outputs)

        // 5. The outputs, and the judgment of the frames as written.
        let ending: Ending
        do { ending = try writeOutputs(inputs, result, runner, model, settings, outputs) } catch {
            ending = .failure(.outputNotWritten, "\(ErrorText.describe(error)); check that the task folder is writable and has free space",
                              evaluations: result.evaluations)
        }
        model.reasoner.detachLoRA()

        // 6. The verdict, last.
        return finish(ending, settings, outputs, started)
    }

    /// How a run ended: everything its verdict reports.
    enum Ending {
        case failure(_ code: ErrorCode, _ message: String, evaluations: Int = 0)
        case judged(Judged)
    }

    /// A run that wrote its outputs: the judgment of the frames as written and what led to it.
    struct Judged {
        var settings: StrategySettings
        var result: StrategyResult
        var judgment: Judgment
        /// The teacher's loss on the frames as written.
        var loss: Float
        var frames: [String]
        /// The adapter's weights, relative to the folder; nil when none was adapted.
        var adapter: String?
        var model: Verdict.Model
        /// Where the picture was judged, and the written frames' size: [width, height].
        var workingSize: [Int]
        var frameSize: [Int]
    }

    /// The Reasoner, and what a verdict says of it.
    struct Model {
        let reasoner: Reasoner
        let info: Verdict.Model

        static func load(option: String?) throws -> Model {
            let dir = try ModelLocation.resolve(option: option)
            let reasoner = try Reasoner.load(from: dir.path)
            let digest = try SHA256.hex(ofFile: dir.appendingPathComponent(Reasoner.weightsFileName).path)
            return Model(reasoner: reasoner,
                         info: Verdict.Model(name: reasoner.config.name, sha256: digest, parameters: reasoner.parameterCount))
        }
    }

    /// Why no verdict could be written into `folder`, or nil. Checked before anything else, so
    /// that a run whose result would be lost does not start.
    static func folderProblem(_ folder: URL) -> String? {
        var st = stat()
        if lstat(folder.path, &st) != 0 {
            if errno == ENOENT { return "\(folder.path) does not exist: give the task folder" }
            return "cannot look at \(folder.path): \(ErrorText.reason(errno: errno))"
        }
        if st.st_mode & S_IFMT != S_IFDIR {
            return "\(folder.path) is a \(FileKind(mode: st.st_mode)), not a folder (a link to one is not followed): give the task folder itself"
        }
        if access(folder.path, W_OK | X_OK) != 0 {
            return "cannot write into the task folder \(folder.path): \(ErrorText.reason(errno: errno)); tutor writes the frames and verdict.json there"
        }
        let verdict = folder.appendingPathComponent("verdict.json")
        if let k = SafeFile.kind(at: verdict), k != .file {
            return "cannot write \(verdict.path): it is a \(k); tutor writes the task's verdict under that name: move it away, then run the task again"
        }
        return nil
    }

    /// Runs the job's strategy, reporting progress in `progress.json` and on a terminal.
    func runStrategy(_ inputs: TaskInputs, _ reasoner: Reasoner, _ settings: StrategySettings,
                     _ outputs: Outputs) -> (StrategyRunner, StrategyResult) {
        // At the working size the rule file's objects need; the Reasoner sees a letterboxed view.
        let scene = Scene.judged(prompt: inputs.prompt, firstFrame: inputs.firstFrame, rules: inputs.rules,
                                 tokenizer: reasoner.tokenizer).scene
        let runner = StrategyRunner(reasoner: reasoner, scene: scene, rules: inputs.rules, firstFrame: inputs.firstFrame,
                                    settings: settings)
        let line = ProgressLine(enabled: !quiet && isatty(STDERR_FILENO) != 0)
        let questions = ([inputs.rules.goal] + inputs.rules.process).map(\.question)
        runner.progress = { event in
            try? outputs.writeJSON(ProgressLine.object(event, questions: questions, strategy: settings.strategy), name: "progress.json")
            line.show(event)
        }
        let result = runner.run()
        line.end()
        return (runner, result)
    }

    /// Writes the frames at the first frame's size (the longer side at most `frame_long_side`),
    /// one at a time, the contact sheet and the adapter (or removes an earlier run's), and judges
    /// the frames as written, decoded back from the files, at the working size.
    func writeOutputs(_ inputs: TaskInputs, _ result: StrategyResult, _ runner: StrategyRunner, _ model: Model,
                      _ settings: StrategySettings, _ outputs: Outputs) throws -> Ending {
        let scene = runner.scene
        let renderer = FinalVideo.renderer(firstFrame: inputs.firstFrame, scene: scene, trajectory: result.final.trajectory!,
                                           longSide: inputs.job.frameLongSide)
        var judged: [Float] = [], tiles: [RGBImage] = []
        let paths = try outputs.writeFrames(count: Trajectory.frames, quality: AsWritten.quality, frame: renderer.frame) { _, image in
            judged += FinalVideo.judgeable(image, working: scene.working)
            tiles.append(FinalVideo.sheetTile(image))
        }
        let asWritten = Video(frames: Trajectory.frames, height: scene.working.height, width: scene.working.width, pixels: judged)
        try outputs.writeJPEG(FinalVideo.contactSheet(tiles), name: "contact_sheet.jpg")
        var adapter: String? = nil
        if let lora = result.adapter {
            let staged = folder.appendingPathComponent(TemporaryName.make(for: "adapter"))
            // A half-saved adapter would hold space a full disk needs for the verdict.
            do { try lora.save(to: staged.path, baseModel: model.reasoner.config.name) } catch {
                try? Files.removeTree(staged.path)
                throw error
            }
            Files.syncFolder(staged.path)
            try outputs.replaceFolder("adapter", with: staged)
            adapter = "adapter/adapter_model.safetensors"
        } else {
            try outputs.removeFolder("adapter")
        }
        return .judged(Judged(settings: settings, result: result, judgment: runner.teacher.judge(asWritten),
                              loss: runner.teacher.score(asWritten, gradient: nil).loss, frames: paths, adapter: adapter,
                              model: model.info, workingSize: [scene.working.width, scene.working.height],
                              frameSize: [renderer.width, renderer.height]))
    }

    /// The verdict of a run: every verdict of `tutor run` is assembled here.
    func verdict(_ ending: Ending, _ settings: StrategySettings?, _ started: Double) -> Verdict {
        let strategy = (settings?.strategy ?? JobSettings.defaultStrategy).rawValue, seed = settings?.seed ?? 0
        var v: Verdict
        let evaluations: Int
        switch ending {
        case let .failure(code, message, n):
            v = Verdict.failure(task: name, strategy: strategy, seed: seed, code: code, message: message)
            evaluations = n
        case let .judged(j):
            v = Verdict(task: name, status: j.judgment.passed ? .passed : .failed, strategy: strategy, seed: seed)
            v.goal = Verdict.Answer(j.judgment.goal)
            v.process = j.judgment.process.map(Verdict.Answer.init)
            v.optimization = j.result.optimization.map(Verdict.Optimization.init)
            v.outputs = Verdict.Outputs(frames: j.frames, contactSheet: "contact_sheet.jpg", adapter: j.adapter)
            v.model = j.model
            v.base = Verdict.Answers(j.result.base.judgment)
            v.loss = rounded(Double(j.loss))
            if !j.result.samples.isEmpty { v.samples = j.result.samples.map(Verdict.Sample.init) }
            v.settings = Verdict.Settings(j.settings)
            v.workingSize = j.workingSize
            v.frameSize = j.frameSize
            evaluations = j.result.evaluations
        }
        v.cost = Verdict.Cost(modelEvaluations: evaluations, seconds: rounded(Clock.monotonicSeconds() - started, 3),
                              peakRSSBytes: Memory.peakResidentBytes() ?? 0)
        return v
    }

    /// Writes the verdict and says how the run ended; nil when the verdict could not be written
    /// (then `verdictWrite` says why).
    func finish(_ ending: Ending, _ settings: StrategySettings?, _ outputs: Outputs, _ started: Double) -> Verdict? {
        let v = verdict(ending, settings, started)
        do { try outputs.writeVerdict(v) } catch {
            let failure = error as? SystemError ?? SystemError("write", folder.path + "/verdict.json", errno: EIO)
            verdictWrite.failure = failure
            let result = v.error.map { "an error: \($0.message)" } ?? v.status.rawValue
            let todo = failure.isDiskFull ? "run the task again when there is space" : "fix this and run the task again"
            StandardError.line("\(name): no verdict: \(ErrorText.describe(failure)); the run's result (\(result)) is lost: \(todo)")
            return nil
        }
        if let e = v.error {
            StandardError.line("\(name): error: \(e.message)")
        } else if !quiet {
            var s = "\(name): \(v.status.rawValue) (\(v.strategy ?? "")"
            if let o = v.optimization?.steps { s += ", \(o) steps" }
            s += ", \(v.cost?.modelEvaluations ?? 0) model evaluations, \(v.cost?.seconds ?? 0) s)"
            print(s)
        }
        return v
    }
}

/// The progress line on a terminal and the content of `progress.json`.
final class ProgressLine: @unchecked Sendable {
    let enabled: Bool
    var shown = false

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ e: ProgressEvent) {
        guard enabled else { return }
        let text: String
        switch e {
        case let .sampled(i, n, loss, passed):
            text = "sample \(i + 1)/\(n)  loss \(String(format: "%.3f", loss))  \(passed ? "passes" : "fails")"
        case let .step(step, maxSteps, loss, pYes):
            text = "step \(step)/\(maxSteps)  loss \(String(format: "%.3f", loss))  goal p_yes \(String(format: "%.3f", pYes.first ?? 0))"
        }
        StandardError.write("\r\u{1B}[K" + text)
        shown = true
    }

    func end() {
        if shown { StandardError.write("\n") }
    }

    /// `progress.json`'s content.
    static func object(_ e: ProgressEvent, questions: [String], strategy: Strategy) -> JSONValue {
        switch e {
        case let .sampled(i, n, loss, passed):
            return .object([("strategy", .string(strategy.rawValue)), ("phase", "sampling"), ("sample", .int(i + 1)),
                            ("samples", .int(n)), ("loss", .double(rounded(Double(loss)))), ("passed", .bool(passed))])
        case let .step(step, maxSteps, loss, pYes):
            return .object([("strategy", .string(strategy.rawValue)), ("phase", "adapting"), ("step", .int(step)),
                            ("max_steps", .int(maxSteps)), ("loss", .double(rounded(Double(loss)))),
                            ("p_yes", .array(zip(questions, pYes).map {
                                .object([("question", .string($0)), ("p_yes", .double(rounded(Double($1))))])
                            }))])
        }
    }
}

/// Whether a run could write its verdict. A class, so that the record outlives the copy of
/// `TaskRun` that ran.
public final class VerdictWriteRecord: @unchecked Sendable {
    // @unchecked: written once by the thread that runs the task, read after `run` returns.
    public internal(set) var failure: SystemError?
    public init() {}
}
