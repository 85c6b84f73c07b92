import Dispatch
import Engine
import Foundation
import Media
import Reasoner
import System
import TaskFolder
import Teacher

/// One task of a strategy benchmark: inputs as `tutor run` reads them.
public struct BenchTask: Sendable {
    /// The family (or, for task folders, the folder name up to its first `-`).
    public var family: String
    public var name: String
    public var prompt: String
    public var rules: RuleFile
    /// The first frame as decoded from its JPEG.
    public var firstFrame: RGBImage
    /// job.json's settings (seed and strategy knobs); the bench overrides the strategy.
    public var job: JobSettings

    public init(family: String, name: String, prompt: String, rules: RuleFile, firstFrame: RGBImage, job: JobSettings) {
        self.family = family; self.name = name; self.prompt = prompt; self.rules = rules
        self.firstFrame = firstFrame; self.job = job
    }
}

/// What one strategy did on one task.
public struct BenchOutcome: Sendable {
    public var passed: Bool
    public var evaluations: Int
    public var seconds: Double
    /// Check types of the questions the kept video fails (`avoid`, `reach`, ...).
    public var failedTypes: [String]
    /// Adaptation steps made (0 when none ran).
    public var steps: Int
    /// Whether the unadapted video from the same noise passed.
    public var basePassed: Bool
    /// The size the teacher judged at, width and height.
    public var workingSize: [Int] = []
    /// Whether the strategy's own judgment (at the working size) passed the kept video.
    public var keptPassed = false
}

/// Runs strategies over tasks, several tasks at a time (one Reasoner per worker thread, the
/// engine single-threaded inside), and collects outcomes in task order: the result does not
/// depend on how the tasks were scheduled.
public struct StrategyBench {
    public var modelDirectory: URL
    public var jobs: Int
    /// Applied to every task's settings before the strategy runs.
    public var configure: @Sendable (inout StrategySettings) -> Void

    public init(modelDirectory: URL, jobs: Int, configure: @escaping @Sendable (inout StrategySettings) -> Void) {
        self.modelDirectory = modelDirectory
        self.jobs = jobs
        self.configure = configure
    }

    /// Runs `strategy` on every task; `done` is called (serially) after each.
    public func run(_ strategy: Strategy, on tasks: [BenchTask], done: @escaping (Int, BenchOutcome) -> Void) throws -> [BenchOutcome] {
        let workers = max(1, min(jobs, tasks.count))
        // Each worker owns its model (an attached LoRA changes it), so sharing the array is safe.
        let models = Unchecked(try (0..<workers).map { _ in try Reasoner.load(from: modelDirectory.path) })
        let done = Unchecked(done)
        if workers > 1 { Threads.set(1) }
        let box = ResultBox(count: tasks.count)
        let configure = self.configure
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let reasoner = models.value[w]
            while let i = box.next() {
                let t = tasks[i]
                var s = StrategySettings(job: t.job)
                s.strategy = strategy
                configure(&s)
                let start = Clock.monotonicSeconds()
                let (scene, working) = Scene.judged(prompt: t.prompt, firstFrame: t.firstFrame, rules: t.rules,
                                                    tokenizer: reasoner.tokenizer)
                let runner = StrategyRunner(reasoner: reasoner, scene: scene, rules: t.rules, firstFrame: t.firstFrame, settings: s)
                let r = runner.run()
                reasoner.detachLoRA()
                // Judged as `tutor run`'s verdict judges: the frames at the first frame's size.
                let judgment = FinalVideo.judge(runner.teacher, firstFrame: t.firstFrame, scene: scene,
                                                trajectory: r.final.trajectory!, longSide: t.job.frameLongSide)
                let seconds = Clock.monotonicSeconds() - start
                let failed = judgment.questions.filter { !$0.satisfied }.map(\.type)
                let o = BenchOutcome(passed: judgment.passed, evaluations: r.evaluations, seconds: seconds, failedTypes: failed,
                                     steps: r.optimization?.steps ?? 0, basePassed: r.base.passed,
                                     workingSize: [working.width, working.height], keptPassed: r.final.passed)
                box.put(i, o, done.value)
            }
        }
        return box.results.map { $0! }
    }
}

/// Hands out task indices and collects outcomes under one lock.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0
    private(set) var results: [BenchOutcome?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard nextIndex < results.count else { return nil }
        nextIndex += 1
        return nextIndex - 1
    }

    func put(_ i: Int, _ o: BenchOutcome, _ done: (Int, BenchOutcome) -> Void) {
        lock.lock(); defer { lock.unlock() }
        results[i] = o
        done(i, o)
    }
}

/// A value handed to worker threads that use it in a way the compiler cannot check: each
/// worker touches only its own element, and callbacks run under the result lock.
final class Unchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
