import Adaptation
import ArgumentParser
import Foundation
import System

/// `tutor run FOLDER`: one task folder, in place, without a spool.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one task folder in place and write its frames, adapter and verdict.json.",
        discussion: """
        Validates the inputs (prompt.txt, rules.json, first_frame.jpg, job.json), loads the Reasoner, \
        runs the strategy of job.json (default: sample-then-adapt) and writes frames/NN.jpg, \
        contact_sheet.jpg, adapter/ (when a LoRA was adapted), progress.json while running and \
        verdict.json last. Every file is written under a temporary name and renamed into place.

        The model folder (config.json + model.safetensors) is, in order: --model DIR; the \
        environment variable TUTOR_MODEL; models/reasoner in the executable's folder or any folder \
        above it; share/tutor/models/reasoner beside the executable's bin/.

        Exit status: 0 the task passed; 1 it failed, or an input or model problem (verdict status \
        "error", with a message that says what to fix), or no verdict could be written (the message \
        says why: a folder this user may not write, verdict.json being a folder); 2 usage error; 75 \
        verdict.json could not be written because the disk is full or the quota reached (nothing is \
        wrong with the task: run it again when there is space).
        """
    )

    @Argument(help: "The task folder.")
    var folder: String

    @Option(help: "The Reasoner checkpoint folder (default: TUTOR_MODEL, else models/reasoner found from the executable).")
    var model: String?

    @Option(help: "Threads for the numeric engine (default 1).")
    var threads: Int = 1

    @Option(help: "Adaptation gradient: one-step or all-steps (default \(StrategySettings.defaultGradient.rawValue)).")
    var gradient: GradientPath?

    @Flag(help: "No progress line and no summary.")
    var quiet = false

    func validate() throws {
        if threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256") }
    }

    func run() throws {
        // The daemon names the task (its name in the spool) in the worker's environment.
        let spoolName = ProcessInfo.processInfo.environment["TUTOR_SPOOL_TASK"].flatMap { $0.isEmpty ? nil : $0 }
        var task = TaskRun(folder: URL(fileURLWithPath: folder), name: spoolName, modelOption: model, threads: threads, quiet: quiet)
        if let g = gradient { task.gradient = g }
        let verdict = task.run()
        if let failure = task.verdictWrite.failure { throw ExitCode(failure.isDiskFull ? ExitStatus.diskFull : 1) }
        if verdict?.status != .passed { throw ExitCode(1) }
    }
}
