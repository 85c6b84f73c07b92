import Foundation
import System
import Verdicts
#if canImport(Glibc)
import Glibc
#endif

/// Claims and workers: a task claimed by one rename into active/, its worker started, reaped,
/// stopped when overdue or when the daemon stops, and its claim renewed.
extension SpoolDaemon {
    func claim(_ name: String) {
        let src = folders.incoming + "/" + name
        let path = folders.active + "/" + name
        let e = Files.renameNoReplace(src, path)
        if e == ENOENT {  // another daemon took it
            candidates.removeValue(forKey: name); statusDirty = true; return
        }
        if e == EEXIST || e == ENOTEMPTY {
            // A task of the same name is running: wait for it to leave active/.
            candidates[name]?.ready = false
            candidates[name]?.checkAt = Clock.monotonicSeconds() + max(settings.settleSeconds, 1)
            return
        }
        if e != 0 {
            SpoolLog.line("\(name): cannot claim (rename into active/): \(SystemError.text(e))")
            candidates[name]?.ready = false
            candidates[name]?.checkAt = Clock.monotonicSeconds() + settings.rescanSeconds
            return
        }
        if let c = candidates.removeValue(forKey: name) { metrics.queueWait.observe(max(0, Clock.monotonicSeconds() - c.firstSeen)) }
        statusDirty = true
        // Every start is a new attempt in worker.log, a restart after a stop included; only
        // crashes count against maxAttempts.
        let crashes = max(SpoolFolders.crashedAttempts(path), crashCounts[name] ?? 0)
        let attempt = max(SpoolFolders.runs(path), crashes) + 1
        var owner = OwnerRecord.mine(attempt: attempt, identity: identity)
        do { try owner.write(task: path) } catch {
            if let e = error as? SystemError, e.isDiskFull {
                hold(path: path, name: name, why: "its claim record cannot be written: the disk is full")
                return
            }
            SpoolLog.line("\(name): cannot write into the task folder (\(error)); moving it to failed/")
            moveOut(path: path, name: name, to: folders.failed, how: "unwritable", code: "unwritable")
            return
        }
        try? SpoolFolders.setRuns(path, attempt)
        if Files.exists(folders.done + "/" + name) {
            finishWithError(path: path, name: name, code: .nameTaken,
                            message: "a task named \(name) is already in done/: rename this folder (for example \(name)-2) and submit it again")
            return
        }
        // A verdict.json from an earlier run would read as this run's result.
        if Files.exists(path + "/" + SpoolFolders.verdictFile) {
            checked(name, "keep the earlier verdict") {
                try Files.rename(path + "/" + SpoolFolders.verdictFile, path + "/verdict.previous.json")
            }
        }
        let log = path + "/" + SpoolFolders.workerLog
        let used = crashes > 0 ? " (\(crashes) of \(settings.maxAttempts) crashes used)" : ""
        appendLine("--- tutor daemon: attempt \(attempt) on \(identity.host), \(Self.isoTime())\(used) ---", to: log)
        if let s = settings.slurm {
            submitJob(path: path, name: name, attempt: attempt, owner: owner, settings: s)
            return
        }
        var env = settings.worker.environment
        env["TUTOR_SPOOL_TASK"] = name
        env["TUTOR_SPOOL_ATTEMPT"] = String(attempt)
        let argv = settings.worker.arguments(folder: path)
        do {
            let w = try WorkerProcess.spawn(argv, environment: env, log: log)
            running[name] = Running(worker: w, attempt: attempt, started: Clock.monotonicSeconds())
            metrics.attempts += 1
            owner.workerPID = w.pid
            try? owner.write(task: path)
            SpoolLog.line("\(name): claimed, attempt \(attempt), worker pid \(w.pid)")
        } catch {
            SpoolLog.line("\(name): \(error)")
            finishWithError(path: path, name: name, code: .workerNotStarted, message: "the daemon could not start its worker: \(error)")
        }
    }

