import Foundation
import FuzzSupport
import TaskFolder
import Teacher
#if canImport(Glibc)
import Glibc
#endif

// The task-folder reader, as `tutor validate` and the start of `tutor run` call it, on a real
// folder. The input is split at each "\n%%file%%\n" into prompt.txt, rules.json, the first
// frame (first_frame.png when it starts with PNG's signature, first_frame.jpg otherwise),
// job.json and a second first frame under the other name, in that order; the files past the
// last part are absent.
// The folder lives for the whole process and is refilled for each input; the first frame's
// size limit is kept small (the seeds' frames are 32 x 48) so that one execution stays fast.
//
// Checked: the inputs are never modified; a folder is runnable exactly when no problem was
// found, and then its prompt is not empty, its checks name defined objects and its first frame is within
// the size limits.

/// The files the parts of an input are written to, in order.
func fileNames(_ parts: [[UInt8]]) -> [String] {
    let png = parts.count > 2 && parts[2].starts(with: [0x89, 0x50, 0x4E, 0x47])
    let (frame, other) = png ? ("first_frame.png", "first_frame.jpg") : ("first_frame.jpg", "first_frame.png")
    return ["prompt.txt", "rules.json", frame, "job.json", other]
}
let partCount = 5
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
    while i + separator.count <= bytes.count, parts.count < partCount - 1 {
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
    let names = fileNames(parts)
    for (i, name) in names.enumerated() {
        let path = folder + "/" + name
        if i < parts.count { write(parts[i], to: path) } else { unlink(path) }
    }
    let report = TaskInputs.validate(folder: URL(fileURLWithPath: folder, isDirectory: true), maxSide: 128)
    precondition(report.ok == (report.inputs != nil), "a folder without problems has no inputs, or one with problems has")
    if let inputs = report.inputs {
        precondition(!inputs.prompt.isEmpty, "a runnable folder with an empty prompt")
        for q in [inputs.rules.goal] + inputs.rules.process {
            for name in q.check.objectNames {
                precondition(inputs.rules.object(named: name) != nil, "a runnable folder whose rules name an undefined object")
            }
        }
        let frame = inputs.firstFrame
        precondition(frame.width >= 2 && frame.height >= 2 && frame.width <= 128 && frame.height <= 128,
                     "a runnable folder whose first frame is \(frame.width) x \(frame.height), outside the limits")
    }
    for (i, name) in names.enumerated() where i < parts.count {
        precondition(read(folder + "/" + name) == parts[i], "\(name) was modified")
    }
}
