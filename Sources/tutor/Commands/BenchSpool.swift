import ArgumentParser
import Foundation
import Spool
import System
#if canImport(Glibc)
import Glibc
#endif

/// `tutor bench spool`: the spool daemon's own costs, with a trivial runner so that only the
/// spool is measured.
struct BenchSpool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Measure the spool daemon: pickup latency, throughput, memory over many tasks, idle CPU.",
        discussion: """
        Starts this tutor's daemon on a temporary spool with a runner script that only writes a \
        verdict, then measures: (1) pickup latency, from the rename of a complete folder into \
        incoming/ to its claim (the rename into active/, seen by inotify), one task at a time; \
        (2) throughput of tiny tasks with 2 workers, a burst renamed in at once; (3) the daemon's \
        resident memory at start and after every 100 of --tasks tasks; (4) the daemon's CPU time \
        while idle for --idle-seconds. Each worker starts through `tutor spool-exec`, so the \
        figures include one start of this executable per task. Build with -c release. It \
        measures and prints; it asserts nothing.
        """
    )

    @Option(help: "Tasks whose pickup latency is measured, one at a time.")
    var latencyTasks = 100

    @Option(help: "Tasks in the throughput burst.")
    var burstTasks = 200

    @Option(help: "Tasks over which the daemon's resident memory is followed.")
    var tasks = 1000

    @Option(help: "Seconds of idle CPU measurement.")
    var idleSeconds = 10.0

    @Option(help: "Where to make the temporary spool (default /tmp).")
    var dir = "/tmp"

    func run() throws {
        var template = Array("\(dir)/tutor-bench-spool-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw ValidationError("cannot create a temporary folder in \(dir)") }
        let root = String(cString: p)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let spool = root + "/spool"
        let staging = root + "/staging"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        for s in ["incoming", "active", "done", "failed"] {
            try FileManager.default.createDirectory(atPath: spool + "/" + s, withIntermediateDirectories: true)
        }
        let runner = root + "/runner.sh"
        try Data("""
        #!/bin/sh
        printf '{"version":1,"status":"passed","passed":true}\\n' > "$1/.verdict.tmp" && mv "$1/.verdict.tmp" "$1/verdict.json"

        """.utf8).write(to: URL(fileURLWithPath: runner))
        chmod(runner, 0o755)

        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        daemon.arguments = ["daemon", "--spool", spool, "--runner", runner, "--workers", "2", "--settle", "3", "--rescan", "30"]
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/null"))
        daemon.standardError = log
        daemon.standardOutput = log
        try daemon.run()
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGTERM); daemon.waitUntilExit() } }
        let pid = daemon.processIdentifier

        // Claims are renames into active/: inotify on it timestamps each one.
        let ino = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard ino >= 0, inotify_add_watch(ino, spool + "/active", UInt32(IN_MOVED_TO)) >= 0 else {
            throw ValidationError("cannot watch \(spool)/active with inotify")
        }
        defer { close(ino) }
        // Let the daemon finish its first scan.
        Thread.sleep(forTimeInterval: 0.5)
        let loadStart = loadAverage()
        let rssStart = ProcessReadings.residentBytes(pid) ?? 0
        var serial = 0
        func makeTask() throws -> String {
            serial += 1
            let name = String(format: "t%06d", serial)
            let d = staging + "/" + name
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: false)
            for f in ["prompt.txt", "rules.json", "first_frame.jpg"] {
                _ = FileManager.default.createFile(atPath: d + "/" + f, contents: Data("x".utf8))
            }
            return name
        }
        func doneCount() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: spool + "/done").count) ?? 0 }
        func waitDone(_ n: Int, timeout: Double = 300) -> Bool {
            let end = Date().addingTimeInterval(timeout)
            while doneCount() < n { if Date() > end { return false }; usleep(2_000) }
            return true
        }

        // (1) Pickup latency, one task at a time.
        var latencies: [Double] = []
        for _ in 0..<latencyTasks {
            let name = try makeTask()
            let before = doneCount()
            let t0 = monotonic()
            guard rename(staging + "/" + name, spool + "/incoming/" + name) == 0 else { throw ValidationError("rename failed") }
            if let t1 = waitForClaim(ino, name: name, timeout: 10) { latencies.append(t1 - t0) }
            _ = waitDone(before + 1)
        }

        // (2) Throughput: a burst renamed in at once, 2 workers.
        var burst: [String] = []
        for _ in 0..<burstTasks { burst.append(try makeTask()) }
        let beforeBurst = doneCount()
        let b0 = monotonic()
        for n in burst { rename(staging + "/" + n, spool + "/incoming/" + n) }
        _ = waitDone(beforeBurst + burstTasks)
        let burstSeconds = monotonic() - b0
        drain(ino)

        // (3) Resident memory over --tasks tasks, in batches of 100.
        var rssAfter: [(Int, Int)] = []
        let firstDone = doneCount()
        var fed = 0
        while fed < tasks {
            let k = min(100, tasks - fed)
            for _ in 0..<k { let n = try makeTask(); rename(staging + "/" + n, spool + "/incoming/" + n) }
            fed += k
            _ = waitDone(firstDone + fed)
            drain(ino)
            rssAfter.append((fed, ProcessReadings.residentBytes(pid) ?? 0))
        }

        // (4) Idle CPU.
        Thread.sleep(forTimeInterval: 1)
        let c0 = ProcessReadings.cpuSeconds(pid) ?? 0
        let i0 = monotonic()
        Thread.sleep(forTimeInterval: idleSeconds)
        let idleCPU = (ProcessReadings.cpuSeconds(pid) ?? 0) - c0
        let idleWall = monotonic() - i0

        let loadEnd = loadAverage()
        kill(pid, SIGTERM)
        daemon.waitUntilExit()
        let failed = (try? FileManager.default.contentsOfDirectory(atPath: spool + "/failed").count) ?? 0

        let sorted = latencies.sorted()
        func pct(_ q: Double) -> Double { sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.up)) - 1)] }
        let mib = { (b: Int) in String(format: "%.1f MiB", Double(b) / 1048576) }
        print("tutor bench spool  (daemon pid \(pid), 2 workers, runner: a shell script writing verdict.json)")
        print("")
        print("| measure | value |")
        print("| --- | --- |")
        print(String(format: "| pickup latency after rename, p50 (%d tasks) | %.1f ms |", sorted.count, pct(0.5) * 1000))
        print(String(format: "| pickup latency after rename, p95 | %.1f ms |", pct(0.95) * 1000))
        print(String(format: "| pickup latency after rename, max | %.1f ms |", (sorted.last ?? .nan) * 1000))
        print(String(format: "| throughput, %d tiny tasks, 2 workers | %.1f tasks/s (%.2f s) |", burstTasks, Double(burstTasks) / burstSeconds, burstSeconds))
        print("| daemon resident memory at start | \(mib(rssStart)) |")
        for (n, rss) in rssAfter where n == 100 || n == tasks || n % 500 == 0 {
            print("| daemon resident memory after \(n) more tasks | \(mib(rss)) |")
        }
        print(String(format: "| daemon CPU while idle for %.0f s | %.3f s (%.3f%% of one core) |", idleWall, idleCPU, 100 * idleCPU / idleWall))
        print("| tasks in failed/ | \(failed) |")
        print("| machine load average (1 min), start / end | \(loadStart) / \(loadEnd) |")
    }

    /// The 1-minute load average: other work on the machine shows in the figures.
    private func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?"
        return String(text.split(separator: " ").first ?? "?")
    }

    private func monotonic() -> Double { Clock.monotonicSeconds() }

    /// Waits for the inotify event of `name` arriving in active/; returns when it was seen.
    private func waitForClaim(_ fd: Int32, name: String, timeout: Double) -> Double? {
        let end = monotonic() + timeout
        var buf = [UInt8](repeating: 0, count: 64 * 1024)
        let size = buf.count
        while monotonic() < end {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 100)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress!, size) }
            if n <= 0 { continue }
            let now = monotonic()
            var off = 0
            var seen = false
            buf.withUnsafeBytes { raw in
                while off + MemoryLayout<inotify_event>.size <= n {
                    let len = Int(raw.load(fromByteOffset: off + 12, as: UInt32.self))
                    let start = off + MemoryLayout<inotify_event>.size
                    let nameBytes = raw[start..<min(start + len, n)].prefix { $0 != 0 }
                    if String(decoding: nameBytes, as: UTF8.self) == name { seen = true }
                    off = start + len
                }
            }
            if seen { return now }
        }
        return nil
    }

    private func drain(_ fd: Int32) {
        var buf = [UInt8](repeating: 0, count: 64 * 1024)
        let size = buf.count
        while buf.withUnsafeMutableBytes({ read(fd, $0.baseAddress!, size) }) > 0 {}
    }
}
