import Foundation
import FuzzSupport
import TaskFolder
#if canImport(Glibc)
import Glibc
#endif

// The task-folder reader, as `tutor validate` and the start of `tutor run` call it, on a real
// folder. The input is split at each "\n%%file%%\n" into prompt.txt, rules.json,
// first_frame.jpg and job.json, in that order; the files past the last part are absent.
// The folder lives for the whole process and is refilled for each input; the first frame's
// size limit is kept small (the seeds' frames are 32 x 48) so that one execution stays fast.
//
// Checked: the inputs are never modified, and a folder is runnable exactly when no problem
// was found.

let fileNames = ["prompt.txt", "rules.json", "first_frame.jpg", "job.json"]
let separator = Array("\n%%file%%\n".utf8)

/// A folder of this process's own, in memory (/dev/shm) where there is one: a file system on
/// disk would write each input through. Removed when the fuzzer exits. Its path is computed
/// again on each call rather than kept: LeakSanitizer reports memory held only by a global of
/// this program as leaked.
func taskFolder() -> String {
    var base = NSTemporaryDirectory()
    var st = stat()
    if stat("/dev/shm", &st) == 0, st.st_mode & S_IFMT == S_IFDIR, access("/dev/shm", W_OK) == 0 { base = "/dev/shm" }
    let path = base + "/tutor-fuzz-task-\(getpid())"
    if !folderMade {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            fatalError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        atexit { try? FileManager.default.removeItem(atPath: taskFolder()) }
        folderMade = true
    }
    return path
}
nonisolated(unsafe) var folderMade = false

func split(_ bytes: [UInt8]) -> [[UInt8]] {
    var parts: [[UInt8]] = []
    var start = 0, i = 0
    while i + separator.count <= bytes.count, parts.count < fileNames.count - 1 {
        if bytes[i] == separator[0], Array(bytes[i..<(i + separator.count)]) == separator {
            parts.append(Array(bytes[start..<i]))
            i += separator.count
            start = i
        } else {
            i += 1
        }
    }
    parts.append(Array(bytes[start...]))
    return parts
}

func read(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    var st = stat()
    guard fd >= 0, fstat(fd, &st) == 0 else { fatalError("cannot read \(path) back: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    // one byte more than the size, to see a file that grew
    var out = [UInt8](repeating: 0, count: Int(st.st_size) + 1)
    var done = 0
    while done < out.count {
        let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, $0.count - done) }
        guard n >= 0 else { fatalError("cannot read \(path) back: \(String(cString: strerror(errno)))") }
        if n == 0 { break }
        done += n
    }
    out.removeLast(out.count - done)
    return out
}

func write(_ bytes: [UInt8], to path: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { fatalError("cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
        guard n > 0 else { fatalError("cannot write \(path): \(String(cString: strerror(errno)))") }
        done += n
    }
}

fuzz { bytes in
    let folder = taskFolder()
    let parts = split(bytes)
    for (i, name) in fileNames.enumerated() {
        let path = folder + "/" + name
        if i < parts.count { write(parts[i], to: path) } else { unlink(path) }
    }
    let report = TaskInputs.validate(folder: URL(fileURLWithPath: folder, isDirectory: true), maxSide: 128)
    precondition(report.ok == (report.inputs != nil), "a folder without problems has no inputs, or one with problems has")
    for (i, name) in fileNames.enumerated() where i < parts.count {
        precondition(read(folder + "/" + name) == parts[i], "\(name) was modified")
    }
}
