import Foundation
import System
#if canImport(Glibc)
import Glibc
#endif

/// A task's Slurm job, as the daemon follows it.
struct SlurmJob: Equatable {
    let id: String
    /// What squeue said at the last look ("" before the first).
    var last = ""
    /// Looks in a row at which neither squeue nor sacct knew the job.
    var unknownLooks = 0
}

/// The daemon's state for `--executor slurm`.
struct SlurmFollow {
    /// Monotonic time of the next look at the jobs.
    var nextPoll = 0.0
    /// No task is claimed before this (the controller did not take the last submission).
    var submitsPausedUntil = 0.0
    /// The last failure of squeue, logged once until it answers again.
    var lastProblem: String?
    /// Tasks in active/ run by Slurm that this daemon, a local one, leaves alone (logged once).
    var leftAlone: Set<String> = []
}

/// The Slurm executor: each claimed task is one `sbatch` job, followed with `squeue` (and
/// `sacct` for jobs squeue has forgotten). The verdict decides where a task goes, as with a
/// local worker; a job that ends without one counts a crash, named by Slurm's state and reason.
extension SpoolDaemon {
    /// Submits the claimed task at `path`. The owner record says `submitting` before sbatch
    /// runs and holds the job id after, so a daemon that dies in between leaves a job that its
    /// successor finds (by the job's comment) instead of submitting a second one.
    func submitJob(path: String, name: String, attempt: Int, owner: OwnerRecord, settings s: SlurmSettings) {
        var owner = owner
        owner.slurmJob = OwnerRecord.submitting
        owner.slurmState = ""
        try? owner.write(task: path)
        var env = settings.worker.environment
        env["TUTOR_SPOOL_TASK"] = name
        env["TUTOR_SPOOL_ATTEMPT"] = String(attempt)
        let argv = settings.worker.runner + [path] + settings.worker.runnerOptions
        let options = SlurmJobScript.options(task: name, folder: path, spoolRoot: folders.root, settings: s,
                                             request: SlurmRequest.read(task: path), taskSeconds: settings.taskSeconds)
            + ["--comment=\(owner.slurmComment)"]
        let r = SlurmCommand.run([s.program("sbatch")] + options,
                                 input: SlurmJobScript.script(worker: argv, log: path + "/" + SpoolFolders.workerLog),
                                 environment: env, timeout: 20)
        // Claims submit one after another within one turn of the loop: the loop is busy, not hung.
        if notify.watchdogInterval != nil { _ = notify.send("WATCHDOG=1") }
        // --parsable prints `ID` or `ID;CLUSTER`.
        let id = r.output.split(whereSeparator: \.isNewline).first.map { String($0.split(separator: ";")[0]) } ?? ""
        guard r.ok, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            if Self.controllerUnreachable(r) {
                // Not the task's fault: back to incoming/ uncounted, and no claims for a while.
                slurm.submitsPausedUntil = Clock.monotonicSeconds() + max(s.pollSeconds, 5)
                appendLine("--- tutor daemon: sbatch failed (\(r.problem)); back to incoming/ ---", to: path + "/" + SpoolFolders.workerLog)
                putBack(path: path, name: name, logLine: "sbatch could not reach Slurm (\(r.problem)); back to incoming/%@, claims paused")
                return
            }
            finishWithError(path: path, name: name, code: .jobRejected,
                            message: "Slurm refused the task's batch job (sbatch \(options.filter { !$0.hasPrefix("--comment") }.joined(separator: " "))): \(r.problem). Fix the resources asked for (the `slurm` object of job.json, or the daemon's TUTOR_SLURM_* settings) and submit it again.")
            return
        }
        owner.slurmJob = id
        owner.slurmState = "PENDING"
        try? owner.write(task: path)
        running[name] = Running(worker: nil, attempt: attempt, started: Clock.monotonicSeconds(), job: SlurmJob(id: id))
        metrics.attempts += 1
        slurm.nextPoll = min(slurm.nextPoll, Clock.monotonicSeconds() + s.pollSeconds)
        SpoolLog.line("\(name): claimed, attempt \(attempt), Slurm job \(id)")
    }

    /// Whether sbatch failed for want of the controller (a timeout, a connection refused)
    /// rather than because it refused the job.
    static func controllerUnreachable(_ r: SlurmCommand.Result) -> Bool {
        if r.status == 124 { return true }
        let t = r.errors.lowercased()
        return t.contains("unable to contact slurm controller") || t.contains("socket timed out")
            || t.contains("connection refused") || t.contains("slurm_persist_conn") || t.contains("temporarily unavailable")
    }

    /// Looks at the daemon's jobs (every `pollSeconds`); a job that ended settles its task.
    func followJobs() {
        guard let s = settings.slurm else { return }
        let now = Clock.monotonicSeconds()
        guard now >= slurm.nextPoll else { return }
        slurm.nextPoll = now + s.pollSeconds
        let mine = running.compactMap { n, r in r.job.map { (n, $0) } }
        guard !mine.isEmpty else { return }
        let q = SlurmCommand.run([s.program("squeue"), "-h", "-t", "all", "-u", String(getuid()), "-o", "%i|%T|%r"], timeout: 30)
        guard q.ok else {
            let p = "squeue failed: \(q.problem)"
            if slurm.lastProblem != p { SpoolLog.line("\(p); the jobs are looked at again in \(Int(s.pollSeconds)) s") }
            slurm.lastProblem = p
            return
        }
        if slurm.lastProblem != nil { SpoolLog.line("squeue answers again") }
        slurm.lastProblem = nil
        var states = SlurmJobState.parseSqueue(q.output)
        let forgotten = mine.map(\.1.id).filter { states[$0] == nil }
        if !forgotten.isEmpty {
            // Jobs that ended longer ago than the controller keeps them (MinJobAge).
            let a = SlurmCommand.run([s.program("sacct"), "-n", "-P", "-X", "-j", forgotten.joined(separator: ","),
                                      "-o", "JobID,State,ExitCode"], timeout: 30)
            if a.ok { for (k, v) in SlurmJobState.parseSacct(a.output) where states[k] == nil { states[k] = v } }
        }
        for (name, job) in mine {
            guard var r = running[name] else { continue }
            if let st = states[job.id] {
                if st.hasEnded { jobEnded(name: name, run: r, state: st); continue }
                if st.text != job.last {
                    r.job?.last = st.text
                    r.job?.unknownLooks = 0
                    running[name] = r
                    recordJobState(name: name, text: st.text)
                }
            } else {
                // Gone from squeue and unknown to sacct (no accounting): it ended, but twice
                // in a row before saying so, in case a listing was cut short.
                r.job?.unknownLooks += 1
                running[name] = r
                if (r.job?.unknownLooks ?? 0) >= 2 {
                    jobEnded(name: name, run: r, state: SlurmJobState(state: "UNKNOWN", reason: "Slurm no longer knows job \(job.id)"))
                }
            }
        }
    }

    /// Writes what Slurm says of the job into the owner record, for `tutor status`.
    func recordJobState(name: String, text: String) {
        let path = folders.active + "/" + name
        guard var o = OwnerRecord.read(task: path), o.pid == identity.pid, o.host == identity.host else { return }
        o.slurmState = text
        try? o.write(task: path)
    }

    /// A job that will not run again: its verdict decides, or, without one, a crash is counted
    /// with Slurm's state and reason (a cancellation by the daemon's own stop is not a crash).
    func jobEnded(name: String, run r: Running, state st: SlurmJobState) {
        running.removeValue(forKey: name)
        statusDirty = true
        if vanished(name) { return }
        let id = r.job?.id ?? "?"
        let seconds = Clock.monotonicSeconds() - r.started
        let path = folders.active + "/" + name
        let byStop = stopping && settings.slurm?.cancelOnStop == true
        // The job is over: the markers of its takeovers have nothing left to guard.
        for n in Files.names(in: path) ?? [] where n.hasPrefix(".tutor-adopted.") { unlink(path + "/" + n) }
        var exit: WorkerProcess.Exit?
        if VerdictStatus.read(task: path) == .absent {
            appendLine("--- tutor daemon: Slurm job \(id) ended \(st.text) without writing verdict.json ---", to: path + "/" + SpoolFolders.workerLog)
            // A worker that exits 75 found no room for its verdict: the task is held, not crashed.
            if !byStop, let code = st.exitCode ?? jobExitCode(r.job) { exit = .exited(code) }
        }
        settle(path: path, name: name,
               crash: byStop ? "Slurm job \(id) was cancelled with the daemon's stop"
                   : "Slurm job \(id) ended \(st.text) after \(Self.seconds(seconds)) without writing verdict.json",
               seconds: seconds, countCrash: !byStop, exit: exit, crashCode: .jobFailed)
    }

    /// An ended job's exit status from the controller (nil when it no longer knows the job).
    func jobExitCode(_ job: SlurmJob?) -> Int32? {
        guard let s = settings.slurm, let job else { return nil }
        let r = SlurmCommand.run([s.program("scontrol"), "show", "job", "-o", job.id], timeout: 30)
        return r.ok ? SlurmJobState.parseScontrolExitCode(r.output) : nil
    }

    /// Cancels a job whose task the daemon takes out of its hands.
    func cancelJob(_ job: SlurmJob, name: String, why: String) {
        guard let s = settings.slurm else { return }
        let r = SlurmCommand.run([s.program("scancel"), job.id], timeout: 30)
        SpoolLog.line("\(name): cancelled Slurm job \(job.id) (\(why))\(r.ok ? "" : ": scancel failed, \(r.problem)")")
    }

    /// On SIGTERM: with `cancelOnStop`, cancels every job (their tasks go back to incoming/ as
    /// they end); otherwise leaves them running for the next daemon.
    func stopJobs() {
        guard let s = settings.slurm else { return }
        if !s.cancelOnStop {
            detachJobs(why: "the daemon stops and TUTOR_SLURM_CANCEL_ON_STOP is off")
            return
        }
        let ids = running.values.compactMap(\.job?.id)
        guard !ids.isEmpty else { return }
        let r = SlurmCommand.run([s.program("scancel")] + ids, timeout: 30)
        SpoolLog.line("cancelling \(ids.count) Slurm job(s) with the daemon's stop\(r.ok ? "" : ": scancel failed, \(r.problem)")")
        slurm.nextPoll = 0
    }

    /// Stops following the jobs: they run on, their tasks stay in active/ with their owner
    /// records, and the next daemon with `--executor slurm` takes them over.
    func detachJobs(why: String) {
        guard !running.isEmpty else { return }
        SpoolLog.line("leaving \(running.count) Slurm job(s) running (\(why)); a restarted daemon takes them over: \(running.values.compactMap(\.job?.id).sorted().joined(separator: " "))")
        running.removeAll()
        statusDirty = true
    }

    /// Takes over the job of a task whose daemon is gone (restarted, or killed): the job is
    /// followed, not submitted again. One daemon wins: the marker named after the old claim is
    /// created exclusively; the task folder never moves, so the running job keeps writing to it.
    func adoptJob(path: String, name: String, owner o: OwnerRecord, reason: String) {
        guard let s = settings.slurm else { return }
        let marker = path + "/.tutor-adopted.\(o.host).\(o.pid).\(o.startTicks)"
        let fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            if errno != EEXIST { SpoolLog.line("\(name): cannot take over its Slurm job (\(marker): \(SystemError.text(errno)))") }
            return
        }
        close(fd)
        guard OwnerRecord.read(task: path) == o else { return }  // claimed afresh meanwhile
        var id = o.slurmJob
        var known = ""
        if id == OwnerRecord.submitting {
            // The daemon died while sbatch ran: the job, if sbatch made one, carries the claim's comment.
            let q = SlurmCommand.run([s.program("squeue"), "-h", "-t", "all", "-u", String(getuid()), "-n", "tutor:\(name)", "-o", "%i|%T|%k"], timeout: 30)
            guard q.ok else {
                SpoolLog.line("\(name): cannot ask Slurm for the job its dead daemon was submitting (\(q.problem)); asked again at the next rescan")
                unlink(marker)
                return
            }
            let hit = q.output.split(whereSeparator: \.isNewline).compactMap { line -> (String, String)? in
                let f = line.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
                return f.count == 3 && String(f[2]) == o.slurmComment ? (String(f[0]), String(f[1])) : nil
            }.first
            guard let (found, state) = hit else {
                // sbatch never made it: the task never ran, and goes back as a crash of its daemon.
                unlink(marker)
                recover(path: path, name: name, owner: o, reason: reason)
                return
            }
            id = found
            known = state
        }
        var mine = OwnerRecord.mine(attempt: o.attempt, identity: identity)
        mine.claimedAt = o.claimedAt
        mine.slurmJob = id
        mine.slurmState = known.isEmpty ? o.slurmState : known
        do { try mine.write(task: path) } catch {
            SpoolLog.line("\(name): cannot write its owner record to take over Slurm job \(id): \(error)")
            unlink(marker)
            return
        }
        let ran = max(0, Clock.wallSeconds() - o.claimedAt)
        running[name] = Running(worker: nil, attempt: o.attempt, started: Clock.monotonicSeconds() - ran, job: SlurmJob(id: id))
        slurm.nextPoll = 0
        statusDirty = true
        SpoolLog.line("\(name): found in active/ but \(reason); following its Slurm job \(id) again (attempt \(o.attempt))")
    }

    /// A daemon without `--executor slurm` leaves a task run by Slurm alone: putting it back
    /// would run it twice.
    func slurmTaskSeen(_ name: String) {
        guard slurm.leftAlone.insert(name).inserted else { return }
        SpoolLog.line("\(name): its daemon is gone but it runs as a Slurm job; only a daemon with --executor slurm takes it over")
    }
}
