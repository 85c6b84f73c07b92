import Basics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every libc call of ModelFiles lives here: mapping a file for reading, and writing
/// one atomically.

/// The bytes a safetensors file is read from: a read-only memory map of the file
/// (the kernel pages it in; nothing is copied), or an array held in memory.
final class ByteStorage: @unchecked Sendable {
    // @unchecked: the bytes are never written after init, so sharing across threads is safe.
    private let base: UnsafeRawPointer?
    let count: Int
    private let mapped: Bool
    private let array: [UInt8]

    init(bytes: [UInt8]) {
        array = bytes
        base = nil
        count = bytes.count
        mapped = false
    }

    /// Maps `path` read-only. Refuses anything but a regular file, without blocking on a FIFO.
    init(mapping path: String) throws(SafetensorsError) {
        let fd: Int32
        do { (fd, count) = try RegularFile.open(path) } catch { throw .cannotOpen(path: path, reason: error.reason) }
        defer { close(fd) }
        array = []
        mapped = true
        if count == 0 { base = nil; return } // mmap refuses length 0
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        if p == MAP_FAILED || p == nil { throw .cannotOpen(path: path, reason: "cannot be mapped: " + ErrorText.reason(errno: errno)) }
        base = UnsafeRawPointer(p!)
    }

    deinit {
        if mapped, let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        if mapped { return try body(UnsafeRawBufferPointer(start: base, count: count)) }
        // Array.withUnsafeBytes rethrows untyped; route the typed error through a Result.
        let r: Result<R, E> = array.withUnsafeBytes { raw in
            do throws(E) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try r.get()
    }
}

/// A file written under a temporary dot-name in its destination folder, fsynced,
/// closed (checked), then renamed into place and the folder fsynced: a reader sees
/// the old file or the whole new one, never half of one.
public struct AtomicFileWriter {
    let path: String
    private let tempPath: String
    private var fd: Int32

    init(path: String) throws(SafetensorsError) {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        tempPath = (dir.isEmpty ? "" : dir + "/") + ".\(name).\(getpid()).tmp"
        fd = open(tempPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        if fd < 0 { throw .writeFailed(path: tempPath, reason: lastError()) }
    }

    /// Appends bytes, retrying short writes and EINTR.
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws(SafetensorsError) {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                let e = lastError()
                discard()
                throw .writeFailed(path: tempPath, reason: e)
            }
            done += n
        }
    }

    mutating func write(_ bytes: [UInt8]) throws(SafetensorsError) {
        let r: Result<Void, SafetensorsError> = bytes.withUnsafeBytes { raw in
            do throws(SafetensorsError) { try write(raw); return .success(()) } catch { return .failure(error) }
        }
        try r.get()
    }

    /// Makes the file durable and puts it in place.
    mutating func commit() throws(SafetensorsError) {
        if fsync(fd) != 0 { let e = lastError(); discard(); throw .writeFailed(path: tempPath, reason: "fsync: " + e) }
        let rc = close(fd)
        fd = -1
        if rc != 0 { let e = lastError(); unlink(tempPath); throw .writeFailed(path: tempPath, reason: "close: " + e) }
        if rename(tempPath, path) != 0 { let e = lastError(); unlink(tempPath); throw .writeFailed(path: path, reason: e) }
        syncFolder(of: path)
    }

    /// Drops the temporary file; the destination is untouched.
    mutating func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(tempPath)
    }

    /// Writes `bytes` to `path` atomically (the whole sequence above in one call).
    public static func write(_ bytes: [UInt8], to path: String) throws(SafetensorsError) {
        var w = try AtomicFileWriter(path: path)
        try w.write(bytes)
        try w.commit()
    }
}

/// fsyncs the folder holding `path`, so a rename into it survives a crash.
func syncFolder(of path: String) {
    let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
    let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 { fsync(dfd); close(dfd) }
}

/// Creates a folder (and its parents) if missing.
func makeFolder(_ path: String) throws(SafetensorsError) {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for part in path.split(separator: "/") {
        prefix += part
        if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
            throw .writeFailed(path: prefix, reason: lastError())
        }
        prefix += "/"
    }
}

func lastError() -> String { ErrorText.reason(errno: errno) }
