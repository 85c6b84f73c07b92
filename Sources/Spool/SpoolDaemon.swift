import Foundation
import System
import Verdicts
#if canImport(Glibc)
import Glibc
#endif

/// The spool daemon (docs/FORMAT.md, section 5): picks up complete task folders from incoming/, claims
/// each by renaming it into active/, runs a worker process on it, and moves it to done/ or
/// failed/ by the status of the verdict the worker wrote.
///
/// One thread runs this loop; a second owns inotify (`IncomingWatcher`). Every state change
/// of a task is one rename, so any number of daemons on one spool take each task once, and
/// a task whose daemon or worker died is found in active/ by the next rescan of any daemon
/// and put back in incoming/ (or, after `maxAttempts`, in failed/ with the reason).
public final class SpoolDaemon {
    public let folders: SpoolFolders
    public let settings: DaemonSettings
    let identity = DaemonIdentity.current()
    let notify: SystemdNotify

    /// A name in incoming/ that may become a task.
    struct Candidate {
        var firstSeen: Double
        /// Monotonic time of the last inotify event in or at it (0: none seen).
        var lastEvent: Double
        var renamedIn: Bool
        var ready: Bool
        /// When to look at it again.
        var checkAt: Double
    }

    struct Running {
        /// The local worker process; nil when the task runs as a Slurm job.
        let worker: WorkerProcess?
        let attempt: Int
        let started: Double
        /// The Slurm job running the task (`--executor slurm`).
        var job: SlurmJob? = nil
    }

    /// The file system of the spool is full (or the quota reached): no task is claimed until
    /// a probe write succeeds again.
    struct DiskFull {
        /// Monotonic time the state began, and of the next probe.
        var since: Double
        var nextProbe: Double
        /// The marker `tutor status` reads (`spool/.tutor-disk-full.HOST.PID`), when it could
        /// be created.
        var marker: String?
    }

    var candidates: [String: Candidate] = [:]
    var running: [String: Running] = [:]
    var watcher: IncomingWatcher!
    var stopping = false
    var stopDeadline = Double.infinity
    var statusDirty = true
    var diskFull: DiskFull?
    /// Set by an event that only a rescan can answer (incoming/ itself gone).
    var rescanNow = false
    /// Seconds before the next probe once the disk is full: doubles while it stays full and
    /// each time it fills again soon after, up to five minutes; back to the start once a task
    /// finishes.
    var diskFullBackoff = 0.0
    /// Crashes by task, as this daemon counted them: the count survives a `.tutor-attempts`
    /// that could not be written (a full disk), so that a task cannot crash forever as its
    /// first attempt.
    var crashCounts: [String: Int] = [:]
    /// State folders found missing and not yet recreated (each logged once).
    var missingFolders: Set<String> = []
    /// Tasks that stay in active/ until a state folder exists again (each logged once).
    var stuckTasks: Set<String> = []
    /// How this daemon follows its Slurm jobs (`--executor slurm`).
    var slurm = SlurmFollow()
    var metrics = SpoolMetrics()
    var metricsDue = 0.0
    var metricsFailing = false
    /// Task folders per state folder at the last count (for the metrics).
    var stateCounts: [String: Int] = [:]
    /// Tasks this daemon finished, by where they went.
    public internal(set) var finishedDone = 0
    public internal(set) var finishedFailed = 0
    public internal(set) var requeued = 0

    public init(spool: String, settings: DaemonSettings, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.folders = SpoolFolders(root: spool)
        self.settings = settings
        self.notify = SystemdNotify(environment: environment)
    }

    // MARK: the loop

