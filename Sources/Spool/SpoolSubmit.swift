import Foundation
import System
#if canImport(Glibc)
import Glibc
#endif

/// `tutor submit`: puts a task folder into a spool so that a daemon never sees half of it.
///
/// The folder is copied under a dot-name in incoming/ (which daemons ignore), every file
/// fsynced, and then renamed into place in one step, which daemons take at once.
public enum SpoolSubmit {
    /// Most entries a submitted folder may hold (files and subfolders, all levels).
    public static let entryLimit = 10_000

    /// Copies `folder` into `spool`/incoming/ under its own name and returns that name.
    /// Only regular files and folders are copied; a symbolic link or special file anywhere
    /// refuses the submission (links are never followed).
    public static func submit(folder: String, spool: String) throws -> String {
        var src = folder
        while src.count > 1 && src.hasSuffix("/") { src.removeLast() }
        let name = (src as NSString).lastPathComponent
        if name.isEmpty || name == "." || name == ".." || name.hasPrefix(".") {
            throw SpoolError.submit("\(folder): a task's folder name must not start with '.' (daemons ignore such names)")
        }
        let folders = SpoolFolders(root: spool)
        guard folders.exists else {
            throw SpoolError.submit("\(spool) is not a spool (it needs incoming/, active/, done/ and failed/; `tutor daemon --spool \(spool)` creates them)")
        }
        for (state, path) in [("incoming", folders.incoming), ("active", folders.active), ("done", folders.done)]
        where Files.exists(path + "/" + name) {
            throw SpoolError.submit("a task named \(name) is already in \(state)/: rename the folder and submit it again")
        }
        let staging = folders.incoming + "/.\(name).submit-\(getpid())"
        var count = 0
        do {
            try copyTree(src, to: staging, count: &count)
        } catch {
            removeTree(staging)
            throw error
        }
        Files.syncFolder(folders.incoming)
        let e = Files.renameNoReplace(staging, folders.incoming + "/" + name)
        if e != 0 {
            removeTree(staging)
            if e == EEXIST || e == ENOTEMPTY {
                throw SpoolError.submit("a task named \(name) appeared in incoming/ meanwhile: rename the folder and submit it again")
            }
            throw SpoolError.submit("cannot rename the copy into incoming/: \(SystemError.text(e))")
        }
        Files.syncFolder(folders.incoming)
        return name
    }

    private static func copyTree(_ src: String, to dst: String, count: inout Int) throws {
        guard let e = FileEntry(src) else { throw SpoolError.submit("\(src): no such folder") }
        guard e.kind == .folder else { throw SpoolError.submit("\(src) is a \(e.kind.rawValue), not a folder") }
        if mkdir(dst, 0o775) != 0 { throw SpoolError.submit("cannot create \(dst): \(SystemError.text(errno))") }
        // Group-writable whatever the umask: the daemon runs as another user of the spool's
        // group and must rename the folder (which updates its "..") and write into it.
        chmod(dst, 0o775)
        guard let names = Files.names(in: src) else { throw SpoolError.submit("cannot list \(src): \(SystemError.text(errno))") }
        for n in names.sorted() {
            count += 1
            if count > entryLimit {
                throw SpoolError.submit("\(src) holds more than \(entryLimit) entries: a task folder needs only prompt.txt, rules.json, first_frame.jpg and job.json")
            }
            let from = src + "/" + n, to = dst + "/" + n
            guard let f = FileEntry(from) else { continue }
            switch f.kind {
            case .folder: try copyTree(from, to: to, count: &count)
            case .file: try copyFile(from, to: to)
            default:
                throw SpoolError.submit("\(from) is a \(f.kind.rawValue): submit copies regular files only and never follows links; replace it with the file itself")
            }
        }
        Files.syncFolder(dst)
    }

    private static func copyFile(_ src: String, to dst: String) throws {
        let inFD = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        if inFD < 0 { throw SpoolError.submit("cannot read \(src): \(SystemError.text(errno))") }
        defer { close(inFD) }
        var st = stat()
        if fstat(inFD, &st) != 0 || st.st_mode & S_IFMT != S_IFREG {
            throw SpoolError.submit("\(src) is not a regular file")
        }
        let outFD = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o664)
        if outFD < 0 { throw SpoolError.submit("cannot create \(dst): \(SystemError.text(errno))") }
        fchmod(outFD, 0o664)
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        let bufSize = buf.count
        while true {
            let n = buf.withUnsafeMutableBytes { read(inFD, $0.baseAddress!, bufSize) }
            if n < 0 { if errno == EINTR { continue }; close(outFD); throw SpoolError.submit("cannot read \(src): \(SystemError.text(errno))") }
            if n == 0 { break }
            var done = 0
            while done < n {
                let w = buf.withUnsafeBytes { write(outFD, $0.baseAddress! + done, n - done) }
                if w < 0 { if errno == EINTR { continue }; close(outFD); throw SpoolError.submit("cannot write \(dst): \(SystemError.text(errno))") }
                done += w
            }
        }
        if fsync(outFD) != 0 || close(outFD) != 0 { throw SpoolError.submit("cannot write \(dst): \(SystemError.text(errno))") }
    }

    /// Removes a staging copy that this process made; what cannot be removed is said.
    static func removeTree(_ path: String) {
        do { try Files.removeTree(path) } catch {
            StandardError.line("warning: \(error); remove \(path) by hand")
        }
    }
}
