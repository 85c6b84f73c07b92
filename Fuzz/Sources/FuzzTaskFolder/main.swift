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
// size limit is kept small so that one execution stays fast.
//
// Checked: the inputs are never modified, and a folder is runnable exactly when no problem
// was found.

let fileNames = ["prompt.txt", "rules.json", "first_frame.jpg", "job.json"]
let separator = Array("\n%%file%%\n".utf8)

/// A folder of its own under the temporary directory, removed when the fuzzer exits.
let folder: URL = {
    var template = Array((NSTemporaryDirectory() + "/tutor-fuzz-task-XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("cannot create a temporary folder: \(String(cString: strerror(errno)))") }
    let url = URL(fileURLWithPath: String(cString: made))
    folderPath = url.path
    atexit {
        if let path = folderPath { try? FileManager.default.removeItem(atPath: path) }
    }
    return url
}()
nonisolated(unsafe) var folderPath: String?

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
    let parts = split(bytes)
    for (i, name) in fileNames.enumerated() {
        let path = folder.appendingPathComponent(name).path
        if i < parts.count { write(parts[i], to: path) } else { unlink(path) }
    }
    let report = TaskInputs.validate(folder: folder, maxSide: 256)
    precondition(report.ok == (report.inputs != nil), "a folder without problems has no inputs, or one with problems has")
    for (i, name) in fileNames.enumerated() where i < parts.count {
        let back = (try? Data(contentsOf: folder.appendingPathComponent(name))).map { [UInt8]($0) }
        precondition(back == parts[i], "\(name) was modified")
    }
}
