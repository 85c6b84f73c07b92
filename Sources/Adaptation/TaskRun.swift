import Basics
import Engine
import Foundation
import Media
import Reasoner
import System
import TaskFolder
import Teacher
import Verdicts
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
            let v = Verdict.failure(task: name, strategy: JobSettings.defaultStrategy.rawValue, seed: 0, code: .invalidInput,
                                    message: report.problems.joined(separator: "; "))
            return finish(v, outputs, started)
        }
        let settings = StrategySettings(job: inputs.job, gradient: gradient)
        func failure(_ code: ErrorCode, _ message: String) -> Verdict {
            Verdict.failure(task: name, strategy: settings.strategy.rawValue, seed: settings.seed, code: code, message: message)
        }
        let rules: RuleFile
        do { rules = try RuleFile.parse(inputs.rulesBytes) } catch {
            return finish(failure(.invalidInput, error.description), outputs, started)
        }

        // 2. The model.
        Threads.set(max(1, threads))
        let reasoner: Reasoner
        let modelInfo: Verdict.Model
        do {
            let dir = try ModelLocation.resolve(option: modelOption)
            reasoner = try Reasoner.load(from: dir.path)
            let digest = try SHA256.hex(ofFile: dir.appendingPathComponent(Reasoner.weightsFileName).path)
            modelInfo = Verdict.Model(name: reasoner.config.name, sha256: digest, parameters: reasoner.parameterCount)
        } catch {
            return finish(failure(.modelUnavailable, "\(error)"), outputs, started)
        }

        // 3. The strategy.
        let scene = Scene(prompt: inputs.prompt, firstFrame: inputs.firstFrame, tokenizer: reasoner.tokenizer)
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
            let (paths, asWritten) = try outputs.writeFrames(result.final.rendered, quality: AsWritten.quality)
            try outputs.writeJPEG(ContactSheet.render(asWritten), name: "contact_sheet.jpg")
            var adapterPath: String?
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
            v.goal = Verdict.Answer(judgment.goal)
            v.process = judgment.process.map(Verdict.Answer.init)
            v.optimization = result.optimization.map(Verdict.Optimization.init)
            v.outputs = Verdict.Outputs(frames: paths, contactSheet: "contact_sheet.jpg", adapter: adapterPath)
            v.model = modelInfo
            v.base = Verdict.Answers(result.base.judgment)
            v.loss = rounded(Double(runner.teacher.score(asWritten, gradient: nil).loss))
            if !result.samples.isEmpty { v.samples = result.samples.map(Verdict.Sample.init) }
            v.settings = Verdict.Settings(settings)
            return finish(v, outputs, started, evaluations: result.evaluations)
        } catch {
            reasoner.detachLoRA()
            return finish(failure(.outputNotWritten, "\(error); check that the task folder is writable and has free space"),
                          outputs, started, evaluations: result.evaluations)
        }
    }

    /// Adds the cost, writes the verdict, prints the summary.
    func finish(_ verdict: Verdict, _ outputs: Outputs, _ started: Double, evaluations: Int = 0) -> Verdict {
        var v = verdict
        v.cost = Verdict.Cost(modelEvaluations: evaluations, seconds: rounded(Clock.monotonicSeconds() - started, 3),
                              peakRSSBytes: Memory.peakResidentBytes() ?? 0)
        do { try outputs.writeVerdict(v) } catch {
            verdictWrite.failure = error as? SystemError ?? SystemError("write", folder.path + "/verdict.json", errno: EIO)
            report("\(v.task): \(error); the task's result (\(v.status.rawValue)) is lost: \(verdictWrite.failure!.isDiskFull ? "free some space and run it again" : "make the folder writable and run it again")")
            return v
        }
        if let e = v.error {
            report("\(v.task): error: \(e.message)")
        } else if !quiet {
            var s = "\(v.task): \(v.status.rawValue) (\(v.strategy ?? "")"
            if let o = v.optimization?.steps { s += ", \(o) steps" }
            s += ", \(evaluations) model evaluations, \(v.cost?.seconds ?? 0) s)"
            print(s)
        }
        return v
    }

    func report(_ message: String) {
        StandardError.line(message)
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
