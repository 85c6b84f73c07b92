import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The built `tutor` executable, or a skip that says to build it.
func tutorExecutable() throws -> String {
    guard let t = builtTutor() else { throw XCTSkip("the tutor executable is not built: run `swift build` first") }
    return t
}

/// Whether the `tutor run` command exists in the built executable (the adaptation issue
/// brings it); bad-input tests then run through it instead of a stand-in runner.
func tutorHasRun(_ tutor: String) -> Bool {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tutor)
    p.arguments = ["run", "--help"]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return false }
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    // Without a `run` command the root's help comes back, with status 0 too.
    return p.terminationStatus == 0 && text.contains("USAGE: tutor run")
}

/// A 16 x 16 JPEG, red on the left and blue on the right (baseline, 4:4:4, from ImageMagick),
/// small enough to write into any task; both objects of `tinyRules` have pixels in it.
let tinyJPEG: [UInt8] = Array(Data(base64Encoded: "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/2wBDAQICAgICAgUDAwUKBwYHCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgr/wAARCAAQABADAREAAhEBAxEB/8QAFAABAAAAAAAAAAAAAAAAAAAACP/EABQQAQAAAAAAAAAAAAAAAAAAAAD/xAAWAQEBAQAAAAAAAAAAAAAAAAAKCAn/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIRAxEAPwAXpTb+CGVQNeXgq5KAhlUDXv/Z")!)

/// A rule file that names one object and one goal.
let tinyRules = """
{"version": 1, "objects": {"ball": {"color": "#ff0000"}, "target": {"color": "#0000ff"}},
 "goal": {"question": "Does the red ball reach the blue square?", "check": {"type": "reach", "object": "ball", "target": "target"}},
 "process": [{"question": "Does the ball stay intact?", "check": {"type": "intact", "object": "ball"}}]}
"""

/// A temporary folder for one test, removed at the end.
final class TempFolder {
    let path: String

    init(_ tag: String = "spool") throws {
        var template = Array("/tmp/tutor-\(tag)-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw XCTSkip("cannot create a temporary folder") }
        path = String(cString: p)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var spool: String { path + "/spool" }
    func state(_ s: String, _ name: String = "") -> String { name.isEmpty ? "\(spool)/\(s)" : "\(spool)/\(s)/\(name)" }

    /// Writes a complete task folder at `path` (not in the spool).
    @discardableResult
    func makeTask(_ name: String, in parent: String? = nil) throws -> String {
        let dir = (parent ?? path + "/staging") + "/" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("Move the red ball to the blue square.\n".utf8).write(to: URL(fileURLWithPath: dir + "/prompt.txt"))
        try Data(tinyRules.utf8).write(to: URL(fileURLWithPath: dir + "/rules.json"))
        try Data(tinyJPEG).write(to: URL(fileURLWithPath: dir + "/first_frame.jpg"))
        return dir
    }

    /// Writes an executable script and returns its path.
    func script(_ name: String, _ body: String) throws -> String {
        let p = path + "/" + name
        try Data(("#!/bin/bash\n" + body).utf8).write(to: URL(fileURLWithPath: p))
        chmod(p, 0o755)
        return p
    }

    /// A runner that writes `verdict.json` with `status` (atomically, last) and exits 0.
    func verdictRunner(status: String = "passed", before: String = "") throws -> String {
        try script("runner-\(status).sh", """
        set -e
        d="$1"; n=$(basename "$d")
        \(before)
        printf '{"version":1,"task":"%s","status":"\(status)","passed":\(status == "passed"),"error":null}\\n' "$n" > "$d/.verdict.tmp"
        mv "$d/.verdict.tmp" "$d/verdict.json"
        """)
    }
}

/// A `tutor daemon` process under test.
final class DaemonProcess {
    let process = Process()
    let logPath: String

    init(tutor: String, spool: String, arguments: [String], environment: [String: String] = [:], log: String) throws {
        logPath = log
        process.executableURL = URL(fileURLWithPath: tutor)
        process.arguments = ["daemon", "--spool", spool] + arguments
        var env = ProcessInfo.processInfo.environment
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"] { env.removeValue(forKey: k) }
        for (k, v) in environment { env[k] = v }
        process.environment = env
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        h.seekToEndOfFile()
        process.standardError = h
        process.standardOutput = h
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until the log holds `text`.
    func waitForLog(_ text: String, timeout: Double = 20) -> Bool {
        waitUntil(timeout: timeout) { self.log.contains(text) }
    }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// Waits for the process to exit; returns its status, or nil on timeout (then kills it).
    func waitExit(timeout: Double = 20) -> Int32? {
        if waitUntil(timeout: timeout, { !self.process.isRunning }) {
            return process.terminationStatus
        }
        kill(pid, SIGKILL)
        process.waitUntilExit()
        return nil
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL); process.waitUntilExit() }
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass.
@discardableResult
func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

func exists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}

func readJSON(_ path: String) -> [String: Any]? {
    guard let d = FileManager.default.contents(atPath: path) else { return nil }
    return (try? JSONSerialization.jsonObject(with: d)) as? [String: Any]
}

/// Checks a verdict written by a daemon against docs/verdict.schema.json (VerdictSchema);
/// does nothing where python3 lacks jsonschema (EndToEndTests skip visibly then).
func assertMatchesVerdictSchema(_ path: String, file: StaticString = #filePath, line: UInt = #line) {
    guard VerdictSchema.unavailable() == nil else { return }
    XCTAssertEqual(try VerdictSchema.refusals([path]), [:], "\(path) does not match docs/verdict.schema.json", file: file, line: line)
}

func names(in folder: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
}

/// The state letter of a process in /proc/PID/stat (R, S, T, Z, ...); nil when gone.
func processState(_ pid: Int32) -> Character? {
    guard let d = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
          let s = String(data: d, encoding: .utf8), let close = s.lastIndex(of: ")") else { return nil }
    return s[s.index(close, offsetBy: 2)]
}

/// Whether a process is gone (or a zombie nobody has reaped yet).
func processGone(_ pid: Int32) -> Bool {
    guard let state = processState(pid) else { return true }
    return state == "Z" || state == "X"
}
