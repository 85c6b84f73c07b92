import ArgumentParser
import Foundation
import Media
import System
import Training

struct BenchReading: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reading",
        abstract: "Measure how fast a training folder is read and tracked (what tutor train --tasks does first).",
        discussion: """
        Reads the example folders of --tasks in name order (at most --limit) on one thread, as `tutor train \
        --tasks` does: the first frame, prompt and rules, the layer cut at the working size, each sampled \
        solution frame decoded and followed by the layer tracker; nothing is written. Prints examples per \
        second of this thread's CPU time (what one core does, whatever else runs) and of wall time, the \
        share spent decoding the solution's frames (a second pass that only decodes them), and the \
        unusable examples with their reasons. Make a folder with `tutor make-task FAMILY --layout training \
        --count N --size 512x512 [--png]`. On a shared machine, compare two builds by runs pinned to one \
        core (`taskset -c 1 tutor bench reading ...`) and interleaved, A B A B ..., and read the medians.
        """
    )

    @Option(help: "A training folder (one subfolder per example).")
    var tasks: String

    @Option(help: "Most examples read.")
    var limit = 1000

    func run() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: tasks).filter { !$0.hasPrefix(".") }.sorted().prefix(limit)
        let root = URL(fileURLWithPath: tasks)
        var usable = 0, reasons: [String: Int] = [:]
        var sizes: [String: Int] = [:], working: [String: Int] = [:]
        let cpu0 = Clock.threadCPUSeconds(), wall0 = Clock.monotonicSeconds()
        var decodeList: [(url: URL, width: Int, height: Int)] = []
        for name in names {
            switch Result(catching: { () throws(ExampleProblem) -> (ExampleFolder, TrackedExample) in
                let ex = try ExampleFolder.read(root.appendingPathComponent(name, isDirectory: true))
                return (ex, try ExampleTracker.track(ex))
            }) {
            case .failure(let p):
                reasons[p.reason, default: 0] += 1
            case .success(let (ex, tracked)):
                usable += 1
                sizes["\(ex.firstFrame.width) x \(ex.firstFrame.height)", default: 0] += 1
                let cut = tracked.scene.working
                working["\(cut.width) x \(cut.height)", default: 0] += 1
                let read = ex.frames.isEmpty ? [ex.finalFrame].compactMap { $0 } : ExampleTracker.sampledFrames(ex.frames).map(\.url)
                for f in read { decodeList.append((f, cut.width, cut.height)) }
            }
        }
        let cpu = Clock.threadCPUSeconds() - cpu0, wall = Clock.monotonicSeconds() - wall0
        let d0 = Clock.threadCPUSeconds()
        for f in decodeList {
            _ = try? ExampleFolder.decodeImage(f.url.lastPathComponent, in: f.url.deletingLastPathComponent(), atLeast: (f.width, f.height))
        }
        let decode = Clock.threadCPUSeconds() - d0
        let n = names.count
        func tally(_ t: [String: Int]) -> String { t.sorted { $0.value > $1.value }.map { "\($0.key) (\($0.value))" }.joined(separator: ", ") }
        print("training folder: \(tasks); \(n) examples read, \(usable) usable, \(n - usable) unusable; first frames "
              + tally(sizes) + "; working sizes " + tally(working))
        print(String(format: "reading and tracking: %.1f examples/s per core (%.2f ms CPU each), %.1f examples/s wall (%.1f s)",
                     Double(n) / max(cpu, 1e-9), 1000 * cpu / Double(max(n, 1)), Double(n) / max(wall, 1e-9), wall))
        print(String(format: "solution frames: %d decoded in the usable examples, %.2f ms CPU each to decode alone (%.0f%% of the reading)",
                     decodeList.count, 1000 * decode / Double(max(decodeList.count, 1)), 100 * decode / max(cpu, 1e-9)))
        print("image kernels (area averages, JPEG colours, PNG rows): \(RGBImage.imageKernels)")
        for (r, c) in reasons.sorted(by: { $0.value > $1.value }).prefix(10) { print("unusable (\(c)): \(r)") }
    }
}
