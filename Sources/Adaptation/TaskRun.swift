import Engine
import Foundation
import Media
import Reasoner
import System
import TaskFolder
import Teacher
#if canImport(Glibc)
import Glibc
#endif

/// Runs one task folder in place (`tutor run FOLDER`): validate the inputs, load the model,
/// compile the teacher, run the strategy, write the outputs of SPEC section 4, `verdict.json`
/// last.
///
/// Input problems never throw out of here: they end as an `error` verdict whose message says
/// what to fix, written before the model is loaded, and the inputs are left untouched. Every
/// output goes to a temporary dot-name and is renamed into place, so a run killed at any point
/// leaves only complete files (and `.tutor-tmp.` temporaries, removed by the next run).
public struct TaskRun {
    public var folder: URL
    /// `--model DIR`; nil looks it up (`ModelLocation`).
    public var modelOption: String?
    /// Engine threads (OpenBLAS and the engine's loops).
    public var threads: Int
    /// No progress line and no summary line.
    public var quiet: Bool
    public var gradient: GradientPath = StrategySettings.defaultGradient
    /// Why verdict.json could not be written, once `run` found out; nil when it was written.
    public let verdictWrite = VerdictWriteRecord()

    public init(folder: URL, modelOption: String? = nil, threads: Int = 1, quiet: Bool = false) {
        self.folder = folder
        self.modelOption = modelOption
        self.threads = threads
        self.quiet = quiet
    }

    /// The task's name in the verdict: the spool's name for it when run by the daemon.
    var taskName: String {
        if let n = ProcessInfo.processInfo.environment["TUTOR_SPOOL_TASK"], !n.isEmpty { return n }
        return folder.lastPathComponent
    }

    /// Runs the task and returns the verdict written (nil when the folder itself is unusable:
    /// not a folder, or a link to one; then nothing is written).
    @discardableResult
    public func run() -> Verdict? {
        let started = Clock.monotonicSeconds()
        let name = taskName
        guard SafeFile.kind(at: folder) == .folder else {
            report("\(folder.path) is not a folder (a link to one is not followed): give the task folder itself")
            return nil
        }
        let outputs = Outputs(folder: folder)
        outputs.clearVerdict()
        outputs.removeStaleTemporaries()

        // 1. Inputs, rules included, before anything expensive.
        let report = TaskInputs.validate(folder: folder)
        guard let inputs = report.inputs else {
            let v = Verdict.failure(task: name, strategy: JobSettings.defaultStrategy.rawValue, seed: 0, code: "invalid-input",
                                    message: report.problems.joined(separator: "; "))
            return finish(v, outputs, started)
        }
        let settings = StrategySettings(job: inputs.job, gradient: gradient)
        func failure(_ code: String, _ message: String) -> Verdict {
            Verdict.failure(task: name, strategy: settings.strategy.rawValue, seed: settings.seed, code: code, message: message)
        }
        let rules: RuleFile
        do { rules = try RuleFile.parse(inputs.rulesBytes) } catch {
            return finish(failure("invalid-input", error.description), outputs, started)
        }

        // 2. The model.
        Threads.set(max(1, threads))
        let reasoner: Reasoner
        let modelInfo: [String: Any]
        do {
            let dir = try ModelLocation.resolve(option: modelOption)
            reasoner = try Reasoner.load(from: dir.path)
            let digest = try SHA256.hex(ofFile: dir.appendingPathComponent(Reasoner.weightsFileName).path)
            modelInfo = ["name": reasoner.config.name, "sha256": digest, "parameters": reasoner.parameterCount]
        } catch {
            return finish(failure("model-unavailable", "\(error)"), outputs, started)
        }

        // 3. The strategy, at the working size the rule file's objects need.
        let working = WorkingSize.choose(rules: rules, firstFrame: inputs.firstFrame)
        let scene = Scene(prompt: inputs.prompt, firstFrame: inputs.firstFrame, working: (working.width, working.height),
                          tokenizer: reasoner.tokenizer)
        let runner = StrategyRunner(reasoner: reasoner, scene: scene, rules: rules, firstFrame: inputs.firstFrame,
                                    settings: settings)
        let line = ProgressLine(enabled: !quiet && isatty(STDERR_FILENO) != 0)
        let questions = ([rules.goal] + rules.process).map(\.question)
        runner.progress = { event in
            try? outputs.writeJSON(ProgressLine.object(event, questions: questions, strategy: settings.strategy), name: "progress.json")
            line.show(event)
        }
        let result = runner.run()
        line.end()

        // 4. The outputs, verdict last.
        do {
            // The frames at the first frame's size, written one at a time; the verdict judges
            // them decoded back, at the working size.
            let renderer = FinalVideo.renderer(firstFrame: inputs.firstFrame, scene: scene, trajectory: result.final.trajectory!,
                                               longSide: inputs.job.frameLongSide)
            var judged: [Float] = [], tiles: [RGBImage] = []
            let paths = try outputs.writeFrames(count: Trajectory.frames, quality: AsWritten.quality, frame: renderer.frame) { _, image in
                judged += FinalVideo.judgeable(image, working: scene.working)
                tiles.append(FinalVideo.sheetTile(image))
            }
            let asWritten = Video(frames: Trajectory.frames, height: scene.working.height, width: scene.working.width, pixels: judged)
            try outputs.writeJPEG(FinalVideo.contactSheet(tiles), name: "contact_sheet.jpg")
            var adapterPath: Any = NSNull()
            if let lora = result.adapter {
                let staged = folder.appendingPathComponent(TemporaryName.make(for: "adapter"))
                // A half-saved adapter would hold space a full disk needs for the verdict.
                do { try lora.save(to: staged.path, baseModel: reasoner.config.name) } catch {
                    try? Files.removeTree(staged.path)
                    throw error
                }
                Files.syncFolder(staged.path)
                try outputs.replaceFolder("adapter", with: staged)
                adapterPath = "adapter/adapter_model.safetensors"
            } else {
                try outputs.removeFolder("adapter")
            }
            reasoner.detachLoRA()
            // The verdict judges the frames as written, decoded back from the files.
            let judgment = runner.teacher.judge(asWritten)
            var v = Verdict(task: name, status: judgment.passed ? .passed : .failed, strategy: settings.strategy.rawValue,
                            seed: settings.seed)
            v.goal = judgment.goal.verdictObject
            v.process = judgment.process.map(\.verdictObject)
            v.optimization = result.optimization.map(Self.optimizationObject)
            v.outputs = ["frames": paths, "contact_sheet": "contact_sheet.jpg", "adapter": adapterPath]
            v.model = modelInfo
            v.evaluations = result.evaluations
            v.extra["base"] = result.base.judgment.verdictObject
            v.extra["loss"] = rounded(Double(runner.teacher.score(asWritten, gradient: nil).loss))
            if !result.samples.isEmpty {
                v.extra["samples"] = result.samples.map {
                    ["noise": $0.noiseIndex, "loss": rounded(Double($0.loss)), "passed": $0.passed] as [String: Any]
                }
            }
            v.extra["settings"] = Self.settingsObject(settings)
            // Where the picture was judged and what was written: the teacher's working size and the frames'.
            v.extra["working_size"] = [scene.working.width, scene.working.height]
            v.extra["frame_size"] = [renderer.width, renderer.height]
            return finish(v, outputs, started)
        } catch {
            reasoner.detachLoRA()
            return finish(failure("output-not-written", "\(error); check that the task folder is writable and has free space"),
                          outputs, started)
        }
    }

