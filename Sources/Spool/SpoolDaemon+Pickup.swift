import Foundation
import System
import Verdicts
#if canImport(Glibc)
import Glibc
#endif

/// Picking up tasks: which names in incoming/ are complete task folders, and in what order
/// they are claimed.
extension SpoolDaemon {
    func apply(_ event: IncomingEvent) {
        let now = Clock.monotonicSeconds()
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
        case .incomingGone:
            SpoolLog.line("incoming/ was removed or moved away: rescanning now")
            rescanNow = true
        }
    }

    /// Lists incoming/: new names become candidates, vanished ones are dropped.
    func fullScan() {
        let now = Clock.monotonicSeconds()
        let names = Set(folders.taskNames(in: folders.incoming))
        for n in names where candidates[n] == nil {
            candidates[n] = Candidate(firstSeen: now, lastEvent: 0, renamedIn: false, ready: false, checkAt: now)
        }
        for n in candidates.keys where !names.contains(n) { candidates.removeValue(forKey: n) }
        statusDirty = true
    }

    enum Readiness { case ready, later(Double), gone, notAFolder(FileKind) }

    /// Whether the candidate `name` is a complete task folder now (docs/FORMAT.md, section 5).
    func evaluate(_ name: String, _ c: Candidate) -> Readiness {
        let path = folders.incoming + "/" + name
        guard let e = FileEntry(path) else { return .gone }
        if e.kind == .folder && c.renamedIn { return .ready }
        let now = Clock.monotonicSeconds()
        let wall = Clock.wallSeconds()
        // Quiet for how long: by inotify events seen here and by the times on disk (which
        // also cover writes from other hosts). A time in the future (clock skew) is ignored.
        var newest = e.mtime
        var entries: [String] = []
        if e.kind == .folder { entries = Files.names(in: path, limit: 2_000) ?? [] }
        for n in entries.prefix(1_000) { if let f = FileEntry(path + "/" + n) { newest = max(newest, f.mtime) } }
        var sinceWrite = wall - newest
        if sinceWrite < -1 { sinceWrite = .infinity }
        let sinceEvent = c.lastEvent == 0 ? Double.infinity : now - c.lastEvent
        let quiet = max(0, min(sinceWrite, sinceEvent))

        if e.kind != .folder {
            return quiet >= settings.settleSeconds ? .notAFolder(e.kind) : .later(now + settings.settleSeconds - quiet + 0.01)
        }
        if entries.contains(SpoolFolders.readyFile) { return .ready }
        if quiet < settings.settleSeconds { return .later(now + settings.settleSeconds - quiet + 0.01) }
        let complete = SpoolFolders.hasInputs(Set(entries))
        if complete || settings.once { return .ready }
        if quiet >= settings.incompleteSeconds { return .ready }
        return .later(now + settings.incompleteSeconds - quiet + 0.01)
    }

    /// Claims ready tasks while workers are free, oldest first.
    func startReadyTasks() {
        guard running.count < settings.workers else { return }
        let now = Clock.monotonicSeconds()
        // Slurm's controller did not answer the last submission: claim nothing until it may.
        if settings.slurm != nil && now < slurm.submitsPausedUntil { return }
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
    func quarantine(_ name: String, kind: FileKind) {
        let src = folders.incoming + "/" + name
        guard ensureStateFolder(folders.failed) else { return }
        var holder = name
        var k = 2
        while mkdir(folders.failed + "/" + holder, 0o755) != 0 {
            if errno != EEXIST || k > 10_000 { SpoolLog.line("\(name): cannot make a folder in failed/: \(SystemError.text(errno))"); return }
            holder = "\(name)~\(k)"; k += 1
        }
        let dst = folders.failed + "/" + holder
        do { try Files.rename(src, dst + "/" + name) } catch {
            // ENOENT: another daemon moved it first. Anything else is worth a line.
            if error.errno != ENOENT { SpoolLog.line("\(name): cannot move it out of incoming/: \(error)") }
            if rmdir(dst) != 0 { SpoolLog.line("\(name): cannot remove the empty failed/\(holder): \(SystemError.text(errno))") }
            return
        }
        let what = kind == .symlink ? "a symbolic link (links are never followed): put the folder itself in incoming/"
            : "a \(kind.rawValue), not a folder: a task is a folder holding prompt.txt, rules.json and first_frame.jpg"
        do {
            try VerdictStatus.writeError(task: dst, name: name, code: .notAFolder,
                                         message: "incoming/\(name) is \(what). It was moved here unchanged.")
        } catch {
            SpoolLog.line("\(name): cannot write failed/\(holder)/verdict.json: \(error)")
        }
        finishedFailed += 1; statusDirty = true
        metrics.finished["failed", default: 0] += 1
        metrics.failed(code: ErrorCode.notAFolder.rawValue)
        SpoolLog.line("\(name): not a folder (\(kind.rawValue)) -> failed/\(holder)/")
    }
}
