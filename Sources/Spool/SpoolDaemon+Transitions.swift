import Foundation
import System
#if canImport(Glibc)
import Glibc
#endif

/// Where a task goes when its worker is gone: done/, failed/ or back to incoming/, each one
/// rename.
extension SpoolDaemon {
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
            finishWithError(path: path, name: name, code: "bad-verdict",
                            message: "the worker left a verdict the spool cannot read (\(why)); it is kept as verdict.invalid.json")
        case .absent:
            var crashes = SpoolFolders.crashedAttempts(path)
            if countCrash {
                crashes += 1
                try? SpoolFolders.setCrashedAttempts(path, crashes)
            }
            if countCrash && crashes >= settings.maxAttempts {
                finishWithError(path: path, name: name, code: "worker-crashed",
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
    func finishWithError(path: String, name: String, code: String, message: String, attempts: Int? = nil) {
        if VerdictStatus.read(task: path) != .absent {
            rename(path + "/" + SpoolFolders.verdictFile, path + "/verdict.worker.json")
        }
        do { try VerdictStatus.writeError(task: path, name: name, code: code, message: message, attempts: attempts) } catch {
            SpoolLog.line("\(name): cannot write verdict.json: \(error)")
        }
        moveOut(path: path, name: name, to: folders.failed, how: "\(code): \(message)")
    }

    /// Moves a task out of active/ into done/ or failed/. A name already in done/ is never
    /// replaced: the task goes to failed/ under a unique name with an error verdict instead.
    func moveOut(path: String, name: String, to dest: String, how: String) {
        unlink(path + "/" + SpoolFolders.ownerFile)
        if dest == folders.done {
            let e = Files.renameNoReplace(path, dest + "/" + name)
            if e == 0 {
                finishedDone += 1; statusDirty = true
                SpoolLog.line("\(name): \(how) -> done/\(name)")
                return
            }
            if e == EEXIST || e == ENOTEMPTY {
                finishWithError(path: path, name: name, code: "name-taken",
                                message: "a task named \(name) was already in done/ when this one finished; its own verdict is kept as verdict.worker.json. Rename the folder and submit it again.")
                return
            }
            SpoolLog.line("\(name): cannot move to done/: \(SystemError.text(e))")
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
}
