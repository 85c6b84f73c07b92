import Adaptation
import Foundation
import ModelFiles
import Reasoner
import TaskFolder
import Training

/// `tutor train --tasks`: reads the training folder into the run's `data/`, measures the
/// starting model on the held-out part, and after training measures the result the same way
/// and writes its model card.
struct FineTune {
    /// What a model does on the held-out part.
    struct Figures: Codable {
        var error: HeldOutError
        /// Held-out examples with rules.json judged (base strategy, as `tutor run` judges).
        var judged: Int
        var passed: Int
        var passRate: Double? { judged > 0 ? Double(passed) / Double(judged) : nil }
    }

    let data: String
    let summary: TrainingFolderSummary
    let before: Figures
    let evalCount: Int, judgeCount: Int, threads: Int

    static func start(_ run: TrainingRun, evalCount: Int, judgeCount: Int, threads: Int) throws -> FineTune {
        let data = run.folder + "/data", o = run.options
        let summary: TrainingFolderSummary
        if let s = TrainingFolder.summary(data: data) {
            summary = s
            run.log("data: \(s.training) training and \(s.heldOut) held-out examples of \(s.folder), read before (\(data))")
        } else {
            run.log("data: reading \(o.tasksFolder!) (\(Int(((o.heldOutShare ?? 0.05) * 100).rounded()))% held out)")
            summary = try TrainingFolder.prepare(tasks: o.tasksFolder!, data: data, heldOutShare: o.heldOutShare ?? 0.05, log: run.log)
            report(summary, data: data, log: run.log)
        }
        run.records = try ExampleRecords.Reader(path: data + "/train.records")
        let path = data + "/before.json"
        let before: Figures
        if let d = FileManager.default.contents(atPath: path), let f = try? JSONDecoder().decode(Figures.self, from: d) {
            before = f
        } else {
            // The starting model as it was, whatever a resumed run has done to its weights since.
            let initial = try Reasoner.load(from: o.initFrom!)
            before = try measure(initial, folder: o.initFrom!, data: data, evalCount: evalCount, judgeCount: judgeCount, threads: threads)
            try write(before, to: path)
        }
        run.log("before: " + line(before))
        return FineTune(data: data, summary: summary, before: before, evalCount: evalCount, judgeCount: judgeCount, threads: threads)
    }

    func finish(_ run: TrainingRun) throws {
        let after = try FineTune.measure(run.reasoner, folder: run.folder, data: data, evalCount: evalCount,
                                         judgeCount: judgeCount, threads: threads)
        try FineTune.write(after, to: data + "/after.json")
        run.log("before: " + FineTune.line(before))
        run.log("after:  " + FineTune.line(after))
        try AtomicFileWriter.write(Array(card(run, after).utf8), to: run.folder + "/MODEL_CARD.md")
        run.log("model card: \(run.folder)/MODEL_CARD.md; use the model with tutor run --model \(run.folder)")
    }

    static func line(_ f: Figures) -> String {
        var s = String(format: "final position error %.1f px mean, %.1f px median over %d moving layers of %d held-out examples; %.0f%% within 3 view pixels",
                       f.error.meanPixels, f.error.medianPixels, f.error.layers, f.error.examples, 100 * f.error.withinThreeViewPixels)
        if let r = f.passRate { s += String(format: "; base strategy passes %d of %d judged (%.0f%%)", f.passed, f.judged, 100 * r) }
        else { s += "; no held-out example has rules.json to judge" }
        return s
    }

    static func write(_ f: Figures, to path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.write(Array(try enc.encode(f)) + [0x0A], to: path)
    }

