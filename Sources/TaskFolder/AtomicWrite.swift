import Foundation
import ModelFiles
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
        do {
            try AtomicFileWriter.write(bytes, to: url.path)
        } catch .writeFailed(let path, let reason) {
            throw Failure(path: path, reason: reason)
        } catch {
            throw Failure(path: url.path, reason: error.description)
        }
    }

    public static func write(_ string: String, to url: URL) throws {
        try write(Array(string.utf8), to: url)
    }

    public static func syncFolder(_ dir: URL) {
        let dfd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}
