import Basics
import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import ModelFiles
import Reasoner
import Tasks

/// A whole training run in a folder: flow-matching training on generated tasks, then reflow
/// (docs/DESIGN.md, decision 3), with checkpoints, resume and a loss log.
///
/// The folder, after a run:
///
///     config.json, model.safetensors   the latest weights (a loadable checkpoint at any time)
///     base/                            the weights at the end of the base phase
///     optimizer.safetensors            AdamW's moments, for resume
///     reflow_pairs.safetensors         the reflow phase's (noise, sample) pairs, for resume
///     state.json                       phase, step, options (written last at every checkpoint)
///     loss.csv                         phase, step, loss, grad_norm, lr, seconds
///
/// Deterministic for a seed and thread count: data order, times and noise depend only on the
/// seed and the step (`Trainer.rng`), and a resumed run continues exactly where the saved state
/// was (the optimiser's moments and step count are restored).
public final class TrainingRun {
    public struct Options: Codable, Sendable, Equatable {
        public var seed: UInt64 = 1
        public var steps: Int = 16000
        public var batch: Int = 32
        public var learningRate: Float = 5e-4
        public var warmupSteps: Int = 200
        /// Tasks generated per family from the training seeds (0 ..< tasksPerFamily).
        public var tasksPerFamily: Int = 3000
        /// The families the shipped model was trained on unless set (`Family.original`).
        public var families: [Family] = Family.original
        /// The looks the training tasks are drawn in: nil for the canonical look alone (the
        /// shipped recipe); e.g. `[.varied, .canonical]` draws `tasksPerFamily` tasks of each
        /// family in each look, the n-th look from seeds n * tasksPerFamily on, so that no two
        /// looks share a layout.
        public var looks: [LookSplit]?
        /// Families given another task count than `tasksPerFamily` (per look), e.g.
        /// `["maze": 9000]` to weight mazes three times; in the n-th look such a family's tasks
        /// come from seeds n * its count on.
        public var familyTasks: [String: Int]?
        public var reflowSteps: Int = 300
        public var reflowPairs: Int = 2000
        public var reflowSampleSteps: Int = 8
        public var reflowLearningRate: Float = 2e-4
        /// Minutes between checkpoints.
        public var checkpointMinutes: Double = 5
        public var width: Int = ReasonerConfig.standard.width
        public var depth: Int = ReasonerConfig.standard.depth
        public var heads: Int = ReasonerConfig.standard.heads
        public var mlpRatio: Int = ReasonerConfig.standard.mlpRatio
        /// A checkpoint folder to start from instead of a random initialisation (its size wins
        /// over width, depth, heads and mlp_ratio).
        public var initFrom: String?
        /// A user's training folder (`TrainingFolder`), read into `data/` of the run; the
        /// generated families' tasks (`families`, `tasksPerFamily`) are mixed in.
        public var tasksFolder: String?
        /// The share of the training folder's examples held out for evaluation.
        public var heldOutShare: Double?

        public init() {}

        /// Tasks generated of `family` in each look.
        public func tasksCount(of family: Family) -> Int { familyTasks?[family.rawValue] ?? tasksPerFamily }

        enum CodingKeys: String, CodingKey {
            case seed, steps, batch, families, looks, width, depth, heads
            case familyTasks = "family_tasks"
            case mlpRatio = "mlp_ratio", initFrom = "init_from", tasksFolder = "tasks_folder", heldOutShare = "held_out_share"
            case learningRate = "learning_rate", warmupSteps = "warmup_steps", tasksPerFamily = "tasks_per_family"
            case reflowSteps = "reflow_steps", reflowPairs = "reflow_pairs", reflowSampleSteps = "reflow_sample_steps"
            case reflowLearningRate = "reflow_learning_rate", checkpointMinutes = "checkpoint_minutes"
        }
    }

    /// What `state.json` records.
    public struct State: Codable, Sendable {
        /// "base", "reflow" or "done".
        public var phase: String
        /// Steps finished in the current phase.
        public var step: Int
        /// AdamW's step count (for bias correction on resume).
        public var optimizerStep: Int
        public var options: Options
        public var seconds: Double
        public var lastLoss: Float?

        enum CodingKeys: String, CodingKey {
            case phase, step, options, seconds
            case optimizerStep = "optimizer_step", lastLoss = "last_loss"
        }
    }

