import Adaptation
import ArgumentParser
import Engine
import Foundation
import Media
import Reasoner
import System
import Tasks
import Teacher

struct BenchReasoner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reasoner",
        abstract: "Measure the Reasoner on held-out generated tasks, without adaptation.",
        discussion: """
        For each task (split evenly across the families, held-out seeds from --first-seed; the first \
        frame goes through JPEG quality 95, 4:4:4, as in a task folder): one 4-step sample from the noise \
        of the task's seed, rendered as the final video and judged by the Teacher's judge. Prints, per \
        family and overall: the pass rate, how often every static object stays put (the judge's \
        `static` check, which also counts a moving object drawn over a static one; a line below the \
        table separates the two) and every moving object stays intact, the goal rate, and for the \
        failures how far they are (frames in which an \
        object crosses an obstacle; distance in pixels between each moving object's final position and \
        the solution's). Then, on --spread-tasks tasks with 8 noises each: the spread of the main moving \
        object's position at the middle frame in one-step and in 4-step samples (a one-step output that \
        is a sample spreads like the 4-step samples; an average does not), and how often the judge's \
        goal verdict on the one-step video agrees with the 4-step video from the same noise.
        """
    )

    @Option(help: "Checkpoint folder.")
    var model = "models/reasoner"

    @Option(help: "Number of tasks, split evenly across the families. 1000 by default: static is judged on two of the four families, so at 200 tasks one task moves it by a point.")
    var tasks = 1000

    @Option(help: "Tasks for the one-step against 4-step spread (8 noises each).")
    var spreadTasks = 100

    @Option(help: "Sampling steps of the judged videos.")
    var steps = 4

    @Option(help: "First seed (1000000 and up are held out).")
    var firstSeed: UInt64 = Families.heldOutSeedStart

    @Option(help: "Threads.")
    var threads = 2

    @Option(help: "Final video: layers that never move more than this many pixels are drawn static.")
    var staticThreshold: Float = Compositor.staticThreshold

    @Option(help: "Print the layers and the failed questions of the first N tasks of each family.")
    var show = 0

    struct Tally {
        var tasks = 0, passed = 0, goal = 0
        var staticTasks = 0, staticOK = 0, intactTasks = 0, intactOK = 0, avoidTasks = 0, avoidOK = 0
        /// Tasks whose static objects' layers the final video draws exactly in place, and judge
        /// `static` failures among those (a moving object drawn over a static one).
        var staticInPlace = 0, staticFailedInPlace = 0
        var crossingFrames: [Int] = []
        var finalDistance: [Float] = []
        var failedDistance: [Float] = []
        var goalAgree = 0, goalPairs = 0
        var spread1: [Float] = [], spread4: [Float] = []
    }

    func run() throws {
        Threads.set(threads)
        let reasoner: Reasoner
        do { reasoner = try Reasoner.load(from: model) } catch {
            StandardError.line("error: \(ErrorText.describe(error))")
            throw ExitCode(1)
        }
        print("model: \(model) (\(reasoner.config.name), \(reasoner.parameterCount) parameters); \(steps)-step samples, final-video rendering, \(threads) threads")
        let families = Family.allCases
        let perFamily = max(1, tasks / families.count)
        let spreadPerFamily = max(0, spreadTasks / families.count)
        var tallies: [Family: Tally] = [:]
        var sampleSeconds = 0.0, samples = 0, oneStepSeconds = 0.0, oneSteps = 0
        let acts = reasoner.makeActivations(maxBatch: 8)

        for family in families {
            var tally = Tally()
            for k in 0..<perFamily {
                let seed = firstSeed + UInt64(k)
                let task = Families.generate(family: family, seed: seed)
                let first = try JPEG.decode(JPEG.encode(task.firstFrame, quality: 95))
                let rules = try RuleFile.parse(Array(task.rulesJSON.utf8))
                let teacher = Teacher(rules: rules, firstFrame: first)
                let scene = Scene(prompt: task.prompt, firstFrame: first)
                let noise = Reasoner.noise(seed: seed)
                let t0 = monotonicSeconds()
                let traj = reasoner.sample([scene], noises: [noise], steps: steps, activations: acts)[0]
                sampleSeconds += monotonicSeconds() - t0; samples += 1
                let video = Compositor.render(scene.layered, traj, final: true, staticThreshold: staticThreshold)
                let j = teacher.judge(video)
                tally.tasks += 1
                if j.passed { tally.passed += 1 }
                if j.goal.satisfied { tally.goal += 1 }
                func all(_ type: String) -> Bool? {
                    let qs = j.questions.filter { $0.type == type }
                    return qs.isEmpty ? nil : qs.allSatisfy(\.satisfied)
                }
                if let ok = all("static") {
                    tally.staticTasks += 1
                    if ok { tally.staticOK += 1 }
                    let layers = StrategyRunner.staticLayers(rules: rules, scene: scene).map(\.layer)
                    if layers.allSatisfy({ traj.maxDisplacement(layer: $0) <= staticThreshold }) {
                        tally.staticInPlace += 1
                        if !ok { tally.staticFailedInPlace += 1 }
                    }
                }
                if let ok = all("intact") { tally.intactTasks += 1; if ok { tally.intactOK += 1 } }
                if let ok = all("avoid") { tally.avoidTasks += 1; if ok { tally.avoidOK += 1 } }
                // How far: obstacle-crossing frames, and each mover's final position against the solution's.
                var crossing = 0
                for q in j.questions where q.type == "avoid" {
                    if case .array(let a)? = q.evidence["failing_frames"] { crossing = max(crossing, a.count) }
                }
                var used = Set<Int>(), worst: Float = 0
                for tr in task.tracks {
                    guard let l = scene.layerIndex(matching: tr.color, excluding: used) else { worst = .infinity; continue }
                    used.insert(l)
                    let d = traj.offset(layer: l, frame: Trajectory.frames - 1) - tr.offsets[Trajectory.frames - 1]
                    worst = max(worst, (d * d).sum().squareRoot())
                }
                tally.finalDistance.append(worst)
                if k < show {
                    print("\(family.rawValue) \(seed): \(j.passed ? "passed" : "failed")")
                    for (l, layer) in scene.layered.layers.enumerated() {
                        let c = layer.color * 255, fin = traj.offset(layer: l, frame: Trajectory.frames - 1)
                        print(String(format: "  layer %d colour (%.0f,%.0f,%.0f) area %.1f max offset %.2f px, final (%.1f, %.1f)",
                                     l, c.x, c.y, c.z, layer.area, traj.maxDisplacement(layer: l), fin.x, fin.y))
                    }
                    for q in j.questions where !q.satisfied { print("  no: \(q.question) \(q.evidence.serialized())") }
                }
                if !j.passed { tally.crossingFrames.append(crossing); tally.failedDistance.append(worst) }

                // One-step against few-step, from the same noises.
                if k < spreadPerFamily, let main = mainMover(task, scene) {
                    let noises = (0..<8).map { Reasoner.noise(seed: seed &* 31 &+ UInt64($0)) }
                    let scenes = [Scene](repeating: scene, count: 8)
                    let t1 = monotonicSeconds()
                    let one = reasoner.sample(scenes, noises: noises, steps: 1, activations: acts)
                    oneStepSeconds += (monotonicSeconds() - t1) / 8; oneSteps += 1
                    let few = reasoner.sample(scenes, noises: noises, steps: steps, activations: acts)
                    tally.spread1.append(spread(one, layer: main))
                    tally.spread4.append(spread(few, layer: main))
                    for i in 0..<8 {
                        let g1 = teacher.judge(Compositor.render(scene.layered, one[i], final: true, staticThreshold: staticThreshold)).goal.satisfied
                        let g4 = teacher.judge(Compositor.render(scene.layered, few[i], final: true, staticThreshold: staticThreshold)).goal.satisfied
                        tally.goalPairs += 1
                        if g1 == g4 { tally.goalAgree += 1 }
                    }
                }
            }
            tallies[family] = tally
        }

        func pct(_ a: Int, _ b: Int) -> String { b == 0 ? "   -  " : String(format: "%5.1f%%", 100 * Double(a) / Double(b)) }
        func mean(_ a: [Float]) -> Float { a.isEmpty ? .nan : a.reduce(0, +) / Float(a.count) }
        func pad(_ s: String) -> String { s.padding(toLength: 10, withPad: " ", startingAt: 0) }
        func median(_ a: [Float]) -> Float { a.isEmpty ? .nan : a.sorted()[a.count / 2] }
        print("")
        print("family     tasks  pass    goal    static  intact  avoid   final dist px (median)")
        var total = Tally()
        for family in families {
            let t = tallies[family]!
            print(String(format: "%@ %5d  %@  %@  %@  %@  %@  %.1f", pad(family.rawValue), t.tasks,
                         pct(t.passed, t.tasks), pct(t.goal, t.tasks), pct(t.staticOK, t.staticTasks),
                         pct(t.intactOK, t.intactTasks), pct(t.avoidOK, t.avoidTasks), median(t.finalDistance)))
            total.tasks += t.tasks; total.passed += t.passed; total.goal += t.goal
            total.staticTasks += t.staticTasks; total.staticOK += t.staticOK
            total.staticInPlace += t.staticInPlace; total.staticFailedInPlace += t.staticFailedInPlace
            total.intactTasks += t.intactTasks; total.intactOK += t.intactOK
            total.avoidTasks += t.avoidTasks; total.avoidOK += t.avoidOK
            total.crossingFrames += t.crossingFrames; total.finalDistance += t.finalDistance
            total.failedDistance += t.failedDistance
            total.goalAgree += t.goalAgree; total.goalPairs += t.goalPairs
            total.spread1 += t.spread1; total.spread4 += t.spread4
        }
        print(String(format: "%@ %5d  %@  %@  %@  %@  %@  %.1f", pad("overall"), total.tasks,
                     pct(total.passed, total.tasks), pct(total.goal, total.tasks), pct(total.staticOK, total.staticTasks),
                     pct(total.intactOK, total.intactTasks), pct(total.avoidOK, total.avoidTasks), median(total.finalDistance)))

        if total.staticTasks > 0 {
            print("")
            print("static objects (\(total.staticTasks) tasks with a static question): the judge's check passes in \(total.staticOK) (\(pct(total.staticOK, total.staticTasks).trimmingCharacters(in: .whitespaces))); "
                  + "the final video draws their layers exactly in place in \(total.staticInPlace) (\(pct(total.staticInPlace, total.staticTasks).trimmingCharacters(in: .whitespaces))); "
                  + "\(total.staticFailedInPlace) of the \(total.staticTasks - total.staticOK) check failures have every static layer in place (a moving object drawn over them)")
        }
        print("")
        print("failures (\(total.tasks - total.passed)): how far")
        let buckets: [(String, (Float) -> Bool)] = [("<= 2 px", { $0 <= 2 }), ("2-5 px", { $0 > 2 && $0 <= 5 }),
                                                      ("5-10 px", { $0 > 5 && $0 <= 10 }), ("10-20 px", { $0 > 10 && $0 <= 20 }),
                                                      ("> 20 px", { $0 > 20 })]
        print("  final position vs the solution's: " + buckets.map { name, f in "\(name): \(total.failedDistance.filter(f).count)" }.joined(separator: ", "))
        let cf = total.crossingFrames
        print("  obstacle-crossing frames: 0: \(cf.filter { $0 == 0 }.count), 1-2: \(cf.filter { $0 >= 1 && $0 <= 2 }.count), 3-5: \(cf.filter { $0 >= 3 && $0 <= 5 }.count), 6+: \(cf.filter { $0 >= 6 }.count)")
        print("")
        if !total.spread1.isEmpty {
            print(String(format: "one-step vs %d-step (%d tasks x 8 noises): middle-frame spread of the main mover %.2f px vs %.2f px (ratio %.2f); goal verdict agreement %@",
                         steps, total.spread1.count, mean(total.spread1), mean(total.spread4),
                         mean(total.spread1) / max(mean(total.spread4), 1e-6), pct(total.goalAgree, total.goalPairs)))
            for family in families {
                let t = tallies[family]!
                if t.spread1.isEmpty { continue }
                print(String(format: "  %@ spread %.2f vs %.2f px, goal agreement %@", pad(family.rawValue),
                             mean(t.spread1), mean(t.spread4), pct(t.goalAgree, t.goalPairs)))
            }
        }
        print(String(format: "time: %.1f ms per %d-step sample (batch 1), %.1f ms per one-step sample (batch 8)",
                     1000 * sampleSeconds / Double(max(samples, 1)), steps, 1000 * oneStepSeconds / Double(max(oneSteps, 1))))
        // Test-time adaptation's inner step: differentiable sample, render, backward into a rank-16 LoRA.
        let task = Families.generate(family: .maze, seed: firstSeed)
        let scene = Scene(prompt: task.prompt, firstFrame: task.firstFrame)
        let lora = reasoner.attachLoRA(rank: 16, alpha: 16, seed: 1)
        let dVideo = [Float](repeating: 1e-3, count: Trajectory.frames * 64 * 64 * 3)
        for gradSteps in [1, steps] {
            let acts = (0..<gradSteps).map { _ in reasoner.makeActivations(maxBatch: 1) }
            let reps = 10
            let t0 = monotonicSeconds()
            for _ in 0..<reps {
                lora.zeroGradients()
                let ds = DifferentiableSample(reasoner, scene: scene, noise: Reasoner.noise(seed: 1), steps: gradSteps, activations: acts)
                _ = Compositor.render(scene.layered, ds.trajectory)
                ds.backward(dTrajectory: Compositor.renderBackward(scene.layered, ds.trajectory, dVideo: dVideo))
            }
            print(String(format: "time: %.1f ms per LoRA gradient through %d sampling step(s) (forward, render, backward; rank 16, %d LoRA parameters)",
                         1000 * (monotonicSeconds() - t0) / Double(reps), gradSteps, lora.parameterCount))
        }
        reasoner.detachLoRA()
    }

    /// The layer of the moving object that travels farthest in the solution.
    func mainMover(_ task: GeneratedTask, _ scene: Scene) -> Int? {
        var best: (Int, Float)? = nil, used = Set<Int>()
        for tr in task.tracks {
            guard let l = scene.layerIndex(matching: tr.color, excluding: used) else { continue }
            used.insert(l)
            let d = tr.offsets.map { ($0 * $0).sum().squareRoot() }.max() ?? 0
            if best == nil || d > best!.1 { best = (l, d) }
        }
        return best?.0
    }

    /// Root mean square distance of the layer's middle-frame offset from its mean over the samples.
    func spread(_ ts: [Trajectory], layer: Int) -> Float {
        let mid = Trajectory.frames / 2
        let ps = ts.map { $0.offset(layer: layer, frame: mid) }
        let m = ps.reduce(SIMD2<Float>.zero, +) / Float(ps.count)
        return (ps.map { let d = $0 - m; return (d * d).sum() }.reduce(0, +) / Float(ps.count)).squareRoot()
    }
}