    /// The summary, the counts by reason, and the first unusable examples (all are in the file).
    static func report(_ s: TrainingFolderSummary, data: String, log: (String) -> Void) {
        log(String(format: "data: %d examples in %.1f s (%.0f examples/s): %d training, %d held out, %d interpolated from a final frame alone, %d unusable",
                   s.entries, s.seconds, Double(s.entries) / max(s.seconds, 1e-9), s.training, s.heldOut, s.interpolated, s.unusable)
            + (s.files > 0 ? "; \(s.files) files beside the example folders ignored" : "")
            + (s.hidden > 0 ? "; \(s.hidden) hidden entries not read" : ""))
        if s.unusable == 0 { return }
        log("unusable: " + s.reasons.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
        let shown = 50
        if let h = FileHandle(forReadingAtPath: data + "/unusable.txt") {
            let head = String(decoding: h.readData(ofLength: 64 * 1024), as: UTF8.self)
            try? h.close()
            for l in head.split(separator: "\n").prefix(shown) { log("  " + l.replacingOccurrences(of: "\t", with: ": ")) }
        }
        log(s.unusable > shown ? "  ... all \(s.unusable) with their reasons in \(data)/unusable.txt" : "  (also in \(data)/unusable.txt)")
    }

    /// Position error on the held-out records, and the base strategy's verdict on held-out
    /// examples with rules.json (read again from the training folder by name).
    static func measure(_ reasoner: Reasoner, folder: String, data: String, evalCount: Int, judgeCount: Int, threads: Int) throws -> Figures {
        let held = try ExampleRecords.Reader(path: data + "/heldout.records")
        let err = HeldOutError.measure(reasoner, records: held, limit: evalCount)
        var tasks: [BenchTask] = []
        if judgeCount > 0, let s = TrainingFolder.summary(data: data),
           let names = try? String(contentsOfFile: data + "/heldout.txt", encoding: .utf8) {
            for name in names.split(separator: "\n") where tasks.count < judgeCount {
                guard let ex = try? ExampleFolder.read(URL(fileURLWithPath: s.folder).appendingPathComponent(String(name))),
                      let rules = ex.rules else { continue }
                tasks.append(BenchTask(family: "tasks", name: String(name), prompt: ex.prompt, rules: rules, firstFrame: ex.firstFrame, job: JobSettings()))
            }
        }
        var passed = 0
        if !tasks.isEmpty {
            let bench = StrategyBench(modelDirectory: URL(fileURLWithPath: folder), jobs: threads, configure: { _ in })
            passed = try bench.run(.base, on: tasks, done: { _, _ in }).filter(\.passed).count
        }
        return Figures(error: err, judged: tasks.count, passed: passed)
    }

    func card(_ run: TrainingRun, _ after: Figures) -> String {
        let o = run.options, s = summary
        func row(_ name: String, _ f: Figures) -> String {
            String(format: "| %@ | %.1f | %.1f | %.0f%% | %@ |", name, f.error.meanPixels, f.error.medianPixels, 100 * f.error.withinThreeViewPixels,
                   f.passRate.map { String(format: "%d / %d (%.0f%%)", f.passed, f.judged, 100 * $0) } ?? "no rules.json")
        }
        let mixed = o.families.isEmpty ? "none" : "\(o.tasksPerFamily) generated tasks each of " + o.families.map(\.rawValue).joined(separator: ", ")
        return """
        # \(run.reasoner.config.name), fine-tuned

        Fine-tuned by `tutor train --tasks` from the checkpoint in `\(o.initFrom ?? "?")` on the training folder \
        `\(s.folder)`.

        ## Data

        - \(s.entries) examples read: \(s.training) trained on, \(s.heldOut) held out (\(Int((s.heldOutShare * 100).rounded()))%, \
        by a hash of the folder name), \(s.unusable) unusable (listed with their reasons in `data/unusable.txt`).
        - \(s.interpolated) of the usable examples had a final frame only: their motion is a straight line to it.
        - Built-in families mixed in: \(mixed).
        - Trajectories were recovered from the solutions' pictures: each layer of the first frame (the cut `tutor run` makes) \
        followed through the solution's frames.

        ## Training

        \(o.steps) steps of batch \(o.batch) at a peak learning rate of \(o.learningRate), then \(o.reflowSteps) reflow steps \
        on \(o.reflowPairs) pairs; \(String(format: "%.0f", run.state.seconds)) s of training on this machine \
        (seed \(o.seed)). The loss is in `loss.csv`, the options in `state.json`.

        ## Held-out examples, before and after

        Final position error of each layer the solution moves, in the first frame's pixels (4-step sample, fixed noise), \
        on \(after.error.examples) held-out examples (\(after.error.layers) moving layers); the base strategy's verdict \
        where the example has rules.json.

        | model | mean error (px) | median error (px) | within 3 view pixels | base strategy passes |
        | --- | --- | --- | --- | --- |
        \(row("before (\(URL(fileURLWithPath: o.initFrom ?? "?").lastPathComponent))", before))
        \(row("after", after))

        """
    }
}