    public let folder: String
    public private(set) var options: Options
    public private(set) var state: State
    public let reasoner: Reasoner
    var trainer: Trainer
    var examples: [TrainingExample] = []
    /// The training folder's examples (`data/train.records`), read a batch at a time.
    public var records: ExampleRecords.Reader?
    var pairs: [TrainingExample] = []
    /// Called with each progress line.
    public var log: (String) -> Void = { print($0) }
    /// Stop (after a checkpoint) when this much wall time has passed in this process.
    public var stopAfterSeconds: Double?
    /// Stop (after a checkpoint) after this many training steps in this process.
    public var stopAfterSteps: Int?
    var stepsThisProcess = 0
    var started = Date()
    var lastCheckpoint = Date()
    /// loss.csv, open for appending once the first row is written.
    var logFD: Int32 = -1

    deinit { if logFD >= 0 { close(logFD) } }

    /// Starts a new run in `folder` (created), or resumes the one there when `resume` is set.
    public init(folder: String, options: Options, resume: Bool) throws {
        self.folder = folder
        let statePath = folder + "/state.json"
        if resume, FileManager.default.fileExists(atPath: statePath) {
            let s = try JSONDecoder().decode(State.self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))
            self.options = s.options
            self.state = s
            reasoner = try Reasoner.load(from: folder)
            try TrainingRun.trimLog(folder + "/loss.csv", to: s)
        } else {
            if !resume, FileManager.default.fileExists(atPath: statePath) {
                throw ReasonerError.file("\(folder) already holds a training run; pass --resume to continue it or choose another --out")
            }
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            self.options = options
            self.state = State(phase: "base", step: 0, optimizerStep: 0, options: options, seconds: 0, lastLoss: nil)
            if let from = options.initFrom {
                reasoner = try Reasoner.load(from: from)
            } else {
                let cfg = ReasonerConfig(width: options.width, depth: options.depth, heads: options.heads, mlpRatio: options.mlpRatio)
                if let p = cfg.validationProblem { throw ReasonerError.badConfig(path: "options", reason: p) }
                reasoner = Reasoner(config: cfg)
                reasoner.initialize(seed: options.seed)
            }
        }
        trainer = TrainingRun.makeTrainer(reasoner, options: self.options, phase: state.phase)
        if resume && state.optimizerStep > 0 { try restoreOptimizer() }
    }

    /// Gives a resumed run's base phase another length (`tutor train --resume --steps N`): the
    /// cosine schedule from the next step on is that of an N-step phase. Only while the base
    /// phase runs and N is past the steps done.
    public func setBaseSteps(_ n: Int) throws {
        guard state.phase == "base" else {
            throw ReasonerError.file("\(folder): the base phase is over (the run is in \(state.phase)); --steps cannot change it")
        }
        guard n > state.step else {
            throw ReasonerError.file("\(folder): \(state.step) base steps are done already; --steps must be more")
        }
        options.steps = n
        state.options.steps = n
        trainer.totalSteps = n
    }

    /// The optimiser and schedule of a phase: the base phase at the peak learning rate with
    /// warm-up; reflow at a lower rate, a fourth of each batch at t = 1 (the one-step map).
    static func makeTrainer(_ reasoner: Reasoner, options: Options, phase: String) -> Trainer {
        if phase == "base" {
            return Trainer(reasoner, batch: options.batch, learningRate: options.learningRate,
                           warmupSteps: options.warmupSteps, totalSteps: options.steps)
        }
        let t = Trainer(reasoner, batch: options.batch, learningRate: options.reflowLearningRate,
                        warmupSteps: max(1, min(50, options.reflowSteps / 10)), totalSteps: max(1, options.reflowSteps))
        t.oneStepFraction = 0.25
        return t
    }

    /// Generated examples first, then the training folder's.
    var exampleCount: Int { examples.count + (records?.count ?? 0) }

    func example(_ i: Int) -> TrainingExample {
        if i < examples.count { return examples[i] }
        let t = records!.read(i - examples.count)
        return TrainingExample(scene: t.scene, target: t.trajectory.offsets.map { $0 / reasoner.config.trajectoryScale })
    }

    /// Generates the training tasks and cuts their layers.
    public func prepareData() {
        let t0 = Date()
        var skipped = 0
        let looks = options.looks ?? [.canonical]
        for (n, look) in looks.enumerated() {
            for fam in options.families {
                let count = options.tasksCount(of: fam)
                for i in 0..<UInt64(count) {
                    let task = Families.generate(family: fam, seed: UInt64(n * count) + i, look: look)
                    if let e = TrainingExample(task: task, config: reasoner.config) { examples.append(e) } else { skipped += 1 }
                }
            }
        }
        log(String(format: "data: %d training tasks from %@ in the %@ look%@ (%d skipped: a moving object without a layer) in %.1f s",
                   examples.count, options.families.map(\.rawValue).joined(separator: ", "),
                   looks.map(\.rawValue).joined(separator: " and "), looks.count > 1 ? "s" : "",
                   skipped, Date().timeIntervalSince(t0)))
    }

    /// Runs the remaining phases. Returns false when stopped early by `stopAfterSeconds` or
    /// `stopAfterSteps`.
    @discardableResult
    public func run() throws -> Bool {
        if examples.isEmpty && !options.families.isEmpty { prepareData() }
        precondition(exampleCount > 0, "TrainingRun: no training examples")
        log("model: \(reasoner.parameterCount) parameters, width \(reasoner.config.width), depth \(reasoner.config.depth), \(reasoner.config.tokens) tokens, batch \(options.batch), \(Threads.count) threads")
        started = Date(); lastCheckpoint = Date()
        if state.phase == "base" {
            if !(try phase(name: "base", steps: options.steps, count: exampleCount, fetch: example)) { return false }
            try reasoner.saveCheckpoint(to: folder + "/base", metadata: ["phase": "base"])
            state.phase = "reflow"; state.step = 0; state.optimizerStep = 0
            // A new phase starts with fresh moments.
            reasoner.store.zeroMoments()
            trainer = TrainingRun.makeTrainer(reasoner, options: options, phase: "reflow")
            try checkpoint()
        }
        if state.phase == "reflow" {
            if options.reflowSteps > 0 {
                try loadOrMakePairs()
                if !(try phase(name: "reflow", steps: options.reflowSteps, count: pairs.count, fetch: { self.pairs[$0] })) { return false }
            }
            state.phase = "done"
            try checkpoint()
        }
        log("done: \(folder)")
        return true
    }

    /// Trains until `steps`; false when stopped by the time limit (after a checkpoint).
    func phase(name: String, steps: Int, count: Int, fetch: (Int) -> TrainingExample) throws -> Bool {
        var t0 = Date(), s0 = state.step
        var recent: [Float] = []
        while state.step < steps {
            var rng = Trainer.rng(seed: options.seed &+ (name == "reflow" ? 0x5EF1 : 0), step: state.step)
            let batch = (0..<options.batch).map { _ in fetch(Int(rng.next() % UInt64(count))) }
            let (loss, norm) = trainer.step(batch, stepIndex: state.step, rng: &rng)
            state.step += 1
            state.optimizerStep = trainer.optimizer.step
            state.lastLoss = loss
            recent.append(loss)
            let lr = trainer.learningRate(at: state.step - 1)
            try appendLog("\(name),\(state.step),\(loss),\(norm),\(lr),\(String(format: "%.1f", state.seconds + Date().timeIntervalSince(started)))")
            if state.step % 10 == 0 || state.step == steps {
                let dt = Date().timeIntervalSince(t0), rate = Double(state.step - s0) / max(dt, 1e-9)
                // the base phase's estimate includes the reflow steps that follow (same cost per step)
                let stepsLeft = steps - state.step + (name == "base" ? options.reflowSteps : 0)
                let left = Double(stepsLeft) / max(rate, 1e-9)
                log(String(format: "[%@] step %d/%d  loss %.4f (mean of last %d %.4f)  lr %.1e  %.2f steps/s  left %@",
                           name, state.step, steps, loss, recent.count, recent.reduce(0, +) / Float(recent.count), lr, rate,
                           TrainingRun.clock(left)))
                recent.removeAll()
                if let prof = reasoner.stack.profile {
                    let total = dt * Double(10) / Double(max(1, state.step - s0))
                    log("  stack seconds per 10 steps: " + OpProfile.Op.allCases.map { String(format: "%@ %.2f", $0.rawValue, prof.seconds[$0] ?? 0) }.joined(separator: ", ") + String(format: " (wall per 10 steps %.2f)", total))
                    prof.reset()
                }
                if state.step % 200 == 0 { t0 = Date(); s0 = state.step }
            }
            if Date().timeIntervalSince(lastCheckpoint) >= options.checkpointMinutes * 60 { try checkpoint() }
            stepsThisProcess += 1
            if let stop = stopAfterSeconds, Date().timeIntervalSince(started) >= stop {
                try checkpoint()
                log("stopped after \(Int(stop)) s at \(name) step \(state.step); continue with --resume")
                return false
            }
            if let stop = stopAfterSteps, stepsThisProcess >= stop, state.step < steps {
                try checkpoint()
                log("stopped after \(stop) steps at \(name) step \(state.step); continue with --resume")
                return false
            }
        }
        return true
    }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return String(format: "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60)
    }

    /// Drops the loss.csv rows of steps after the checkpoint `state` describes: a run that died
    /// between checkpoints logged steps that its resumption trains again, and the log should
    /// hold each step once, as an uninterrupted run's does.
    static func trimLog(_ path: String, to state: State) throws {
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let order = ["base": 0, "reflow": 1, "done": 2]
        let now = order[state.phase] ?? 0
        var kept: [Substring] = [], dropped = 0
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: ",", maxSplits: 2)
            if f.count >= 2, let p = order[String(f[0])], let step = Int(f[1]),
               p > now || (p == now && step > state.step) {
                dropped += 1
                continue
            }
            kept.append(line)
        }
        if dropped == 0 { return }
        try AtomicFileWriter.write(Array((kept.joined(separator: "\n") + "\n").utf8), to: path)
    }

    /// Appends a line to loss.csv (created with its header on first use), through one
    /// descriptor kept open for the run. A failed write (a full disk) stops the run with an
    /// error that names the file; the last checkpoint stays whole, and `--resume` drops any
    /// row written after it.
    func appendLog(_ line: String) throws {
        let path = folder + "/loss.csv"
        if logFD < 0 {
            let fresh = !FileManager.default.fileExists(atPath: path)
            logFD = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            if logFD < 0 { throw ReasonerError.file("cannot open \(path): \(String(cString: strerror(errno)))") }
            if fresh { try appendLog("phase,step,loss,grad_norm,lr,seconds") }
        }
        var bytes = Array((line + "\n").utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(logFD, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw ReasonerError.file("cannot append to \(path): \(String(cString: strerror(n < 0 ? errno : EIO)))") }
            bytes = bytes.dropFirst(n)
        }
    }

    /// Weights, optimiser moments, then state.json, each atomically: state.json always
    /// describes files that are complete.
    public func checkpoint() throws {
        state.seconds += Date().timeIntervalSince(started)
        started = Date()
        try reasoner.saveCheckpoint(to: folder, metadata: ["phase": state.phase, "step": "\(state.step)"])
        let st = reasoner.store
        if let m = st.m, let v = st.v {
            let mv = [SafetensorsTensor(name: "m", shape: [st.count], values: Array(UnsafeBufferPointer(start: m, count: st.count))),
                      SafetensorsTensor(name: "v", shape: [st.count], values: Array(UnsafeBufferPointer(start: v, count: st.count)))]
            try Safetensors.write(mv, to: folder + "/optimizer.safetensors")
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.write(Array(try enc.encode(state)) + [0x0A], to: folder + "/state.json")
        lastCheckpoint = Date()
        log("checkpoint: \(state.phase) step \(state.step) -> \(folder)")
    }

    /// Restores AdamW's moments and step count from the last checkpoint.
    func restoreOptimizer() throws {
        let path = folder + "/optimizer.safetensors"
        guard FileManager.default.fileExists(atPath: path) else { return }
        let file = try SafetensorsFile(path: path)
        let m = try file.floats("m"), v = try file.floats("v")
        let st = reasoner.store
        guard m.count == st.count, v.count == st.count else {
            throw ReasonerError.file("\(path) has \(m.count) moments for \(st.count) parameters")
        }
        // the saved moments and the step count of their bias correction
        trainer.optimizer.step = state.optimizerStep
        m.withUnsafeBufferPointer { st.m!.update(from: $0.baseAddress!, count: st.count) }
        v.withUnsafeBufferPointer { st.v!.update(from: $0.baseAddress!, count: st.count) }
    }

    /// Reflow pairs from the base model's own samples (saved, so a resumed run uses the same).
    func loadOrMakePairs() throws {
        let path = folder + "/reflow_pairs.safetensors"
        let n = reasoner.config.trajectoryCount
        // The scenes: a fixed shuffle of the training examples.
        var rng = SplitMix64(seed: options.seed &+ 0x7A1F)
        var order = Array(0..<exampleCount)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let chosen = Array(order.prefix(min(options.reflowPairs, order.count)))
        if FileManager.default.fileExists(atPath: path) {
            let file = try SafetensorsFile(path: path)
            let noise = try file.floats("noise"), target = try file.floats("target")
            if noise.count == chosen.count * n && target.count == noise.count {
                pairs = chosen.enumerated().map { j, i in
                    TrainingExample(scene: example(i).scene, target: Array(target[(j * n)..<((j + 1) * n)]),
                                    noise: Array(noise[(j * n)..<((j + 1) * n)]))
                }
                log("reflow: \(pairs.count) pairs loaded from \(path)")
                return
            }
        }
        let t0 = Date()
        pairs = trainer.reflowPairs(chosen.map { example($0).scene }, noiseSeed: options.seed &+ 0xF10, steps: options.reflowSampleSteps)
        try Safetensors.write([
            SafetensorsTensor(name: "noise", shape: [pairs.count, n], values: pairs.flatMap { $0.noise! }),
            SafetensorsTensor(name: "target", shape: [pairs.count, n], values: pairs.flatMap(\.target)),
        ], to: path)
        log(String(format: "reflow: %d pairs sampled with %d steps in %.1f s", pairs.count, options.reflowSampleSteps,
                   Date().timeIntervalSince(t0)))
    }
}
