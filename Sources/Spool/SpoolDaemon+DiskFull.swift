import Foundation
import System
#if canImport(Glibc)
import Glibc
#endif

/// A full disk is a state of the daemon, not a reason to retry: a task that cannot be
/// written for lack of space is held (put back in incoming/, not counted as an attempt), no
/// task is claimed, and a probe write at growing intervals finds out when space returns.
///
/// `tutor status` learns of the state from a marker in the spool's root,
/// `.tutor-disk-full.HOST.PID`: an empty file, which needs no data block on a full disk.
extension SpoolDaemon {
    /// The first wait before probing: short, since space often returns at once (a cleanup).
    var firstDiskFullRetry: Double { min(5, max(0.1, settings.rescanSeconds)) }
    static let longestDiskFullRetry = 300.0
    static let diskFullMarkerPrefix = ".tutor-disk-full."
    /// What a probe writes: enough to tell "a few blocks free" from "room for a task's outputs".
    static let probeBytes = 256 << 10

    /// Enters the disk-full state (once; further calls while in it change nothing).
    func diskIsFull(_ why: String) {
        guard diskFull == nil else { return }
        let now = Clock.monotonicSeconds()
        let marker = folders.root + "/" + Self.diskFullMarkerPrefix + "\(identity.host).\(identity.pid)"
        let fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        if fd >= 0 { close(fd); Sys.touch(marker) }
        diskFull = DiskFull(since: now, nextProbe: now + diskFullBackoff, marker: fd >= 0 ? marker : nil)
        statusDirty = true
        metricsDue = now
        SpoolLog.line("disk full: \(why); claiming no task until space returns (next check in \(Self.seconds(diskFullBackoff)))")
    }

    /// Puts a task that could not be written for lack of space back in incoming/, without
    /// counting an attempt, and enters the disk-full state.
    func hold(path: String, name: String, why: String) {
        appendLine("--- tutor daemon: held, \(why); back to incoming/, not counted as an attempt ---",
                   to: path + "/" + SpoolFolders.workerLog)
        metrics.diskFullHolds += 1
        diskIsFull("\(name): \(why)")
        putBack(path: path, name: name, logLine: "held for lack of space; back to incoming/%@ (not counted as an attempt)")
    }

    /// Writes and removes a probe file in active/: when it fits, the daemon takes tasks again.
    func probeDiskSpace() {
        guard var d = diskFull else { return }
        let now = Clock.monotonicSeconds()
        let probe = folders.active + "/.tutor-space-probe.\(identity.pid)"
        do {
            try AtomicFile.write([UInt8](repeating: 0, count: Self.probeBytes), to: probe)
            try? Files.removeFile(probe)
        } catch where error.isDiskFull {
            diskFullBackoff = min(diskFullBackoff * 2, Self.longestDiskFullRetry)
            d.nextProbe = now + diskFullBackoff
            diskFull = d
            return
        } catch {
            // Not a question of space (active/ gone, permissions): the rest of the daemon
            // reports that; stop holding tasks back for space.
            SpoolLog.line("disk space probe: \(error)")
        }
        if let m = d.marker { try? Files.removeFile(m) }
        diskFull = nil
        // Should the disk fill again soon, the next wait is longer.
        diskFullBackoff = min(diskFullBackoff * 2, Self.longestDiskFullRetry)
        statusDirty = true
        metricsDue = now
        SpoolLog.line("disk space again after \(Self.seconds(now - d.since)): taking tasks")
    }

    /// Removes markers of earlier daemons of this host that are gone (killed before they
    /// could remove their own).
    func removeStaleDiskFullMarkers() {
        for m in DiskFullMarker.all(in: folders.root) where m.host == identity.host {
            if m.pid == identity.pid || kill(m.pid, 0) != 0 && errno == ESRCH {
                try? Files.removeFile(folders.root + "/" + m.fileName)
            }
        }
    }

    static func seconds(_ s: Double) -> String { s < 10 ? String(format: "%.1f s", s) : "\(Int(s)) s" }
}

/// A daemon's disk-full marker, as `tutor status` reads it.
struct DiskFullMarker {
    let fileName: String
    let host: String
    let pid: Int32
    /// Seconds since the epoch when the marker was made.
    let since: Double

    static func all(in root: String) -> [DiskFullMarker] {
        let prefix = SpoolDaemon.diskFullMarkerPrefix
        return (Files.names(in: root) ?? []).compactMap { n in
            guard n.hasPrefix(prefix), let dot = n.lastIndex(of: "."), let pid = Int32(n[n.index(after: dot)...]) else { return nil }
            let host = String(n[n.index(n.startIndex, offsetBy: prefix.count)..<dot])
            guard let e = FileEntry(root + "/" + n), e.kind == .file else { return nil }
            return DiskFullMarker(fileName: n, host: host, pid: pid, since: e.mtime)
        }
    }
}
