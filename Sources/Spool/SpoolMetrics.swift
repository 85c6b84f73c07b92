import Foundation
import System

/// The daemon's counters and durations, written in the Prometheus text exposition format
/// (version 0.0.4) for node_exporter's textfile collector or any scraper that reads files.
///
/// Counters count since this daemon started (a restart begins again at 0, which Prometheus'
/// `rate` and `increase` expect); `tutor_spool_daemon_start_time_seconds` says when.
struct SpoolMetrics {
    /// Upper bounds of the task-duration buckets, in seconds.
    static let taskBuckets: [Double] = [1, 5, 15, 60, 300, 900, 3600, 14400]
    /// Upper bounds of the queue-wait buckets, in seconds.
    static let waitBuckets: [Double] = [0.1, 1, 5, 15, 60, 300, 1800, 7200]

    struct Histogram {
        let bounds: [Double]
        var counts: [Int]
        var sum = 0.0
        var count = 0

        init(bounds: [Double]) { self.bounds = bounds; counts = Array(repeating: 0, count: bounds.count) }

        mutating func observe(_ x: Double) {
            for (i, b) in bounds.enumerated() where x <= b { counts[i] += 1 }
            sum += x
            count += 1
        }
    }

    /// Seconds since the epoch when the daemon started.
    var started = 0.0
    /// Workers started.
    var attempts = 0
    /// Tasks moved out of active/, by where: "done" or "failed".
    var finished: [String: Int] = ["done": 0, "failed": 0]
    /// Tasks that went to failed/, by the error code of their verdict.
    var failures: [String: Int] = [:]
    /// Tasks put back in incoming/ after a crash or a stop.
    var requeued = 0
    /// Tasks held (put back, not counted as an attempt) because the disk was full.
    var diskFullHolds = 0
    /// Task folders removed from active/ by someone else while their worker ran.
    var vanished = 0
    /// Worker run time of tasks that ended with a verdict.
    var taskSeconds = Histogram(bounds: taskBuckets)
    /// Time from first sight in incoming/ to the claim.
    var queueWait = Histogram(bounds: waitBuckets)

    mutating func failed(code: String?) { failures[code ?? "unknown", default: 0] += 1 }

    /// What a daemon knows at the moment of writing.
    struct Gauges {
        var tasksByState: [String: Int]
        var running: Int
        var workers: Int
        var waiting: Int
        /// Seconds the oldest task has been waiting in incoming/ (0: none waiting).
        var oldestWaiting: Double
        var diskFull: Bool
    }

    func text(_ g: Gauges) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ value: Double) { sample(name, [], value) }
        func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
            let l = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
            out += "\(name)\(l) \(Self.format(value))\n"
        }
        func histogram(_ name: String, _ h: Histogram, _ help: String) {
            family(name, "histogram", help)
            for (b, c) in zip(h.bounds, h.counts) { sample(name + "_bucket", [("le", Self.format(b))], Double(c)) }
            sample(name + "_bucket", [("le", "+Inf")], Double(h.count))
            sample(name + "_sum", h.sum)
            sample(name + "_count", Double(h.count))
        }

        family("tutor_spool_tasks", "gauge", "Task folders in each state folder of the spool, at the last rescan.")
        for state in ["incoming", "active", "done", "failed"] { sample("tutor_spool_tasks", [("state", state)], Double(g.tasksByState[state] ?? 0)) }
        family("tutor_spool_running_tasks", "gauge", "Tasks this daemon is running now.")
        sample("tutor_spool_running_tasks", Double(g.running))
        family("tutor_spool_workers", "gauge", "Tasks this daemon runs at the same time at most.")
        sample("tutor_spool_workers", Double(g.workers))
        family("tutor_spool_waiting_tasks", "gauge", "Names in incoming/ this daemon is waiting on or about to claim.")
        sample("tutor_spool_waiting_tasks", Double(g.waiting))
        family("tutor_spool_queue_age_seconds", "gauge", "How long the oldest task has waited in incoming/ (0 when none waits).")
        sample("tutor_spool_queue_age_seconds", g.oldestWaiting)
        family("tutor_spool_disk_full", "gauge", "1 while this daemon holds tasks because the spool's disk is full, else 0.")
        sample("tutor_spool_disk_full", g.diskFull ? 1 : 0)
        family("tutor_spool_attempts_total", "counter", "Workers started.")
        sample("tutor_spool_attempts_total", Double(attempts))
        family("tutor_spool_finished_total", "counter", "Tasks moved to done/ or failed/.")
        for k in ["done", "failed"] { sample("tutor_spool_finished_total", [("state", k)], Double(finished[k] ?? 0)) }
        family("tutor_spool_failures_total", "counter", "Tasks moved to failed/, by the error code of their verdict.")
        for k in failures.keys.sorted() { sample("tutor_spool_failures_total", [("code", k)], Double(failures[k]!)) }
        family("tutor_spool_requeued_total", "counter", "Tasks put back in incoming/ after a worker crash or a stop.")
        sample("tutor_spool_requeued_total", Double(requeued))
        family("tutor_spool_disk_full_holds_total", "counter", "Tasks held (put back, not counted as an attempt) because the disk was full.")
        sample("tutor_spool_disk_full_holds_total", Double(diskFullHolds))
        family("tutor_spool_vanished_total", "counter", "Task folders removed from active/ while their worker ran.")
        sample("tutor_spool_vanished_total", Double(vanished))
        histogram("tutor_spool_task_seconds", taskSeconds, "Run time of tasks that ended with a verdict, in seconds.")
        histogram("tutor_spool_queue_wait_seconds", queueWait, "Time from first sight in incoming/ to the claim, in seconds.")
        family("tutor_spool_daemon_start_time_seconds", "gauge", "When this daemon started, in seconds since the epoch.")
        sample("tutor_spool_daemon_start_time_seconds", started)
        return out
    }

    /// A label value with backslash, double quote and newline escaped.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// A number as Prometheus reads it: integers without a fraction, others with the shortest
    /// digits that read back as the same Double (a start time needs all of its ten).
    static func format(_ x: Double) -> String {
        if x.isInfinite { return x > 0 ? "+Inf" : "-Inf" }
        if x.isNaN { return "NaN" }
        if x == x.rounded() && abs(x) < 1e15 { return String(Int64(x)) }
        return String(x)
    }
}