    /// Adds the cost, writes the verdict, prints the summary.
    func finish(_ verdict: Verdict, _ outputs: Outputs, _ started: Double) -> Verdict {
        var v = verdict
        v.cost["seconds"] = rounded(Clock.monotonicSeconds() - started, 3)
        v.cost["peak_rss_bytes"] = Memory.peakResidentBytes() ?? 0
        do { try outputs.writeVerdict(v) } catch {
            verdictWrite.failure = error as? SystemError ?? SystemError("write", folder.path + "/verdict.json", errno: EIO)
            report("\(v.task): \(error); the task's result (\(v.status.rawValue)) is lost: \(verdictWrite.failure!.isDiskFull ? "free some space and run it again" : "make the folder writable and run it again")")
            return v
        }
        if let e = v.error {
            report("\(v.task): error: \(e.message)")
        } else if !quiet {
            var s = "\(v.task): \(v.status.rawValue) (\(v.strategy)"
            if let o = v.optimization?["steps"] { s += ", \(o) steps" }
            s += ", \(v.evaluations) model evaluations, \(v.cost["seconds"]!) s)"
            print(s)
        }
        return v
    }

    func report(_ message: String) {
        StandardError.line(message)
    }

    static func optimizationObject(_ r: OptimizationRecord) -> [String: Any] {
        ["steps": r.steps, "stopped": r.stopped, "loss": r.losses.map { rounded(Double($0)) },
         "final_checks": r.finalChecks, "noise": r.noiseIndex, "gradient": r.gradient.rawValue,
         "loss_terms": r.loss.rawValue, "learning_rate": Double(r.learningRate)]
    }

    static func settingsObject(_ s: StrategySettings) -> [String: Any] {
        ["max_steps": s.maxSteps, "stop_loss": rounded(Double(s.stopLoss), 6), "learning_rate": Double(s.learningRate),
         "rank": s.rank, "alpha": Double(s.alpha), "samples": s.samples, "sample_steps": s.sampleSteps,
         "gradient": s.gradient.rawValue]
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

    static func object(_ e: ProgressEvent, questions: [String], strategy: Strategy) -> [String: Any] {
        switch e {
        case let .sampled(i, n, loss, passed):
            return ["strategy": strategy.rawValue, "phase": "sampling", "sample": i + 1, "samples": n,
                    "loss": rounded(Double(loss)), "passed": passed]
        case let .step(step, maxSteps, loss, pYes):
            return ["strategy": strategy.rawValue, "phase": "adapting", "step": step, "max_steps": maxSteps,
                    "loss": rounded(Double(loss)),
                    "p_yes": zip(questions, pYes).map { ["question": $0, "p_yes": rounded(Double($1))] as [String: Any] }]
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
