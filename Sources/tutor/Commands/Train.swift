import ArgumentParser
import Engine
import Foundation
import Reasoner
import System
import Tasks
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the Reasoner on generated tasks (flow matching, then reflow).",
        discussion: """
        Generates --tasks-per-family tasks of every family (or of those --family names) from the training \
        seeds (0 and up; held-out seeds start at 1000000), cuts their first frames into layers, and trains the Reasoner to produce \
        each moving object's trajectory by flow matching for --steps steps. Then reflow: the model samples \
        --reflow-pairs trajectories with 8 Euler steps from fixed noises and is fine-tuned for \
        --reflow-steps steps on those (noise, sample) pairs, so that its one-step prediction is a sample \
        rather than an average (what test-time adaptation scores).

        The output folder is a loadable checkpoint at every moment (config.json + model.safetensors, \
        written atomically every --checkpoint-minutes), with base/ (the weights before reflow), \
        optimizer.safetensors, state.json and loss.csv. --resume continues a run exactly where its last \
        checkpoint was. The same seed and thread count give the same model.

        The defaults are the recipe of the shipped model: `tutor train --out DIR --threads 1` is how \
        models/reasoner was trained, in about 90 minutes on one core (models/reasoner/MODEL_CARD.md). \
        Build with `swift build -c release` first: a debug build is many times slower.
        """
    )

    /// The shipped model's recipe: every default below is `TrainingRun.Options`' own.
    static let recipe = TrainingRun.Options()

    @Option(help: "Output folder (a checkpoint folder like models/reasoner).")
    var out: String

    @Option(help: "Base training steps (0 with --init: reflow alone, from that checkpoint).")
    var steps = recipe.steps

    @Option(help: "Sequences per step.")
    var batch = recipe.batch

    @Option(help: "Seed of the initialisation, data order, times and noise.")
    var seed = recipe.seed

    @Flag(help: "Continue the run in --out from its last checkpoint (its saved options win).")
    var resume = false

    @Option(help: "Reflow fine-tuning steps after the base phase (0 skips reflow).")
    var reflowSteps = recipe.reflowSteps

    @Option(help: "Reflow (noise, sample) pairs.")
    var reflowPairs = recipe.reflowPairs

    @Option(help: "Stop (after a checkpoint) after this many minutes; --resume continues.")
    var minutes: Double?

    @Option(help: "Training tasks generated per family.")
    var tasksPerFamily = recipe.tasksPerFamily

    @Option(name: .customLong("family"), help: "A family to train on (repeatable; default all: maze, obstacles, align, order).")
    var families: [Family] = []

    @Option(help: "Peak learning rate of the base phase.")
    var learningRate = recipe.learningRate

    @Option(help: "Minutes between checkpoints.")
    var checkpointMinutes = recipe.checkpointMinutes

    @Option(help: "Token width of a new model.")
    var width = recipe.width

    @Option(help: "Transformer blocks of a new model.")
    var depth = recipe.depth

    @Option(help: "Attention heads of a new model.")
    var heads = recipe.heads

    @Option(help: "MLP hidden width as a multiple of the width, for a new model.")
    var mlpRatio = recipe.mlpRatio

    @Option(name: .customLong("init"), help: "Start from this checkpoint folder instead of random weights.")
    var initFrom: String?

    @Flag(help: "Print where the transformer's time goes every 10 steps.")
    var profile = false

    @Option(help: "Threads (results are deterministic for a given count).")
    var threads = 2

    func validate() throws {
        if steps < 0 || (steps == 0 && initFrom == nil) {
            throw ValidationError("--steps must be at least 1 (or 0 with --init, to run reflow alone from that checkpoint)")
        }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if reflowSteps < 0 || reflowPairs < 1 { throw ValidationError("--reflow-steps must be >= 0 and --reflow-pairs >= 1") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let m = minutes, !(m > 0) { throw ValidationError("--minutes must be positive") }
        if tasksPerFamily < 1 { throw ValidationError("--tasks-per-family must be at least 1") }
        if Set(families).count != families.count { throw ValidationError("--family names a family twice") }
    }

    func run() throws {
        Threads.set(threads)
        var o = TrainingRun.Options()
        o.seed = seed; o.steps = steps; o.batch = batch; o.learningRate = learningRate
        o.warmupSteps = min(200, max(1, steps / 10))
        o.tasksPerFamily = tasksPerFamily; o.reflowSteps = reflowSteps; o.reflowPairs = reflowPairs
        if !families.isEmpty { o.families = families }
        o.checkpointMinutes = checkpointMinutes; o.width = width; o.depth = depth; o.heads = heads; o.mlpRatio = mlpRatio; o.initFrom = initFrom
        let run: TrainingRun
        do {
            run = try TrainingRun(folder: out, options: o, resume: resume)
        } catch {
            StandardError.line("error: \(ErrorText.describe(error))")
            throw ExitCode(1)
        }
        run.log = { line in StandardOutput.line(line) }
        run.stopAfterSeconds = minutes.map { $0 * 60 }
        if profile { run.reasoner.stack.profile = OpProfile() }
        if try !run.run() { throw ExitCode(0) }
    }
}
