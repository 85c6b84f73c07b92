import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes outputs so that a reader never sees half a file: a temporary dot-name in the
/// same folder, fsync, close (checked), rename into place, fsync the folder.
public enum AtomicWrite {
    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "could not write \(path): \(reason)" }
        public init(path: String, reason: String) { self.path = path; self.reason = reason }
    }

    public static func write(_ bytes: [UInt8], to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        if fd < 0 { throw Failure(path: tmp.path, reason: String(cString: strerror(errno))) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = String(cString: strerror(errno)); close(fd); unlink(tmp.path)
                throw Failure(path: tmp.path, reason: e)
            }
            done += n
        }
        if fsync(fd) != 0 {
            let e = String(cString: strerror(errno)); close(fd); unlink(tmp.path)
            throw Failure(path: tmp.path, reason: e)
        }
        if close(fd) != 0 { unlink(tmp.path); throw Failure(path: tmp.path, reason: String(cString: strerror(errno))) }
        if rename(tmp.path, url.path) != 0 {
            let e = String(cString: strerror(errno)); unlink(tmp.path)
            throw Failure(path: url.path, reason: e)
        }
        syncFolder(dir)
    }

    public static func write(_ string: String, to url: URL) throws {
        try write(Array(string.utf8), to: url)
    }

    public static func syncFolder(_ dir: URL) {
        let dfd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}
