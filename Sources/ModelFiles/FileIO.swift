import System
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every libc call of ModelFiles lives here: mapping a file for reading; writing goes
/// through System's `AtomicFile`.

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

/// A file written atomically (System's `AtomicFile`), with failures as `SafetensorsError`
/// so that the model files' writers throw one error type.
public struct AtomicFileWriter {
    private var file: AtomicFile

    init(path: String) throws(SafetensorsError) {
        do { file = try AtomicFile(path: path) } catch { throw .writeFailed(path: path, reason: error.reason) }
    }

    /// Appends bytes, retrying short writes and EINTR.
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws(SafetensorsError) {
        do { try file.write(bytes) } catch { throw .writeFailed(path: file.path, reason: error.reason) }
    }

    mutating func write(_ bytes: [UInt8]) throws(SafetensorsError) {
        do { try file.write(bytes) } catch { throw .writeFailed(path: file.path, reason: error.reason) }
    }

    /// Makes the file durable and puts it in place.
    mutating func commit() throws(SafetensorsError) {
        do { try file.commit() } catch { throw .writeFailed(path: file.path, reason: error.reason) }
    }

    /// Drops the temporary file; the destination is untouched.
    mutating func discard() { file.discard() }

    /// Writes `bytes` to `path` atomically (the whole sequence above in one call).
    public static func write(_ bytes: [UInt8], to path: String) throws(SafetensorsError) {
        var w = try AtomicFileWriter(path: path)
        try w.write(bytes)
        try w.commit()
    }
}

/// Creates a folder (and its parents) if missing.
func makeFolder(_ path: String) throws(SafetensorsError) {
    do { try Files.makeFolders(path) } catch { throw .writeFailed(path: error.path, reason: error.reason) }
}

func lastError() -> String { ErrorText.reason(errno: errno) }
