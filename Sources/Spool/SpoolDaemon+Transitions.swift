import Foundation
import System
import Verdicts
#if canImport(Glibc)
import Glibc
#endif

/// Where a task goes when its worker is gone: done/, failed/ or back to incoming/, each one
/// rename.
extension SpoolDaemon {
    /// Decides where a task whose worker is gone goes: by its verdict, or, without one, back
    /// to incoming/ (counting a crash when `countCrash`) or to failed/ after `maxAttempts`.
    /// A worker that exited with `ExitStatus.diskFull` is not a crash: its task is held.
    func settle(path: String, name: String, crash: String, seconds: Double?, countCrash: Bool,
                exit: WorkerProcess.Exit? = nil, crashCode: ErrorCode = .workerCrashed) {
        let took = seconds.map { String(format: " (%.1f s)", $0) } ?? ""
        switch VerdictStatus.read(task: path) {
        case .passed, .failed:
            if let seconds { metrics.taskSeconds.observe(seconds) }
            moveOut(path: path, name: name, to: folders.done, how: "finished\(took)")
        case .error:
            if let seconds { metrics.taskSeconds.observe(seconds) }
            moveOut(path: path, name: name, to: folders.failed, how: "error verdict\(took)", code: VerdictStatus.errorCode(task: path))
        case .unreadable(let why):
            checked(name, "keep the unreadable verdict") {
                try Files.rename(path + "/" + SpoolFolders.verdictFile, path + "/verdict.invalid.json")
            }
            finishWithError(path: path, name: name, code: .badVerdict,
                            message: "the worker left a verdict the spool cannot read (\(why)); it is kept as verdict.invalid.json")
        case .absent:
            if exit == .exited(ExitStatus.diskFull) {
                hold(path: path, name: name, why: "its worker could not write verdict.json: the disk is full")
                return
            }
            var crashes = max(SpoolFolders.crashedAttempts(path), crashCounts[name] ?? 0)
            if countCrash {
                crashes += 1
                crashCounts[name] = crashes
                do { try SpoolFolders.setCrashedAttempts(path, crashes) } catch {
                    SpoolLog.line("\(name): cannot record the crash: \(error); this daemon keeps the count (\(crashes) of \(settings.maxAttempts))")
                    if let e = error as? SystemError, e.isDiskFull { diskIsFull("cannot write \(name)/\(SpoolFolders.attemptsFile)") }
                }
            }
            if countCrash && crashes >= settings.maxAttempts {
                finishWithError(path: path, name: name, code: crashCode,
                                message: "gave up after \(crashes) attempts: each time the worker died without writing a verdict; the last time \(crash). worker.log in this folder holds what it printed.",
                                attempts: crashes)
                return
            }
            putBack(path: path, name: name,
                    logLine: "\(crash); back to incoming/%@\(countCrash ? " (\(crashes) of \(settings.maxAttempts) attempts used)" : "")")
        }
    }

    /// Moves a task from active/ back to incoming/, where it waits to be claimed again.
    /// `logLine` holds `%@` where the name it got in incoming/ goes.
    func putBack(path: String, name: String, logLine: String) {
        guard ensureStateFolder(folders.incoming) else {
            if stuckTasks.insert(name).inserted {
                SpoolLog.line("\(name): cannot put back in incoming/ (see above); it stays in active/ and is tried again at every rescan")
            }
            return
        }
        stuckTasks.remove(name)
        do {
            let back = try Sys.moveUnique(path, into: folders.incoming, name: name)
            removeOwnerRecord(folders.incoming + "/" + back, name: name)
            // A candidate now, not when the watcher tells of it: `--once` must not find
            // incoming/ drained in between.
            apply(.renamedIn(back))
            requeued += 1
            metrics.requeued += 1
            statusDirty = true
            SpoolLog.line("\(name): " + logLine.replacingOccurrences(of: "%@", with: back))
        } catch {
            SpoolLog.line("\(name): cannot put back in incoming/: \(error)")
        }
    }

