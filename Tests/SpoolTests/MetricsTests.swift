import Foundation
import TestSupport
import XCTest
@testable import Spool
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's metrics file, read back by the Prometheus project's own parser of the text
/// format (Python's prometheus_client), as node_exporter's textfile collector would read it.
final class MetricsTests: XCTestCase {
    /// Parses `path` with prometheus_client; returns sample name -> [(labels, value)] and
    /// family name -> type. Skips the test when python3 lacks prometheus_client.
    func parse(_ path: String) throws -> (samples: [String: [([String: String], Double)]], types: [String: String]) {
        let script = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = {"samples": [], "types": {}}
        for f in text_string_to_metric_families(open(sys.argv[1]).read()):
            out["types"][f.name] = f.type
            for s in f.samples:
                out["samples"].append([s.name, s.labels, s.value])
        print(json.dumps(out))
        """
        let check = try runCommand("/usr/bin/env", ["python3", "-c", "import prometheus_client"])
        if check.0 != 0 { throw XCTSkip("python3 with prometheus_client is not available (run scripts/setup): \(check.2)") }
        let (rc, out, err) = try runCommand("/usr/bin/env", ["python3", "-c", script, path])
        XCTAssertEqual(rc, 0, "prometheus_client refused the metrics file: \(err)")
        let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        var samples: [String: [([String: String], Double)]] = [:]
        for case let s as [Any] in o["samples"] as? [Any] ?? [] {
            let name = s[0] as! String, labels = s[1] as! [String: String], value = (s[2] as! NSNumber).doubleValue
            samples[name, default: []].append((labels, value))
        }
        return (samples, o["types"] as? [String: String] ?? [:])
    }

    func value(_ s: [String: [([String: String], Double)]], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        s[name]?.first { $0.0 == labels }?.1
    }

    /// Two passing tasks and one with an error verdict: the file, written atomically while the
    /// daemon runs and at its exit, counts them by state, attempt, error code and duration.
    func testMetricsFileParsesAndCounts() throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("metrics")
        let runner = try t.script("runner.sh", """
        d="$1"; n=$(basename "$d")
        sleep 0.2
        case "$n" in
          bad*) printf '{"version":1,"task":"%s","status":"error","passed":false,"error":{"code":"invalid-input","message":"no"}}\\n' "$n" > "$d/.v.tmp" ;;
          *) printf '{"version":1,"task":"%s","status":"passed","passed":true,"error":null}\\n' "$n" > "$d/.v.tmp" ;;
        esac
        mv "$d/.v.tmp" "$d/verdict.json"
        """)
        let folder = t.path + "/textfile"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let metrics = folder + "/tutor.prom"
        // The path comes from the environment, as systemd's EnvironmentFile gives it.
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "0.2", "--rescan", "0.5"],
                                  environment: ["TUTOR_METRICS_FILE": metrics], log: t.path + "/daemon.log")
        XCTAssertTrue(d.waitForLog("serving"), d.log)
        XCTAssertTrue(waitUntil(timeout: 5) { exists(metrics) }, d.log)
        let first = try parse(metrics)
        XCTAssertEqual(value(first.samples, "tutor_spool_attempts_total"), 0)
        for n in ["ok1", "ok2", "bad1"] { XCTAssertEqual(rename(try t.makeTask(n), t.state("incoming", n)), 0) }
        XCTAssertTrue(waitUntil(timeout: 20) { names(in: t.state("done")).count == 2 && names(in: t.state("failed")).count == 1 }, d.log)
        d.signal(SIGTERM)
        XCTAssertEqual(d.waitExit(timeout: 10), 0, d.log)

        let (s, types) = try parse(metrics)
        XCTAssertEqual(types["tutor_spool_tasks"], "gauge")
        XCTAssertEqual(types["tutor_spool_attempts"], "counter")
        XCTAssertEqual(types["tutor_spool_task_seconds"], "histogram")
        XCTAssertEqual(value(s, "tutor_spool_tasks", ["state": "done"]), 2)
        XCTAssertEqual(value(s, "tutor_spool_tasks", ["state": "failed"]), 1)
        XCTAssertEqual(value(s, "tutor_spool_tasks", ["state": "incoming"]), 0)
        XCTAssertEqual(value(s, "tutor_spool_tasks", ["state": "active"]), 0)
        XCTAssertEqual(value(s, "tutor_spool_attempts_total"), 3)
        XCTAssertEqual(value(s, "tutor_spool_finished_total", ["state": "done"]), 2)
        XCTAssertEqual(value(s, "tutor_spool_finished_total", ["state": "failed"]), 1)
        XCTAssertEqual(value(s, "tutor_spool_failures_total", ["code": "invalid-input"]), 1)
        XCTAssertEqual(value(s, "tutor_spool_disk_full"), 0)
        XCTAssertEqual(value(s, "tutor_spool_disk_full_holds_total"), 0)
        XCTAssertEqual(value(s, "tutor_spool_running_tasks"), 0)
        XCTAssertEqual(value(s, "tutor_spool_queue_age_seconds"), 0)
        XCTAssertEqual(value(s, "tutor_spool_task_seconds_count"), 3)
        XCTAssertGreaterThanOrEqual(value(s, "tutor_spool_task_seconds_sum") ?? 0, 0.6)
        XCTAssertEqual(value(s, "tutor_spool_queue_wait_seconds_count"), 3)
        // Buckets are cumulative and end at the count.
        let buckets = (s["tutor_spool_task_seconds_bucket"] ?? []).map { (Double($0.0["le"]!.replacingOccurrences(of: "+Inf", with: "inf"))!, $0.1) }
        XCTAssertEqual(buckets.last?.0, .infinity)
        XCTAssertEqual(buckets.last?.1, 3)
        XCTAssertEqual(buckets.map(\.1), buckets.map(\.1).sorted())
        XCTAssertEqual(buckets.map(\.0), buckets.map(\.0).sorted())
        let start = try XCTUnwrap(value(s, "tutor_spool_daemon_start_time_seconds"))
        XCTAssertLessThan(abs(start - Date().timeIntervalSince1970), 120)
        // Written atomically: nothing but the file itself in the collector's folder.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["tutor.prom"])
    }

    /// Error codes come from verdicts that workers wrote: any text survives as a label value,
    /// and every number reads back exactly.
    func testLabelsAndNumbersRoundTrip() throws {
        let t = try TempFolder("metrics-format")
        var m = SpoolMetrics()
        let odd = "we\"ird\\code\nnext line é"
        m.failed(code: odd)
        m.failed(code: odd)
        m.failed(code: nil)
        m.started = 1_765_000_123.456789
        m.taskSeconds.observe(0.25)
        m.taskSeconds.observe(20_000)
        let g = SpoolMetrics.Gauges(tasksByState: ["done": 3], running: 1, workers: 2, waiting: 4, oldestWaiting: 12.5, diskFull: true)
        let path = t.path + "/m.prom"
        try Data(m.text(g).utf8).write(to: URL(fileURLWithPath: path))
        let (s, _) = try parse(path)
        XCTAssertEqual(value(s, "tutor_spool_failures_total", ["code": odd]), 2)
        XCTAssertEqual(value(s, "tutor_spool_failures_total", ["code": "unknown"]), 1)
        XCTAssertEqual(value(s, "tutor_spool_daemon_start_time_seconds"), 1_765_000_123.456789)
        XCTAssertEqual(value(s, "tutor_spool_queue_age_seconds"), 12.5)
        XCTAssertEqual(value(s, "tutor_spool_disk_full"), 1)
        XCTAssertEqual(value(s, "tutor_spool_tasks", ["state": "done"]), 3)
        XCTAssertEqual(value(s, "tutor_spool_task_seconds_bucket", ["le": "1"]), 1)
        XCTAssertEqual(value(s, "tutor_spool_task_seconds_bucket", ["le": "14400"]), 1)
        XCTAssertEqual(value(s, "tutor_spool_task_seconds_bucket", ["le": "+Inf"]), 2)
        XCTAssertEqual(value(s, "tutor_spool_task_seconds_sum"), 20_000.25)
    }
}