    func reapWorkers() {
        if settings.slurm != nil { followJobs(); return }
        for (name, r) in running {
            guard let exit = r.worker?.poll() else { continue }
            running.removeValue(forKey: name)
            statusDirty = true
            let seconds = Clock.monotonicSeconds() - r.started
            if vanished(name) { continue }
            settle(path: folders.active + "/" + name, name: name,
                   crash: "the worker \(exit.description) after \(String(format: "%.1f", seconds)) s without writing verdict.json",
                   seconds: seconds, countCrash: true, exit: exit)
        }
    }

    /// Stops the workers that ran past `taskSeconds`. A task whose worker wrote its verdict
    /// just in time is settled by it; the others go to failed/ with a `timed-out` verdict.
    func stopOverdueWorkers() {
        // Slurm enforces a job's time limit itself (sbatch --time).
        guard settings.taskSeconds > 0, settings.slurm == nil else { return }
        let now = Clock.monotonicSeconds()
        for (name, r) in running where now - r.started >= settings.taskSeconds {
            r.worker?.killAndReap()
            running.removeValue(forKey: name)
            statusDirty = true
            if vanished(name) { continue }
            let path = folders.active + "/" + name
            if VerdictStatus.read(task: path) == .absent {
                finishWithError(path: path, name: name, code: .timedOut,
                                message: "stopped after \(String(format: "%.0f", now - r.started)) s: the daemon's limit per task is \(String(format: "%.0f", settings.taskSeconds)) s (TUTOR_TASK_SECONDS). worker.log in this folder holds what it printed.")
            } else {
                settle(path: path, name: name, crash: "", seconds: now - r.started, countCrash: false)
            }
        }
    }

    /// Kills the workers still running after the grace period and puts their tasks back in
    /// incoming/ (not counted as crashes: the task did nothing wrong).
    func killRemaining() {
        if settings.slurm != nil { detachJobs(why: "their cancellation had not ended them within the grace period"); return }
        for (name, r) in running {
            r.worker?.killAndReap()
            running.removeValue(forKey: name)
            if vanished(name) { continue }
            let path = folders.active + "/" + name
            let ran = Self.seconds(Clock.monotonicSeconds() - r.started)
            if VerdictStatus.read(task: path) == .absent {
                appendLine("--- tutor daemon: attempt \(r.attempt) stopped with the daemon after \(ran), before it finished; back to incoming/, to run again as a new attempt (not counted as a crash) ---",
                           to: path + "/" + SpoolFolders.workerLog)
            }
            settle(path: path, name: name, crash: "stopped with the daemon before it finished", seconds: nil, countCrash: false)
        }
    }

    /// Renews this daemon's claims so that daemons on other hosts see them alive.
    /// A task whose folder someone removed from active/ is stopped and forgotten.
    func heartbeat() {
        for (name, r) in running {
            let path = folders.active + "/" + name
            if Files.exists(path) {
                Sys.touch(path + "/" + SpoolFolders.ownerFile)
            } else {
                r.worker?.killAndReap()
                if let job = r.job { cancelJob(job, name: name, why: "its task folder was removed from active/") }
                running.removeValue(forKey: name)
                _ = vanished(name)
            }
        }
    }

    /// Whether the task's folder is gone from active/ (removed by its user while it ran): then
    /// that is logged, once, and there is nothing more to do for it.
    func vanished(_ name: String) -> Bool {
        if Files.exists(folders.active + "/" + name) { return false }
        metrics.vanished += 1
        crashCounts.removeValue(forKey: name)
        statusDirty = true
        SpoolLog.line("\(name): the task folder was removed from active/ while it ran; its worker is stopped and nothing of it is kept")
        return true
    }


    func appendLine(_ line: String, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let s = line + "\n"
        s.withCString { _ = write(fd, $0, strlen($0)) }
        close(fd)
    }

    static func isoTime() -> String {
        var t = time(nil)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 32)
        strftime(&buf, buf.count, "%Y-%m-%dT%H:%M:%SZ", &tmv)
        return Sys.string(buf)
    }
}