    /// Writes the spool's error verdict into the task and moves it to failed/. When the verdict
    /// cannot be written for lack of space, the task is held instead: failed/ without a
    /// verdict would tell its owner nothing.
    func finishWithError(path: String, name: String, code: ErrorCode, message: String, attempts: Int? = nil) {
        if VerdictStatus.read(task: path) != .absent {
            checked(name, "keep the worker's verdict") {
                try Files.rename(path + "/" + SpoolFolders.verdictFile, path + "/verdict.worker.json")
            }
        }
        do { try VerdictStatus.writeError(task: path, name: name, code: code, message: message, attempts: attempts) } catch {
            if let e = error as? SystemError, e.isDiskFull {
                hold(path: path, name: name, why: "its error verdict (\(code.rawValue)) cannot be written: the disk is full")
                return
            }
            SpoolLog.line("\(name): cannot write verdict.json: \(error)")
        }
        moveOut(path: path, name: name, to: folders.failed, how: "\(code.rawValue): \(message)", code: code.rawValue)
    }

    /// Moves a task out of active/ into done/ or failed/. A name already in done/ is never
    /// replaced: the task goes to failed/ under a unique name with an error verdict instead.
    /// A state folder that disappeared is created again; if that fails, the task stays in
    /// active/ under this daemon's claim, and the rescans try again.
    func moveOut(path: String, name: String, to dest: String, how: String, code: String? = nil) {
        let state = dest == folders.done ? "done" : "failed"
        guard ensureStateFolder(dest) else {
            if stuckTasks.insert(name).inserted {
                SpoolLog.line("\(name): cannot move to \(state)/ (see above); it stays in active/ and is tried again at every rescan")
            }
            return
        }
        stuckTasks.remove(name)
        if dest == folders.done {
            let e = Files.renameNoReplace(path, dest + "/" + name)
            if e == 0 {
                removeOwnerRecord(dest + "/" + name, name: name)
                finished(name, in: "done", code: nil)
                SpoolLog.line("\(name): \(how) -> done/\(name)")
                return
            }
            if e == EEXIST || e == ENOTEMPTY {
                finishWithError(path: path, name: name, code: .nameTaken,
                                message: "a task named \(name) was already in done/ when this one finished; its own verdict is kept as verdict.worker.json. Rename the folder and submit it again.")
                return
            }
            SpoolLog.line("\(name): cannot move to done/: \(SystemError.text(e))")
            return
        }
        do {
            let used = try Sys.moveUnique(path, into: dest, name: name)
            removeOwnerRecord(dest + "/" + used, name: name)
            finished(name, in: "failed", code: code)
            SpoolLog.line("\(name): \(how) -> failed/\(used)")
        } catch {
            SpoolLog.line("\(name): cannot move to failed/: \(error)")
        }
    }

    /// Counts a task that left active/ for good.
    func finished(_ name: String, in state: String, code: String?) {
        if state == "done" { finishedDone += 1 } else { finishedFailed += 1; metrics.failed(code: code) }
        metrics.finished[state, default: 0] += 1
        crashCounts.removeValue(forKey: name)
        statusDirty = true
        // A task went through: the disk had room for it.
        if diskFull == nil { diskFullBackoff = firstDiskFullRetry }
    }

    /// Removes the claim record from a task that left active/ (it would name a claim that
    /// is over). Removed after the move, so that a failed move leaves the claim in place.
    func removeOwnerRecord(_ taskPath: String, name: String) {
        checked(name, "remove the claim record") { try Files.removeFile(taskPath + "/" + SpoolFolders.ownerFile) }
    }

    /// Runs a system call whose failure must not stop the daemon, and logs the failure.
    @discardableResult
    func checked(_ name: String, _ what: String, _ call: () throws -> Void) -> Bool {
        do { try call(); return true } catch {
            SpoolLog.line("\(name): cannot \(what): \(error)")
            return false
        }
    }

    /// Whether a state folder exists; one that disappeared is created again (and logged).
    func ensureStateFolder(_ path: String) -> Bool {
        let state = Files.baseName(path)
        switch Files.kind(path) {
        case .folder?:
            missingFolders.remove(path)
            return true
        case nil:
            do {
                try Files.makeFolder(path)
                missingFolders.remove(path)
                SpoolLog.line("\(state)/ was missing from the spool: created it again")
                return true
            } catch {
                if missingFolders.insert(path).inserted {
                    SpoolLog.line("\(state)/ is missing from the spool and \(error): tasks stay where they are until it exists")
                }
                return false
            }
        case let k?:
            if missingFolders.insert(path).inserted {
                SpoolLog.line("\(path) is a \(k), not a folder: remove it so that tutor can recreate \(state)/; tasks stay where they are until then")
            }
            return false
        }
    }

    /// Checks the four state folders (at every rescan).
    func ensureStateFolders() {
        for f in [folders.incoming, folders.active, folders.done, folders.failed] { _ = ensureStateFolder(f) }
    }
}
