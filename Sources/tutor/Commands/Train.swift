import ArgumentParser
import Adaptation
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

        The defaults are the recipe of the first stage of the shipped model: `tutor train --out DIR --threads 1` \
        is how models/reasoner-v6 was trained, in about 90 minutes on one core; models/reasoner (v9) went on \
        from it in three stages with --init, two --look, all seven --family and, the last two times, \
        --family-tasks, for about two and a half more hours (its MODEL_CARD.md has the commands). \
        Build with `swift build -c release` first: a debug build is many times slower.

        --tasks DIR fine-tunes on a training folder instead: one subfolder per example with \
        first_frame.png or .jpg, prompt.txt, final_frame.png/.jpg and/or the solution video's numbered frames \
        in frames/ or ground_truth/, and rules.json where the example can be judged (`tutor make-task FAMILY \
        --layout training` writes one). Each first frame is cut into layers as `tutor run` cuts it and every \
        layer followed through the solution; an example that cannot be used is listed with its reason (all in \
        OUT/data/unusable.txt). Starts from --init (default: the shipped model), holds out --held-out percent \
        of the examples and reports on them, before and after, the final position error of each moving layer \
        and the base strategy's pass rate where rules.json exists; writes OUT/MODEL_CARD.md. The fine-tuning \
        defaults: --steps 1000, --learning-rate 1e-4, --reflow-steps 100, --reflow-pairs 500, no generated \
        tasks unless --family names some (--tasks-per-family 500 each).
        """
    )

    /// The first stage of the shipped model's recipe (v6): every default below is `TrainingRun.Options`' own.
    static let recipe = TrainingRun.Options()

    @Option(help: "Output folder (a checkpoint folder like models/reasoner).")
    var out: String

    @Option(help: "Base training steps (0 with --init: reflow alone, from that checkpoint; default 16000, 1000 with --tasks).")
    var steps: Int?

    @Option(help: "Sequences per step.")
    var batch = recipe.batch

    @Option(help: "Seed of the initialisation, data order, times and noise.")
    var seed = recipe.seed

    @Flag(help: "Continue the run in --out from its last checkpoint (its saved options win, but --steps gives the base phase another length).")
    var resume = false

    @Option(help: "Reflow fine-tuning steps after the base phase (0 skips reflow; default 300, 100 with --tasks).")
    var reflowSteps: Int?

    @Option(help: "Reflow (noise, sample) pairs (default 2000, 500 with --tasks).")
    var reflowPairs: Int?

    @Option(help: "Stop (after a checkpoint) after this many minutes; --resume continues.")
    var minutes: Double?

    @Option(help: "Training tasks generated per family (default 3000, 500 with --tasks).")
    var tasksPerFamily: Int?

    @Option(name: .customLong("family"), help: "A family to train on (repeatable; default the shipped model's: maze, obstacles, align, order; also shapes, slots, slide, waypoint).")
    var families: [Family] = []

    @Option(name: .customLong("family-tasks"), help: ArgumentHelp("Another task count for one family, as FAMILY=N (repeatable), e.g. maze=9000 to give mazes three times the weight of the others.", valueName: "family=n"))
    var familyTasks: [String] = []

    @Option(name: .customLong("look"), help: "A look of the training tasks (repeatable, each gives --tasks-per-family tasks of every family): canonical (the shipped recipe) or varied (the training ranges of every look; heldout is for benchmarks only).")
    var looks: [LookSplit] = []

    @Option(help: "Peak learning rate of the base phase (default 5e-4, 1e-4 with --tasks).")
    var learningRate: Float?

    @Option(help: "A training folder to fine-tune on (see above).")
    var tasks: String?

    @Option(help: "With --tasks: the percentage of examples held out for the before/after report.")
    var heldOut: Double = 5

    @Option(help: "With --tasks: held-out examples measured before and after (position error).")
    var evalCount = 200

    @Option(help: "With --tasks: held-out examples with rules.json judged before and after (base strategy).")
    var judgeCount = 50

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

    @Option(name: .customLong("init"), help: "Start from this checkpoint folder instead of random weights (with --tasks, default the shipped model).")
    var initFrom: String?

    @Flag(help: "Print where the transformer's time goes every 10 steps.")
    var profile = false

    @Option(help: "Threads (results are deterministic for a given count).")
    var threads = 2

    func validate() throws {
        let steps = self.steps ?? 1, reflowSteps = self.reflowSteps ?? 0, reflowPairs = self.reflowPairs ?? 1
        let tasksPerFamily = self.tasksPerFamily ?? 1
        if steps < 0 || (steps == 0 && initFrom == nil && tasks == nil) {
            throw ValidationError("--steps must be at least 1 (or 0 with --init, to run reflow alone from that checkpoint)")
        }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if reflowSteps < 0 || reflowPairs < 1 { throw ValidationError("--reflow-steps must be >= 0 and --reflow-pairs >= 1") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let m = minutes, !(m > 0) { throw ValidationError("--minutes must be positive") }
        if tasksPerFamily < 1 { throw ValidationError("--tasks-per-family must be at least 1") }
        if Set(families).count != families.count { throw ValidationError("--family names a family twice") }
        _ = try parsedFamilyTasks()
        if looks.contains(.heldout) { throw ValidationError("--look heldout is held out for benchmarks; train on canonical or varied") }
        if !(0..<100).contains(heldOut) { throw ValidationError("--held-out is a percentage from 0 up to 100") }
        if evalCount < 0 || judgeCount < 0 { throw ValidationError("--eval-count and --judge-count must be at least 0") }
        if tasks == nil && (heldOut != 5 || evalCount != 200 || judgeCount != 50) {
            throw ValidationError("--held-out, --eval-count and --judge-count apply to --tasks")
        }
    }

    /// `--family-tasks` as a family name -> count map (nil when not given).
    func parsedFamilyTasks() throws -> [String: Int]? {
        if familyTasks.isEmpty { return nil }
        var map: [String: Int] = [:]
        for item in familyTasks {
            let parts = item.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, let fam = Family(rawValue: String(parts[0])), let n = Int(parts[1]), n >= 1 else {
                throw ValidationError("--family-tasks takes FAMILY=N with a known family and N >= 1 (got \"\(item)\")")
            }
            if map[fam.rawValue] != nil { throw ValidationError("--family-tasks names \(fam.rawValue) twice") }
            map[fam.rawValue] = n
        }
        return map
    }

    func run() throws {
        Threads.set(threads)
        let fineTune = tasks != nil
        var o = TrainingRun.Options()
        let steps = self.steps ?? (fineTune ? 1000 : o.steps)
        o.seed = seed; o.steps = steps; o.batch = batch; o.learningRate = learningRate ?? (fineTune ? 1e-4 : o.learningRate)
        o.warmupSteps = min(200, max(1, steps / 10))
        o.tasksPerFamily = tasksPerFamily ?? (fineTune ? 500 : o.tasksPerFamily)
        o.reflowSteps = reflowSteps ?? (fineTune ? 100 : o.reflowSteps)
        o.reflowPairs = reflowPairs ?? (fineTune ? 500 : o.reflowPairs)
        if !families.isEmpty { o.families = families } else if fineTune { o.families = [] }
        if let t = tasks { o.tasksFolder = t; o.heldOutShare = heldOut / 100 }
        if !looks.isEmpty && looks != [.canonical] { o.looks = looks }
        o.familyTasks = try parsedFamilyTasks()
        if let named = o.familyTasks?.keys.first(where: { k in !o.families.contains(where: { $0.rawValue == k }) }) {
            StandardError.line("error: --family-tasks names \(named), which is not among the families trained on (\(o.families.map(\.rawValue).joined(separator: ", ")))")
            throw ExitCode(1)
        }
        o.checkpointMinutes = checkpointMinutes; o.width = width; o.depth = depth; o.heads = heads; o.mlpRatio = mlpRatio; o.initFrom = initFrom
        let run: TrainingRun
        var fine: FineTune? = nil
        do {
            if fineTune && o.initFrom == nil { o.initFrom = try ModelLocation.resolve(option: nil).path }
            run = try TrainingRun(folder: out, options: o, resume: resume)
            run.log = { line in StandardOutput.line(line) }
            if resume, let n = self.steps, n != run.options.steps {
                let was = run.options.steps
                try run.setBaseSteps(n)
                run.log("base phase: \(n) steps instead of \(was), from step \(run.state.step) on (the learning rate follows the schedule of \(n))")
            }
            // A resumed fine-tuning run knows its training folder from its saved options.
            if run.options.tasksFolder != nil { fine = try FineTune.start(run, evalCount: evalCount, judgeCount: judgeCount, threads: threads) }
        } catch {
            StandardError.line("error: \(ErrorText.describe(error))")
            throw ExitCode(1)
        }
        run.stopAfterSeconds = minutes.map { $0 * 60 }
        if profile { run.reasoner.stack.profile = OpProfile() }
        if try !run.run() { throw ExitCode(0) }
        try fine?.finish(run)
    }
}
