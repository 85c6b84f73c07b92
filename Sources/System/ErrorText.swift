import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Failures of the operating system in plain words, for messages a user reads (the one part
/// of System that needs Foundation: its errors are what it translates).
///
/// Foundation's file errors print as `Error Domain=NSCocoaErrorDomain Code=513 "(null)"`, and
/// its codes can give the wrong reason (a FIFO read as "You don't have permission"). Every
/// place where such an error reaches a user translates it here: to the errno behind it, and the
/// errno to a short reason and what to do about it.
public enum ErrorText {
    /// A short reason for `code` (an errno), with what to do where that is clear:
    /// "permission denied for this user (uid 65534): ...".
    public static func reason(errno code: Int32) -> String {
        switch code {
        case EACCES, EPERM:
            return "permission denied for this user (uid \(getuid())): change its permissions, or run tutor as a user allowed to use it"
        case ENOENT: return "no such file or folder"
        case ENOTDIR: return "a part of the path is not a folder"
        case EISDIR: return "it is a folder, not a file"
        case ENOSPC: return "the disk is full: free some space"
        case EDQUOT: return "the disk quota is used up: free some space or raise the quota"
        case EROFS: return "the file system is read-only: use a writable folder"
        case ELOOP: return "it is a symbolic link (or a loop of them), which is not followed"
        case ENAMETOOLONG: return "the path is too long"
        case EMFILE, ENFILE: return "too many open files: raise the limit (ulimit -n)"
        case ENOMEM: return "out of memory"
        case EIO: return "input/output error: the disk may be failing"
        case EEXIST: return "something already exists under that name"
        case ENOTEMPTY: return "the folder is not empty"
        case EXDEV: return "it is on another file system"
        case ETXTBSY, EBUSY: return "it is busy"
        default: return String(cString: strerror(code))
        }
    }

    /// The errno behind a Foundation error, where there is one.
    public static func errno(of error: Error) -> Int32? {
        let e = error as NSError
        if e.domain == NSPOSIXErrorDomain { return Int32(e.code) }
        if let u = e.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain { return Int32(u.code) }
        guard e.domain == NSCocoaErrorDomain else { return nil }
        switch CocoaError.Code(rawValue: e.code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: return ENOENT
        case .fileReadNoPermission, .fileWriteNoPermission: return EACCES
        case .fileWriteOutOfSpace: return ENOSPC
        case .fileWriteVolumeReadOnly: return EROFS
        case .fileWriteFileExists: return EEXIST
        case .fileReadTooLarge: return EFBIG
        default: return nil
        }
    }

    /// Any error in plain words: an errno-carrying Foundation error as `reason(errno:)`, one of
    /// tutor's own errors as its description, anything else as Foundation's own description.
    public static func describe(_ error: Error) -> String {
        if let e = error as? SystemError { return "cannot \(e.action) \(e.path): \(reason(errno: e.errno))" }
        if let code = errno(of: error) { return reason(errno: code) }
        let s = String(describing: error)
        if !s.hasPrefix("Error Domain=") { return s }
        let e = error as NSError
        return e.localizedFailureReason ?? e.localizedDescription
    }
}
