import ArgumentParser
import Foundation
import Media
import Tasks
import Teacher

struct BenchTeacher: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teacher",
        abstract: "Measure the Teacher and the judge on held-out generated tasks.",
        discussion: """
        For each task (split evenly across the families, held-out seeds from --first-seed, drawn in the --look \
        split: canonical, varied or heldout): the judge's \
        verdict on the solution video; for each fault that applies, whether the judge catches it; whether \
        p_yes (above or below 0.5) agrees with the judge on every question of every video; and timings. \
        The first frame goes through JPEG (quality 95, 4:4:4) as it would in a task folder.
        """
    )

    @Option(help: "Number of tasks, split evenly across the families.")
    var tasks = 200

    @Option(help: "First seed (1000000 and up are held out).")
    var firstSeed: UInt64 = Families.heldOutSeedStart

    @Option(help: "canonical, varied or heldout: the look the tasks are drawn in.")
    var look: LookSplit = .canonical

    @Option(name: .customLong("family"), help: "A family to include (repeatable; default all).")
    var families: [Family] = []

    struct Tally {
        var solutionsPassed = 0, solutions = 0, jpegPassed = 0
        var caught: [Fault: (Int, Int)] = [:]
        var agree = 0, pairs = 0
        var disagreements: [String] = []
        /// Solutions the judge fails, with the failed questions.
        var failures: [String] = []
        /// Solutions whose teacher loss is at most the default stop loss, and the sum of their losses.
        var underStopLoss = 0, solutionLoss = 0.0
        var minPYes: Float = 1
        var minPYesNote = ""
    }

    func run() throws {
        let fams = families.isEmpty ? Family.allCases : families
        let perFamily = max(1, tasks / fams.count)
        var tallies: [Family: Tally] = [:]
        var genTime = 0.0, compileTime = 0.0, scoreTime = 0.0, judgeTime = 0.0, gens = 0, scores = 0, judges = 0
        let clock = ContinuousClock()
        func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

        for family in fams {
            var tally = Tally()
            for k in 0..<perFamily {
                let seed = firstSeed + UInt64(k)
                var task: GeneratedTask!
                genTime += ms(clock.measure { task = Families.generate(family: family, seed: seed, look: look) }); gens += 1
                let rules = try RuleFile.parse(Array(task.rulesJSON.utf8))
                let first = try JPEG.decode(JPEG.encode(task.firstFrame))
                var teacher: Teacher!
                compileTime += ms(clock.measure { teacher = Teacher(rules: rules, firstFrame: first) })

                func check(_ video: Video, _ label: String) -> Bool {
                    var j: Judgment!
                    judgeTime += ms(clock.measure { j = teacher.judge(video) }); judges += 1
                    for q in j.questions {
                        tally.pairs += 1
                        if (q.pYes > 0.5) == q.satisfied { tally.agree += 1 }
                        else if tally.disagreements.count < 3 {
                            tally.disagreements.append("seed \(seed) \(label): \(q.type) satisfied=\(q.satisfied) p_yes=\(q.pYes) \(q.evidence.serialized())")
                        }
                    }
                    return j.passed
                }
                let solution = Video(images: task.solution)
                var grad = [Float](repeating: 0, count: solution.pixels.count)
                var scored: TeacherScore!
                scoreTime += ms(clock.measure { grad.withUnsafeMutableBufferPointer { scored = teacher.score(solution, gradient: $0.baseAddress!) } })
                scores += 1
                tally.solutionLoss += Double(scored.loss)
                if scored.loss <= 0.22 { tally.underStopLoss += 1 }
                if let k = scored.pYes.indices.min(by: { scored.pYes[$0] < scored.pYes[$1] }), scored.pYes[k] < tally.minPYes {
                    tally.minPYes = scored.pYes[k]
                    let q = k == 0 ? rules.goal : rules.process[k - 1]
                    tally.minPYesNote = "\(family.rawValue) seed \(seed): lowest p_yes on a solution \(scored.pYes[k]) for \(q.check.typeName) \"\(q.question)\""
                }
                tally.solutions += 1
                if check(solution, "solution") { tally.solutionsPassed += 1 }
                else if tally.failures.count < 4 {
                    let j = teacher.judge(solution)
                    for q in j.questions where !q.satisfied { tally.failures.append("\(family.rawValue) seed \(seed) solution fails \(q.type) \"\(q.question)\": \(q.evidence.serialized())") }
                }
                // As `tutor run` writes frames: JPEG quality 95, 4:4:4, read back.
                let written = Video(images: try task.solution.map { try JPEG.decode(JPEG.encode($0)) })
                if check(written, "solution as JPEG") { tally.jpegPassed += 1 }
                for fault in Fault.allCases {
                    guard let v = Families.faultyVideo(family: family, seed: seed, fault: fault, look: look) else { continue }
                    let passed = check(v, fault.rawValue)
                    var c = tally.caught[fault] ?? (0, 0)
                    c.1 += 1
                    if !passed { c.0 += 1 }
                    tally.caught[fault] = c
                }
            }
            tallies[family] = tally
        }

        func pct(_ a: Int, _ b: Int) -> String { b == 0 ? "-" : String(format: "%d/%d (%.1f%%)", a, b, 100 * Double(a) / Double(b)) }
        print("$ tutor bench teacher \(CommandLine.arguments.dropFirst(3).joined(separator: " "))".trimmingCharacters(in: .whitespaces))
        print("held-out seeds \(firstSeed) ..< \(firstSeed + UInt64(perFamily)), \(perFamily) tasks per family, \(perFamily * fams.count) in all, \(look.rawValue) look\n")
        var header = "| measure |"
        var rule = "| --- |"
        for f in fams { header += " \(f.rawValue) |"; rule += " --- |" }
        header += " all |"; rule += " --- |"
        print(header); print(rule)
        func row(_ name: String, _ value: (Tally) -> (Int, Int)) {
            var line = "| \(name) |", a = 0, b = 0
            for f in fams { let (x, y) = value(tallies[f]!); a += x; b += y; line += " \(pct(x, y)) |" }
            print(line + " \(pct(a, b)) |")
        }
        row("solution passes the judge") { ($0.solutionsPassed, $0.solutions) }
        row("solution written as JPEG (q95, 4:4:4) and read back passes") { ($0.jpegPassed, $0.solutions) }
        for fault in Fault.allCases {
            if fams.allSatisfy({ tallies[$0]!.caught[fault] == nil }) { continue }
            row("fault caught: \(fault.rawValue)") { $0.caught[fault] ?? (0, 0) }
        }
        row("p_yes agrees with the judge (question-video pairs)") { ($0.agree, $0.pairs) }
        row("solution's teacher loss <= 0.22 (the default stop loss)") { ($0.underStopLoss, $0.solutions) }
        var line = "| solution's teacher loss, mean; lowest p_yes of any question |"
        for f in fams { let t = tallies[f]!; line += String(format: " %.3f; %.3f |", t.solutionLoss / Double(t.solutions), t.minPYes) }
        print(line + " |")
        print("")
        print(String(format: "generate a task: %.2f ms; compile a Teacher: %.2f ms; score 16x64x64 with gradient: %.2f ms; judge: %.2f ms (means)",
                     genTime / Double(gens), compileTime / Double(gens), scoreTime / Double(scores), judgeTime / Double(judges)))
        print("")
        for f in fams { print(tallies[f]!.minPYesNote) }
        let failures = fams.flatMap { tallies[$0]!.failures }
        if !failures.isEmpty {
            print("\nsolutions that fail:")
            for n in failures { print("  " + n) }
        }
        let notes = fams.flatMap { tallies[$0]!.disagreements }
        if !notes.isEmpty {
            print("\nfirst disagreements and failures:")
            for n in notes.prefix(12) { print("  " + n) }
        }
    }
}
