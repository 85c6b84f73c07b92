import Foundation
import System
#if canImport(Glibc)
import Glibc
#endif

/// Recovery: tasks left in active/ by a daemon that died, found by any daemon's rescan.
extension SpoolDaemon {
    /// Finds tasks in active/ whose daemon is gone and settles them (a crash counted).
    /// Runs at start-up and at every rescan.
    func recoverActive() {
        let wall = Clock.wallSeconds()
        let recoverPrefix = ".tutor-recover."
        for name in Files.names(in: folders.active) ?? [] {
            let path = folders.active + "/" + name
            if name.hasPrefix(recoverPrefix) {
                let rest = name.dropFirst(recoverPrefix.count)
                guard let dot = rest.firstIndex(of: "."), let e = FileEntry(path) else { continue }
                let task = String(rest[rest.index(after: dot)...])
                if Int32(rest[..<dot]) == identity.pid {
                    // This daemon's own, left when it could not be moved on (a state folder
                    // missing): try again.
                    recover(path: path, name: task, owner: OwnerRecord.read(task: path), reason: "it could not be moved on before")
                    continue
                }
                // Another daemon died while recovering this one: finish its work.
                guard wall - e.ctime > settings.unownedSeconds else { continue }
                recover(path: path, name: task, owner: OwnerRecord.read(task: path), reason: "a daemon died while putting it back")
                continue
            }
            if name.hasPrefix(".") || running[name] != nil { continue }
            guard let e = FileEntry(path), e.kind == .folder else { continue }
            let owner = OwnerRecord.read(task: path)
            guard let reason = orphanReason(owner, folder: e, path: path, wall: wall) else { continue }
            if let o = owner, !o.slurmJob.isEmpty {
                // Its Slurm job outlives the daemon that submitted it: follow it, never run it twice.
                if settings.slurm != nil { adoptJob(path: path, name: name, owner: o, reason: reason) }
                else { slurmTaskSeen(name) }
                continue
            }
            recover(path: path, name: name, owner: owner, reason: reason)
        }
    }

    /// Why the task's owner counts as gone, or nil while it may still be working.
    func orphanReason(_ owner: OwnerRecord?, folder: FileEntry, path: String, wall: Double) -> String? {
        guard let o = owner else {
            return wall - folder.ctime > settings.unownedSeconds ? "it had no owner record" : nil
        }
        if o.host == identity.host {
            if !o.bootID.isEmpty && o.bootID != identity.bootID { return "its host rebooted" }
            if o.pid == identity.pid && o.startTicks == identity.startTicks { return "this daemon lost track of it" }
            if Sys.processStartTicks(o.pid) == o.startTicks { return nil }
            return "its daemon (pid \(o.pid)) died"
        }
        let renewed = FileEntry(path + "/" + SpoolFolders.ownerFile)?.mtime ?? 0
        let age = wall - renewed
        if age <= settings.leaseSeconds { return nil }
        return "its daemon on \(o.host) did not renew its claim for \(Int(age)) s (lease \(Int(settings.leaseSeconds)) s)"
    }

    /// Takes an orphaned task: first a rename to a name of this daemon's (only one daemon
    /// can win it), then a check that the owner record is still the one judged gone.
    func recover(path: String, name: String, owner: OwnerRecord?, reason: String) {
        let mine = folders.active + "/.tutor-recover.\(identity.pid).\(name)"
        if path != mine {
            guard Files.renameNoReplace(path, mine) == 0 else { return }
            if OwnerRecord.read(task: mine) != owner {
                // Claimed afresh between our look and our rename: give it back.
                let e = Files.renameNoReplace(mine, path)
                if e != 0 { SpoolLog.line("\(name): cannot give back active/\(Files.baseName(mine)) as active/\(name): \(SystemError.text(e))") }
                return
            }
        }
        SpoolLog.line("\(name): found in active/ but \(reason)")
        settle(path: mine, name: name, crash: "\(reason) while the task ran", seconds: nil, countCrash: true)
    }
}
