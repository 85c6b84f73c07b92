import Foundation
import XCTest

/// Runs Python's reference implementation of safetensors (and numpy) as a peer.
enum Python {
    /// Skips the calling test when python3 with numpy and safetensors is missing;
    /// `scripts/setup` installs them, so in CI these tests always run.
    static func requireSafetensors() throws {
        let r = run("import numpy, safetensors.numpy", arguments: [])
        if r.status != 0 {
            throw XCTSkip("python3 with numpy and safetensors is not available (run scripts/setup): \(r.stderr)")
        }
    }

    /// Runs `python3 -c script arguments...` and returns its exit status and output.
    static func run(_ script: String, arguments: [String]) -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return (127, "", "cannot start python3: \(error)") }
        // Read both pipes before waiting, so a large output cannot block the child.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// Runs a script that must succeed and print one JSON value; returns it decoded.
    static func json(_ script: String, arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Any {
        let r = run(script, arguments: arguments)
        guard r.status == 0 else {
            XCTFail("python3 failed (\(r.status)): \(r.stderr)", file: file, line: line)
            throw PythonFailed(stderr: r.stderr)
        }
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8), options: [.fragmentsAllowed])
    }
}

struct PythonFailed: Error { let stderr: String }

/// A fresh temporary folder, removed by the caller.
func makeTemporaryFolder() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-modelfiles-\(getpid())-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}