    /// Serves the spool until SIGTERM or SIGINT (or, with `once`, until incoming/ is drained).
    /// Returns the process exit status: 0.
    public func run() throws -> Int32 {
        do { try folders.create() } catch {
            throw SpoolError.notASpool("cannot create the spool's folders under \(folders.root): \(error)")
        }
        SignalPipe.install()
        watcher = IncomingWatcher(incoming: folders.incoming)
        try watcher.start()
        metrics.started = Clock.wallSeconds()
        diskFullBackoff = firstDiskFullRetry
        removeStaleDiskFullMarkers()
        recoverActive()
        fullScan()
        countStates()
        notify.send("READY=1\nSTATUS=\(statusLine())")
        statusDirty = false
        SpoolLog.line("serving \(folders.root) with \(settings.workers) \(settings.slurm == nil ? "worker(s)" : "Slurm job(s) at most")\(settings.once ? ", until incoming/ is drained" : "")")

        var nextRescan = Clock.monotonicSeconds() + settings.rescanSeconds
        var nextWatchdog = Clock.monotonicSeconds()
        var fds = [pollfd(fd: SignalPipe.readFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: watcher.wakeFD, events: Int16(POLLIN), revents: 0)]
        while true {
            if !stopping && diskFull == nil { startReadyTasks() }
            if statusDirty {
                notify.send("STATUS=\(statusLine())")
                statusDirty = false
                metricsDue = min(metricsDue, Clock.monotonicSeconds() + 1)
            }
            if Clock.monotonicSeconds() >= metricsDue { writeMetrics() }
            if stopping && running.isEmpty { break }
            if settings.once && !stopping && running.isEmpty && candidates.isEmpty {
                SpoolLog.line("incoming/ is drained")
                break
            }

            var now = Clock.monotonicSeconds()
            var wakeAt = min(nextRescan, stopDeadline)
            if notify.watchdogInterval != nil { wakeAt = min(wakeAt, nextWatchdog) }
            if !stopping && running.count < settings.workers && diskFull == nil {
                for c in candidates.values { wakeAt = min(wakeAt, c.checkAt) }
            }
            if let d = diskFull { wakeAt = min(wakeAt, d.nextProbe) }
            if settings.metricsPath != nil { wakeAt = min(wakeAt, metricsDue) }
            if settings.taskSeconds > 0 && settings.slurm == nil {
                for r in running.values { wakeAt = min(wakeAt, r.started + settings.taskSeconds) }
            }
            if settings.slurm != nil && !running.isEmpty { wakeAt = min(wakeAt, slurm.nextPoll) }
            let timeoutMS = Int32(max(0, min(60_000, ((wakeAt - now) * 1000).rounded(.up))))
            fds[0].revents = 0; fds[1].revents = 0
            _ = poll(&fds, 2, timeoutMS)

            for sig in SignalPipe.take() {
                switch sig {
                case SIGTERM, SIGINT: beginStop(signal: sig)
                case SIGHUP: nextRescan = 0
                default: break
                }
            }
            reapWorkers()
            stopOverdueWorkers()
            for e in watcher.take() { apply(e) }
            if rescanNow { nextRescan = 0; rescanNow = false }

            now = Clock.monotonicSeconds()
            if let d = diskFull, now >= d.nextProbe { probeDiskSpace() }
            if now >= nextRescan {
                ensureStateFolders()
                heartbeat()
                recoverActive()
                fullScan()
                countStates()
                watcher.requestResync()
                nextRescan = now + settings.rescanSeconds
            }
            if stopping && now >= stopDeadline { killRemaining() }
            if let interval = notify.watchdogInterval, now >= nextWatchdog {
                notify.send("WATCHDOG=1")
                nextWatchdog = now + interval
            }
        }
        if !stopping { notify.send("STOPPING=1") }
        watcher.stop()
        if let m = diskFull?.marker { try? Files.removeFile(m) }
        countStates()
        writeMetrics()
        SpoolLog.line("stopped: \(finishedDone) task(s) to done/, \(finishedFailed) to failed/, \(requeued) put back")
        return 0
    }

    func statusLine() -> String {
        let waiting = candidates.count
        let line = "\(running.count)/\(settings.workers) running, \(waiting) waiting in incoming/; since start \(finishedDone) done, \(finishedFailed) failed"
        guard let d = diskFull else { return line }
        return "disk full for \(Int(Clock.monotonicSeconds() - d.since)) s, holding tasks; " + line
    }

    func beginStop(signal sig: Int32) {
        if stopping {
            SpoolLog.line("\(Sys.signalName(sig)) again: stopping running tasks now")
            stopDeadline = 0
            return
        }
        stopping = true
        stopDeadline = Clock.monotonicSeconds() + settings.graceSeconds
        notify.send("STOPPING=1")
        if running.isEmpty {
            SpoolLog.line("\(Sys.signalName(sig)): stopping")
        } else {
            SpoolLog.line("\(Sys.signalName(sig)): taking no more tasks; \(running.count) running task(s) have \(Int(settings.graceSeconds)) s to finish")
        }
        if settings.slurm != nil { stopJobs() }
    }
}
