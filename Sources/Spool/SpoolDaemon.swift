import CInotify
import Foundation
import Verdicts
#if canImport(Glibc)
import Glibc
#endif

/// How a daemon serves its spool. The defaults suit a spool on local disk; the README and
/// systemd/tutor.env document each for operators.
public struct DaemonSettings: Sendable {
    /// Tasks run at the same time.
    public var workers = 1
    /// Drain what is in incoming/ and exit (`tutor daemon --once`).
    public var once = false
    /// A folder that was not renamed in whole and has no READY file is taken once nothing in
    /// it changed for this long.
    public var settleSeconds = 3.0
    /// incoming/ and active/ are listed this often whatever inotify says: network file systems
    /// send no events for other hosts' writes. Also the heartbeat of this daemon's claims.
    public var rescanSeconds = 30.0
    /// After SIGTERM, running tasks get this long to finish before they are killed and put
    /// back in incoming/.
    public var graceSeconds = 30.0
    /// A task claimed by a daemon on another host is taken back only when that daemon has not
    /// renewed its claim (touched `.tutor-owner`) for this long. Keep it well above
    /// `rescanSeconds` of every daemon on the spool.
    public var leaseSeconds = 600.0
    /// A task whose worker died without a verdict this many times goes to failed/.
    public var maxAttempts = 3
    /// A quiet folder that still lacks a required input is taken after this long anyway, so
    /// that its owner gets an error verdict saying what is missing.
    public var incompleteSeconds = 600.0
    /// A folder in active/ without an owner record (its claimer died between the rename and
    /// the record) is taken back after this long.
    public var unownedSeconds = 60.0
    /// A task still running after this long is stopped and goes to failed/ with an error
    /// verdict saying so; it is not retried (a task that hung once would hang again). 0: no limit.
    public var taskSeconds = 3600.0
    /// What runs each task.
    public var worker: WorkerCommand

    public init(worker: WorkerCommand) { self.worker = worker }
}

