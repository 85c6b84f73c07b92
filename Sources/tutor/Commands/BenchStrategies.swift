import Adaptation
import ArgumentParser
import Basics
import Foundation
import Media
import Reasoner
import System
import TaskFolder
import Tasks
import Teacher

/// `tutor bench strategies`: the strategies on the same held-out tasks, at comparable cost.
struct BenchStrategies: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strategies",
        abstract: "Compare base, best-of-n, teacher-lora and the default strategy on held-out tasks.",
        discussion: """
        Generates held-out tasks in memory (--family, --seeds or --count per family) or reads task folders \
        (--tasks DIR), runs each strategy on the same tasks with the same seeds, judges the kept video as \
        `tutor run` does (the frames through JPEG, quality 95, 4:4:4) and prints the pass rate per family \
        and overall, the mean cost in model evaluations (a backward pass counts two), mean and median \
        seconds per task, the failed questions by check type, and the process's peak resident memory. \
        best-of-n's n is chosen after teacher-lora has run, so that its mean cost is at least teacher-lora's \
        (unless --best-of-n fixes it). --steps, --loss and --gradient are the ablation switches. --look draws \
        the generated tasks in one look split per run (canonical, varied or heldout): run it once per split \
        for the three columns.
        """
    )

    @Option(name: .customLong("family"), help: "A family to include (repeatable; default the shipped model's: maze, obstacles, align, order; also shapes, slots, slide, waypoint).")
    var families: [Family] = []

    @Option(help: "canonical, varied or heldout: the look the generated tasks are drawn in (one split per run).")
    var look: LookSplit = .canonical

    @Option(help: "Held-out seeds A..<B (default 1000000..<1000000+count).")
    var seeds: String?

    @Option(help: "Tasks per family when --seeds is not given.")
    var count: Int = 25

    @Option(help: "A folder of task folders to run instead of generated tasks.")
    var tasks: String?

    @Option(help: "Draw the generated tasks' first frames at WxH (as make-task --size does); default 256x256.")
    var size: String?

    @Flag(help: "align: every piece the same shape and colour (as make-task --identical-pieces does).")
    var identicalPieces = false

    @Option(help: "The Reasoner checkpoint folder (default: as tutor run finds it).")
    var model: String?

    @Option(help: "Strategies to run, comma-separated.")
    var strategies: String = "base,best-of-n,teacher-lora,sample-then-adapt"

    @Option(help: "Adaptation steps at most (max_steps).")
    var steps: Int?

    @Option(help: "Adaptation loss: goal-only, process-only or both.")
    var loss: LossTerms = .both

    @Option(help: "Adaptation gradient: one-step or all-steps.")
    var gradient: GradientPath = StrategySettings.defaultGradient

    @Option(help: "Adaptation learning rate.")
    var learningRate: Double?

    @Option(help: "LoRA rank.")
    var rank: Int?

    @Option(help: "Videos sampled first by sample-then-adapt.")
    var samples: Int?

    @Option(help: "Euler steps per sampled video.")
    var sampleSteps: Int?

    @Option(help: "Static prior during adaptation: on or off.")
    var staticPrior: String = "on"

    @Option(help: "sample-then-adapt: adapt from this many of the best samples in turn, splitting the steps (default: job.json's).")
    var restarts: Int?

    @Option(help: "best-of-n's n (default: the smallest n whose cost is at least teacher-lora's mean).")
    var bestOfN: Int?

    @Option(help: "Tasks run at the same time, one model each (default: the number of processors).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Print the results as JSON.")
    var json = false

    func validate() throws {
        if let s = seeds, parseSeeds(s) == nil { throw ValidationError("--seeds must look like 1000000..<1000025") }
        for s in strategyList where Strategy(rawValue: s) == nil {
            throw ValidationError("unknown strategy '\(s)'; use \(Strategy.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if jobs < 1 || count < 1 { throw ValidationError("--jobs and --count must be at least 1") }
        if let s = size, Families.parseSize(s) == nil { throw ValidationError("--size must be WxH, each side 16 to 4096, such as 512x340") }
    }

    var strategyList: [String] { strategies.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func parseSeeds(_ s: String) -> Range<UInt64>? {
        let parts = s.components(separatedBy: "..<")
        guard parts.count == 2, let a = UInt64(parts[0]), let b = UInt64(parts[1]), a < b else { return nil }
        return a..<b
    }

    func loadTasks() throws -> [BenchTask] {
        if let dir = tasks {
            let root = URL(fileURLWithPath: dir)
            var out: [BenchTask] = []
            for name in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where !name.hasPrefix(".") {
                let folder = root.appendingPathComponent(name)
                guard SafeFile.kind(at: folder) == .folder else { continue }
                let report = TaskInputs.validate(folder: folder)
                guard let inp = report.inputs else {
                    StandardError.write("skipping \(name): \(report.problems.joined(separator: "; "))\n")
                    continue
                }
                let family = name.split(separator: "-").first.map(String.init) ?? name
                out.append(BenchTask(family: family, name: name, prompt: inp.prompt, rules: inp.rules,
                                     firstFrame: inp.firstFrame, job: inp.job))
            }
            return out
        }
        let fams = families.isEmpty ? Family.original : families
        let range = seeds.flatMap(parseSeeds) ?? (Families.heldOutSeedStart..<(Families.heldOutSeedStart + UInt64(count)))
        var out: [BenchTask] = []
        for f in fams {
            for seed in range {
                let t = Families.generate(family: f, seed: seed, size: size.flatMap(Families.parseSize),
                                          identicalPieces: identicalPieces && f == .align, look: look)
                let first = try JPEG.decode(JPEG.encode(t.firstFrame, quality: 95, subsample444: true))
                var job = JobSettings()
                job.seed = seed
                out.append(BenchTask(family: f.rawValue, name: "\(f.rawValue)-\(seed)", prompt: t.prompt,
                                     rules: try RuleFile.parse(Array(t.rulesJSON.utf8)), firstFrame: first, job: job))
            }
        }
        return out
    }

    func run() throws {
        let modelDir = try ModelLocation.resolve(option: model)
        let probe = try Reasoner.load(from: modelDir.path)
        let digest = try SHA256.hex(ofFile: modelDir.appendingPathComponent(Reasoner.weightsFileName).path)
        let taskList = try loadTasks()
        guard !taskList.isEmpty else { throw ValidationError("no tasks to run") }
        let (steps, lr, rank, samples, sampleSteps) = (self.steps, learningRate, self.rank, self.samples, self.sampleSteps)
        var bestN = bestOfN
        let prior = staticPrior != "off"
        let restartCount = restarts.map { max(1, $0) }
        let families = taskList.map(\.family).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        // This command's options over a task's settings; best-of-n's n, once chosen, wins over --samples.
        let overrides: @Sendable (inout StrategySettings, Int?) -> Void = { s, bestOfN in
            s.gradient = gradient; s.loss = loss
            s.staticPrior = prior
            if let restartCount { s.restarts = restartCount }
            if let steps { s.maxSteps = steps }
            if let lr { s.learningRate = Float(lr) }
            if let rank { s.rank = rank }
            if let sampleSteps { s.sampleSteps = sampleSteps }
            if s.strategy == .bestOfN, let bestOfN { s.samples = bestOfN } else if let samples { s.samples = samples }
        }
        var example = StrategySettings(job: JobSettings(), gradient: gradient, loss: loss)
        overrides(&example, nil)

        let log = { (s: String) in StandardError.write(s + "\n") }
        log("tutor bench strategies: \(taskList.count) tasks (\(families.joined(separator: ", "))), model \(probe.config.name) \(digest.prefix(12)), \(jobs) jobs")
        var results: [(String, [BenchOutcome])] = []
        // best-of-n goes after teacher-lora so that its n can match teacher-lora's cost.
        let order = strategyList.sorted { a, b in (a == "best-of-n" ? 1 : 0) < (b == "best-of-n" ? 1 : 0) }
        let started = Clock.monotonicSeconds()
        for name in order {
            let strategy = Strategy(rawValue: name)!
            var n = bestN ?? example.samples
            if strategy == .bestOfN && bestN == nil {
                if let tl = results.first(where: { $0.0 == "teacher-lora" }) {
                    let mean = Double(tl.1.map(\.evaluations).reduce(0, +)) / Double(tl.1.count)
                    n = max(1, Int((mean / Double(example.sampleSteps)).rounded(.up)))
                }
                bestN = n
            }
            let fixedN = n
            let bench = StrategyBench(modelDirectory: modelDir, jobs: jobs) { s in overrides(&s, fixedN) }
            var finished = 0
            let t0 = Clock.monotonicSeconds()
            let outcomes = try bench.run(strategy, on: taskList) { _, _ in
                finished += 1
                if finished % 10 == 0 || finished == taskList.count {
                    log("  \(name): \(finished)/\(taskList.count) tasks, \(String(format: "%.0f", Clock.monotonicSeconds() - t0)) s")
                }
            }
            results.append((name, outcomes))
        }
        let wall = Clock.monotonicSeconds() - started
        let shown = strategyList.compactMap { s in results.first { $0.0 == s } }
        if json {
            printJSON(shown, taskList, families, example, bestN, digest: digest, wall: wall)
        } else {
            printTable(shown, taskList, families, example, bestN, wall: wall)
        }
    }

    func summary(_ o: [BenchOutcome]) -> (rate: Double, meanEval: Double, meanSec: Double, medianSec: Double) {
        let n = Double(max(1, o.count))
        let secs = o.map(\.seconds).sorted()
        let median = secs.isEmpty ? 0 : (secs.count % 2 == 1 ? secs[secs.count / 2] : (secs[secs.count / 2 - 1] + secs[secs.count / 2]) / 2)
        return (Double(o.filter(\.passed).count) / n, Double(o.map(\.evaluations).reduce(0, +)) / n,
                o.map(\.seconds).reduce(0, +) / n, median)
    }

    func printTable(_ results: [(String, [BenchOutcome])], _ tasks: [BenchTask], _ families: [String],
                    _ s: StrategySettings, _ bestN: Int?, wall: Double) {
        func pad(_ x: String, _ w: Int) -> String { x.count >= w ? x : x + String(repeating: " ", count: w - x.count) }
        func lpad(_ x: String, _ w: Int) -> String { x.count >= w ? x : String(repeating: " ", count: w - x.count) + x }
        let col = max(12, (results.map { $0.0.count }.max() ?? 0) + 2)
        print("adaptation: lr \(s.learningRate), rank \(s.rank), alpha \(s.alpha), max_steps \(s.maxSteps), stop_loss \(s.stopLoss), gradient \(s.gradient.rawValue), loss \(s.loss.rawValue), static prior \(staticPrior), restarts \(s.restarts), sample_steps \(s.sampleSteps); sample-then-adapt samples \(s.samples); best-of-n n = \(bestN.map(String.init) ?? "-")")
        print(pad("", 20) + results.map { lpad($0.0, col) }.joined())
        for f in families + ["overall"] {
            let idx = tasks.indices.filter { f == "overall" || tasks[$0].family == f }
            var line = pad("\(f) (\(idx.count))", 20)
            for (_, o) in results {
                let sel = idx.map { o[$0] }
                let p = sel.filter(\.passed).count
                line += lpad(String(format: "%d %5.1f%%", p, 100 * Double(p) / Double(max(1, sel.count))), col)
            }
            print(line)
        }
        let sums = results.map { summary($0.1) }
        print(pad("mean evaluations", 20) + sums.map { lpad(String(format: "%.1f", $0.meanEval), col) }.joined())
        print(pad("mean seconds", 20) + sums.map { lpad(String(format: "%.2f", $0.meanSec), col) }.joined())
        print(pad("median seconds", 20) + sums.map { lpad(String(format: "%.2f", $0.medianSec), col) }.joined())
        print(pad("mean steps", 20) + results.map { r in
            lpad(String(format: "%.1f", Double(r.1.map(\.steps).reduce(0, +)) / Double(max(1, r.1.count))), col)
        }.joined())
        print("failed questions of the kept videos, by check type:")
        for (name, o) in results {
            var counts: [String: Int] = [:]
            for x in o { for t in x.failedTypes { counts[t, default: 0] += 1 } }
            print("  " + pad(name, col) + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        for (name, o) in results {
            let flips = o.filter { $0.keptPassed != $0.passed }.count
            var sizes: [String: Int] = [:]
            for x in o { sizes[x.workingSize.map(String.init).joined(separator: "x"), default: 0] += 1 }
            print("  \(pad(name, col))working sizes: \(sizes.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); the written frames' verdict differs from the strategy's own in \(flips)")
        }
        print(String(format: "peak resident memory of this process (%d jobs, one model each): %.0f MiB; wall %.0f s",
                     jobs, Double((Memory.peakResidentBytes() ?? 0)) / 1048576, wall))
    }

    func printJSON(_ results: [(String, [BenchOutcome])], _ tasks: [BenchTask], _ families: [String],
                   _ s: StrategySettings, _ bestN: Int?, digest: String, wall: Double) {
        // Keys in alphabetical order at every level, as before the results were JSONValue.
        func sorted(_ kv: [(String, JSONValue)]) -> JSONValue { .object(kv.sorted { $0.0 < $1.0 }) }
        var strategies: [(String, JSONValue)] = []
        for (name, o) in results {
            let sm = summary(o)
            var perFamily: [(String, JSONValue)] = []
            for f in families {
                let sel = tasks.indices.filter { tasks[$0].family == f }.map { o[$0] }
                perFamily.append((f, sorted([("tasks", .int(sel.count)), ("passed", .int(sel.filter(\.passed).count))])))
            }
            strategies.append((name, sorted([
                ("pass_rate", .double(sm.rate)), ("mean_evaluations", .double(sm.meanEval)), ("mean_seconds", .double(sm.meanSec)),
                ("median_seconds", .double(sm.medianSec)), ("families", sorted(perFamily)),
                ("tasks", .array(zip(tasks, o).map { t, x in
                    sorted([("task", .string(t.name)), ("passed", .bool(x.passed)), ("strategy_passed", .bool(x.keptPassed)),
                            ("working_size", .array(x.workingSize.map(JSONValue.int))), ("evaluations", .int(x.evaluations)),
                            ("seconds", .double(rounded(x.seconds, 3))), ("steps", .int(x.steps)), ("base_passed", .bool(x.basePassed)),
                            ("failed", .array(x.failedTypes.map(JSONValue.string)))])
                })),
            ])))
        }
        let obj = sorted([
            ("model_sha256", .string(digest)), ("jobs", .int(jobs)), ("wall_seconds", .double(wall)),
            ("peak_rss_bytes", .int(Memory.peakResidentBytes() ?? 0)), ("best_of_n", .optional(bestN.map(JSONValue.int))),
            ("settings", sorted([("learning_rate", .double(Double(s.learningRate))), ("rank", .int(s.rank)), ("max_steps", .int(s.maxSteps)),
                                 ("stop_loss", .double(Double(s.stopLoss))), ("gradient", .string(s.gradient.rawValue)),
                                 ("loss", .string(s.loss.rawValue)), ("samples", .int(s.samples)), ("sample_steps", .int(s.sampleSteps))])),
            ("strategies", sorted(strategies)),
        ])
        print(String(decoding: obj.prettyBytes(), as: UTF8.self), terminator: "")
    }
}
