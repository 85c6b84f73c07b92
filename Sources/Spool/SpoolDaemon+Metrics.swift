import Foundation
import System

/// The metrics file: what the daemon counted, written for the people who run it.
extension SpoolDaemon {
    /// Lists the four state folders for the `tutor_spool_tasks` gauge (at start, each rescan
    /// and exit: a listing of done/ is not free on a large spool).
    func countStates() {
        guard settings.metricsPath != nil else { return }
        for (state, path) in [("incoming", folders.incoming), ("active", folders.active), ("done", folders.done), ("failed", folders.failed)] {
            stateCounts[state] = folders.taskNames(in: path).count
        }
    }

    /// Writes the metrics file atomically; a failure is logged once until a write succeeds.
    func writeMetrics() {
        guard let path = settings.metricsPath else { metricsDue = .infinity; return }
        let now = Clock.monotonicSeconds()
        metricsDue = now + max(settings.rescanSeconds, 1)
        let oldest = candidates.values.map { now - $0.firstSeen }.max() ?? 0
        let g = SpoolMetrics.Gauges(tasksByState: stateCounts, running: running.count, workers: settings.workers,
                                    waiting: candidates.count, oldestWaiting: max(0, oldest), diskFull: diskFull != nil)
        do {
            try AtomicFile.write(metrics.text(g), to: path)
            metricsFailing = false
        } catch {
            if !metricsFailing { SpoolLog.line("metrics: \(error); retrying every \(Int(max(settings.rescanSeconds, 1))) s") }
            metricsFailing = true
        }
    }
}