/// The spool daemon (SPEC section 5): picks up complete task folders from incoming/, claims
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
        let worker: WorkerProcess
        let attempt: Int
        let started: Double
    }

    var candidates: [String: Candidate] = [:]
    var running: [String: Running] = [:]
    var watcher: IncomingWatcher!
    var stopping = false
    var stopDeadline = Double.infinity
    var statusDirty = true
    /// Tasks this daemon finished, by where they went.
    public private(set) var finishedDone = 0
    public private(set) var finishedFailed = 0
    public private(set) var requeued = 0

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
        recoverActive()
        fullScan()
        notify.send("READY=1\nSTATUS=\(statusLine())")
        statusDirty = false
        SpoolLog.line("serving \(folders.root) with \(settings.workers) worker(s)\(settings.once ? ", until incoming/ is drained" : "")")

        var nextRescan = Sys.monotonic() + settings.rescanSeconds
        var nextWatchdog = Sys.monotonic()
        var fds = [pollfd(fd: SignalPipe.readFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: watcher.wakeFD, events: Int16(POLLIN), revents: 0)]
        while true {
            if !stopping { startReadyTasks() }
            if statusDirty { notify.send("STATUS=\(statusLine())"); statusDirty = false }
            if stopping && running.isEmpty { break }
            if settings.once && !stopping && running.isEmpty && candidates.isEmpty {
                SpoolLog.line("incoming/ is drained")
                break
            }

            var now = Sys.monotonic()
            var wakeAt = min(nextRescan, stopDeadline)
            if notify.watchdogInterval != nil { wakeAt = min(wakeAt, nextWatchdog) }
            if !stopping && running.count < settings.workers {
                for c in candidates.values { wakeAt = min(wakeAt, c.checkAt) }
            }
            if settings.taskSeconds > 0 {
                for r in running.values { wakeAt = min(wakeAt, r.started + settings.taskSeconds) }
            }
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

            now = Sys.monotonic()
            if now >= nextRescan {
                heartbeat()
                recoverActive()
                fullScan()
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
        SpoolLog.line("stopped: \(finishedDone) task(s) to done/, \(finishedFailed) to failed/, \(requeued) put back")
        return 0
    }

    func statusLine() -> String {
        let waiting = candidates.count
        return "\(running.count)/\(settings.workers) running, \(waiting) waiting in incoming/; since start \(finishedDone) done, \(finishedFailed) failed"
    }

    func beginStop(signal sig: Int32) {
        if stopping {
            SpoolLog.line("\(Sys.signalName(sig)) again: stopping running tasks now")
            stopDeadline = 0
            return
        }
        stopping = true
        stopDeadline = Sys.monotonic() + settings.graceSeconds
        notify.send("STOPPING=1")
        if running.isEmpty {
            SpoolLog.line("\(Sys.signalName(sig)): stopping")
        } else {
            SpoolLog.line("\(Sys.signalName(sig)): taking no more tasks; \(running.count) running task(s) have \(Int(settings.graceSeconds)) s to finish")
        }
    }

    // MARK: incoming/

    func apply(_ event: IncomingEvent) {
        let now = Sys.monotonic()
        switch event {
        case .renamedIn(let name):
            candidates[name] = Candidate(firstSeen: candidates[name]?.firstSeen ?? now, lastEvent: now,
                                         renamedIn: true, ready: false, checkAt: now)
        case .changed(let name):
            if var c = candidates[name] {
                // Looked at again soon (a READY file may have come), but at most about ten
                // times a second while a writer is busy in it.
                c.lastEvent = now
                if !c.ready { c.checkAt = min(c.checkAt, now + 0.1) }
                candidates[name] = c
            } else {
                candidates[name] = Candidate(firstSeen: now, lastEvent: now, renamedIn: false, ready: false, checkAt: now)
            }
        case .removed(let name):
            candidates.removeValue(forKey: name)
            statusDirty = true
        case .overflow:
            SpoolLog.line("inotify queue overflowed: rescanning incoming/")
            fullScan()
        }
    }

    /// Lists incoming/: new names become candidates, vanished ones are dropped.
    func fullScan() {
        let now = Sys.monotonic()
        let names = Set(folders.taskNames(in: folders.incoming))
        for n in names where candidates[n] == nil {
            candidates[n] = Candidate(firstSeen: now, lastEvent: 0, renamedIn: false, ready: false, checkAt: now)
        }
        for n in candidates.keys where !names.contains(n) { candidates.removeValue(forKey: n) }
        statusDirty = true
    }

    enum Readiness { case ready, later(Double), gone, notAFolder(Sys.Entry.Kind) }

    /// Whether the candidate `name` is a complete task folder now (SPEC section 5).
    func evaluate(_ name: String, _ c: Candidate) -> Readiness {
        let path = folders.incoming + "/" + name
        guard let e = Sys.entry(path) else { return .gone }
        if e.kind == .folder && c.renamedIn { return .ready }
        let now = Sys.monotonic()
        let wall = Sys.wallClock()
        // Quiet for how long: by inotify events seen here and by the times on disk (which
        // also cover writes from other hosts). A time in the future (clock skew) is ignored.
        var newest = e.mtime
        var entries: [String] = []
        if e.kind == .folder { entries = Sys.names(in: path, limit: 2_000) ?? [] }
        for n in entries.prefix(1_000) { if let f = Sys.entry(path + "/" + n) { newest = max(newest, f.mtime) } }
        var sinceWrite = wall - newest
        if sinceWrite < -1 { sinceWrite = .infinity }
        let sinceEvent = c.lastEvent == 0 ? Double.infinity : now - c.lastEvent
        let quiet = max(0, min(sinceWrite, sinceEvent))

        if e.kind != .folder {
            return quiet >= settings.settleSeconds ? .notAFolder(e.kind) : .later(now + settings.settleSeconds - quiet + 0.01)
        }
        if entries.contains(SpoolFolders.readyFile) { return .ready }
        if quiet < settings.settleSeconds { return .later(now + settings.settleSeconds - quiet + 0.01) }
        let complete = SpoolFolders.requiredInputs.allSatisfy(entries.contains)
        if complete || settings.once { return .ready }
        if quiet >= settings.incompleteSeconds { return .ready }
        return .later(now + settings.incompleteSeconds - quiet + 0.01)
    }

    /// Claims ready tasks while workers are free, oldest first.
    func startReadyTasks() {
        guard running.count < settings.workers else { return }
        let now = Sys.monotonic()
        let due = candidates.filter { $0.value.ready || $0.value.checkAt <= now }
            .sorted { ($0.value.firstSeen, $0.key) < ($1.value.firstSeen, $1.key) }
        for (name, var c) in due {
            if running.count >= settings.workers { break }
            if !c.ready {
                switch evaluate(name, c) {
                case .gone:
                    candidates.removeValue(forKey: name); statusDirty = true; continue
                case .later(let t):
                    c.checkAt = t; candidates[name] = c; continue
                case .notAFolder(let kind):
                    candidates.removeValue(forKey: name); statusDirty = true
                    quarantine(name, kind: kind); continue
                case .ready:
                    c.ready = true; candidates[name] = c
                }
            }
            claim(name)
        }
    }

    /// Moves something that is not a task folder (a file, a link) out of incoming/ into a
    /// folder of its own in failed/, with a verdict that says why. It is never followed.
    func quarantine(_ name: String, kind: Sys.Entry.Kind) {
        let src = folders.incoming + "/" + name
        var holder = name
        var k = 2
        while mkdir(folders.failed + "/" + holder, 0o755) != 0 {
            if errno != EEXIST || k > 10_000 { SpoolLog.line("\(name): cannot make a folder in failed/: \(Sys.errorText())"); return }
            holder = "\(name)~\(k)"; k += 1
        }
        let dst = folders.failed + "/" + holder
        if rename(src, dst + "/" + name) != 0 {
            rmdir(dst)  // another daemon moved it first
            return
        }
        let what = kind == .symlink ? "a symbolic link (links are never followed): put the folder itself in incoming/"
            : "a \(kind.rawValue), not a folder: a task is a folder holding prompt.txt, rules.json and first_frame.jpg"
        try? VerdictStatus.writeError(task: dst, name: name, code: .notAFolder,
                                      message: "incoming/\(name) is \(what). It was moved here unchanged.")
        finishedFailed += 1; statusDirty = true
        SpoolLog.line("\(name): not a folder (\(kind.rawValue)) -> failed/\(holder)/")
    }

    // MARK: claims and workers

    func claim(_ name: String) {
        let src = folders.incoming + "/" + name
        let path = folders.active + "/" + name
        let e = Sys.renameNoReplace(src, path)
        if e == ENOENT {  // another daemon took it
            candidates.removeValue(forKey: name); statusDirty = true; return
        }
        if e == EEXIST || e == ENOTEMPTY {
            // A task of the same name is running: wait for it to leave active/.
            candidates[name]?.ready = false
            candidates[name]?.checkAt = Sys.monotonic() + max(settings.settleSeconds, 1)
            return
        }
        if e != 0 {
            SpoolLog.line("\(name): cannot claim (rename into active/): \(Sys.errorText(e))")
            candidates[name]?.ready = false
            candidates[name]?.checkAt = Sys.monotonic() + settings.rescanSeconds
            return
        }
        candidates.removeValue(forKey: name)
        statusDirty = true
        let attempt = SpoolFolders.crashedAttempts(path) + 1
        var owner = OwnerRecord.mine(attempt: attempt, identity: identity)
        do { try owner.write(task: path) } catch {
            SpoolLog.line("\(name): cannot write into the task folder (\(error)); moving it to failed/")
            moveOut(path: path, name: name, to: folders.failed, how: "unwritable")
            return
        }
        if Sys.exists(folders.done + "/" + name) {
            finishWithError(path: path, name: name, code: .nameTaken,
                            message: "a task named \(name) is already in done/: rename this folder (for example \(name)-2) and submit it again")
            return
        }
        // A verdict.json from an earlier run would read as this run's result.
        if Sys.exists(path + "/" + SpoolFolders.verdictFile) {
            rename(path + "/" + SpoolFolders.verdictFile, path + "/verdict.previous.json")
        }
        let log = path + "/" + SpoolFolders.workerLog
        appendLine("--- tutor daemon: attempt \(attempt) on \(identity.host), \(Self.isoTime()) ---", to: log)
        var env = settings.worker.environment
        env["TUTOR_SPOOL_TASK"] = name
        env["TUTOR_SPOOL_ATTEMPT"] = String(attempt)
        let argv = settings.worker.arguments(folder: path)
        do {
            let w = try WorkerProcess.spawn(argv, environment: env, log: log)
            running[name] = Running(worker: w, attempt: attempt, started: Sys.monotonic())
            owner.workerPID = w.pid
            try? owner.write(task: path)
            SpoolLog.line("\(name): claimed, attempt \(attempt), worker pid \(w.pid)")
        } catch {
            SpoolLog.line("\(name): \(error)")
            finishWithError(path: path, name: name, code: .workerNotStarted, message: "the daemon could not start its worker: \(error)")
        }
    }

    func reapWorkers() {
        for (name, r) in running {
            guard let exit = r.worker.poll() else { continue }
            running.removeValue(forKey: name)
            statusDirty = true
            let seconds = Sys.monotonic() - r.started
            settle(path: folders.active + "/" + name, name: name,
                   crash: "the worker \(exit.description) after \(String(format: "%.1f", seconds)) s without writing verdict.json",
                   seconds: seconds, countCrash: true)
        }
    }

    /// Stops the workers that ran past `taskSeconds`. A task whose worker wrote its verdict
    /// just in time is settled by it; the others go to failed/ with a `timed-out` verdict.
    func stopOverdueWorkers() {
        guard settings.taskSeconds > 0 else { return }
        let now = Sys.monotonic()
        for (name, r) in running where now - r.started >= settings.taskSeconds {
            r.worker.killAndReap()
            running.removeValue(forKey: name)
            statusDirty = true
            let path = folders.active + "/" + name
            if VerdictStatus.read(task: path) == .absent {
                finishWithError(path: path, name: name, code: .timedOut,
                                message: "stopped after \(String(format: "%.0f", now - r.started)) s: the daemon's limit per task is \(String(format: "%.0f", settings.taskSeconds)) s (TUTOR_TASK_SECONDS). worker.log in this folder holds what it printed.")
            } else {
                settle(path: path, name: name, crash: "", seconds: now - r.started, countCrash: false)
            }
        }
    }

    /// Decides where a task whose worker is gone goes: by its verdict, or, without one, back
    /// to incoming/ (counting a crash when `countCrash`) or to failed/ after `maxAttempts`.
    func settle(path: String, name: String, crash: String, seconds: Double?, countCrash: Bool) {
        let took = seconds.map { String(format: " (%.1f s)", $0) } ?? ""
        switch VerdictStatus.read(task: path) {
        case .passed, .failed:
            moveOut(path: path, name: name, to: folders.done, how: "finished\(took)")
        case .error:
            moveOut(path: path, name: name, to: folders.failed, how: "error verdict\(took)")
        case .unreadable(let why):
            rename(path + "/" + SpoolFolders.verdictFile, path + "/verdict.invalid.json")
            finishWithError(path: path, name: name, code: .badVerdict,
                            message: "the worker left a verdict the spool cannot read (\(why)); it is kept as verdict.invalid.json")
        case .absent:
            var crashes = SpoolFolders.crashedAttempts(path)
            if countCrash {
                crashes += 1
                try? SpoolFolders.setCrashedAttempts(path, crashes)
            }
            if countCrash && crashes >= settings.maxAttempts {
                finishWithError(path: path, name: name, code: .workerCrashed,
                                message: "gave up after \(crashes) attempts: each time the worker died without writing a verdict; the last time \(crash). worker.log in this folder holds what it printed.",
                                attempts: crashes)
                return
            }
            unlink(path + "/" + SpoolFolders.ownerFile)
            do {
                let back = try Sys.moveUnique(path, into: folders.incoming, name: name)
                requeued += 1
                SpoolLog.line("\(name): \(crash); back to incoming/\(back)\(countCrash ? " (\(crashes) of \(settings.maxAttempts) attempts used)" : "")")
            } catch {
                SpoolLog.line("\(name): cannot put back in incoming/: \(error)")
            }
        }
    }

    /// Writes the spool's error verdict into the task and moves it to failed/.
    func finishWithError(path: String, name: String, code: ErrorCode, message: String, attempts: Int? = nil) {
        if VerdictStatus.read(task: path) != .absent {
            rename(path + "/" + SpoolFolders.verdictFile, path + "/verdict.worker.json")
        }
        do { try VerdictStatus.writeError(task: path, name: name, code: code, message: message, attempts: attempts) } catch {
            SpoolLog.line("\(name): cannot write verdict.json: \(error)")
        }
        moveOut(path: path, name: name, to: folders.failed, how: "\(code.rawValue): \(message)")
    }

    /// Moves a task out of active/ into done/ or failed/. A name already in done/ is never
    /// replaced: the task goes to failed/ under a unique name with an error verdict instead.
    func moveOut(path: String, name: String, to dest: String, how: String) {
        unlink(path + "/" + SpoolFolders.ownerFile)
        if dest == folders.done {
            let e = Sys.renameNoReplace(path, dest + "/" + name)
            if e == 0 {
                finishedDone += 1; statusDirty = true
                SpoolLog.line("\(name): \(how) -> done/\(name)")
                return
            }
            if e == EEXIST || e == ENOTEMPTY {
                finishWithError(path: path, name: name, code: .nameTaken,
                                message: "a task named \(name) was already in done/ when this one finished; its own verdict is kept as verdict.worker.json. Rename the folder and submit it again.")
                return
            }
            SpoolLog.line("\(name): cannot move to done/: \(Sys.errorText(e))")
            return
        }
        do {
            let used = try Sys.moveUnique(path, into: dest, name: name)
            finishedFailed += 1; statusDirty = true
            SpoolLog.line("\(name): \(how) -> failed/\(used)")
        } catch {
            SpoolLog.line("\(name): cannot move to failed/: \(error)")
        }
    }

    /// Kills the workers still running after the grace period and puts their tasks back in
    /// incoming/ (not counted as crashes: the task did nothing wrong).
    func killRemaining() {
        for (name, r) in running {
            r.worker.killAndReap()
            running.removeValue(forKey: name)
            settle(path: folders.active + "/" + name, name: name,
                   crash: "stopped with the daemon before it finished", seconds: nil, countCrash: false)
        }
    }

    /// Renews this daemon's claims so that daemons on other hosts see them alive.
    func heartbeat() {
        for name in running.keys { Sys.touch(folders.active + "/" + name + "/" + SpoolFolders.ownerFile) }
    }

    // MARK: recovery

    /// Finds tasks in active/ whose daemon is gone and settles them (a crash counted).
    /// Runs at start-up and at every rescan.
    func recoverActive() {
        let wall = Sys.wallClock()
        let recoverPrefix = ".tutor-recover."
        for name in Sys.names(in: folders.active) ?? [] {
            let path = folders.active + "/" + name
            if name.hasPrefix(recoverPrefix) {
                // Another daemon died while recovering this one: finish its work.
                guard let e = Sys.entry(path), wall - e.ctime > settings.unownedSeconds else { continue }
                let rest = name.dropFirst(recoverPrefix.count)
                guard let dot = rest.firstIndex(of: ".") else { continue }
                let task = String(rest[rest.index(after: dot)...])
                recover(path: path, name: task, owner: OwnerRecord.read(task: path), reason: "a daemon died while putting it back")
                continue
            }
            if name.hasPrefix(".") || running[name] != nil { continue }
            guard let e = Sys.entry(path), e.kind == .folder else { continue }
            let owner = OwnerRecord.read(task: path)
            guard let reason = orphanReason(owner, folder: e, path: path, wall: wall) else { continue }
            recover(path: path, name: name, owner: owner, reason: reason)
        }
    }

    /// Why the task's owner counts as gone, or nil while it may still be working.
    func orphanReason(_ owner: OwnerRecord?, folder: Sys.Entry, path: String, wall: Double) -> String? {
        guard let o = owner else {
            return wall - folder.ctime > settings.unownedSeconds ? "it had no owner record" : nil
        }
        if o.host == identity.host {
            if !o.bootID.isEmpty && o.bootID != identity.bootID { return "its host rebooted" }
            if o.pid == identity.pid && o.startTicks == identity.startTicks { return "this daemon lost track of it" }
            if Sys.processStartTicks(o.pid) == o.startTicks { return nil }
            return "its daemon (pid \(o.pid)) died"
        }
        let renewed = Sys.entry(path + "/" + SpoolFolders.ownerFile)?.mtime ?? 0
        let age = wall - renewed
        if age <= settings.leaseSeconds { return nil }
        return "its daemon on \(o.host) did not renew its claim for \(Int(age)) s (lease \(Int(settings.leaseSeconds)) s)"
    }

    /// Takes an orphaned task: first a rename to a name of this daemon's (only one daemon
    /// can win it), then a check that the owner record is still the one judged gone.
    func recover(path: String, name: String, owner: OwnerRecord?, reason: String) {
        let mine = folders.active + "/.tutor-recover.\(identity.pid).\(name)"
        if path != mine {
            guard Sys.renameNoReplace(path, mine) == 0 else { return }
            if OwnerRecord.read(task: mine) != owner {
                // Claimed afresh between our look and our rename: give it back.
                Sys.renameNoReplace(mine, path)
                return
            }
        }
        SpoolLog.line("\(name): found in active/ but \(reason)")
        settle(path: mine, name: name, crash: "\(reason) while the task ran", seconds: nil, countCrash: true)
    }

    // MARK: helpers

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

/// SIGTERM, SIGINT, SIGHUP and SIGCHLD reach the loop as bytes on a pipe (the self-pipe
/// trick): the handler only writes, which is async-signal-safe.
enum SignalPipe {
    nonisolated(unsafe) static var readFD: Int32 = -1
    nonisolated(unsafe) static var writeFD: Int32 = -1

    static func install() {
        if readFD >= 0 { return }
        var p: [Int32] = [0, 0]
        pipe2(&p, O_CLOEXEC | O_NONBLOCK)
        readFD = p[0]; writeFD = p[1]
        for s in [SIGTERM, SIGINT, SIGHUP, SIGCHLD] {
            signal(s) { sig in
                var b = UInt8(truncatingIfNeeded: sig)
                _ = write(SignalPipe.writeFD, &b, 1)
            }
        }
        signal(SIGPIPE, SIG_IGN)
    }

    static func take() -> [Int32] {
        var buf = [UInt8](repeating: 0, count: 64)
        var out: [Int32] = []
        while true {
            let n = read(readFD, &buf, buf.count)
            if n <= 0 { break }
            out += buf[..<n].map { Int32($0) }
        }
        return out
    }
}
