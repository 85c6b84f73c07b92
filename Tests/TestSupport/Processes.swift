import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a program printed and how it ended.
public struct ProgramResult: Sendable {
    public var status: Int32
    /// Standard output; with `mergeOutput`, standard output and error together.
    public var stdout: String
    /// Standard error; empty with `mergeOutput`.
    public var stderr: String
}

/// Runs `exe` with `args` to its end. `environment` entries are set on top of this process's
/// environment (an entry mapped to nil is removed); `mergeOutput` sends standard error into
/// standard output, in the order written.
public func runProgram(_ exe: String, _ args: [String], environment: [String: String?] = [:],
                       mergeOutput: Bool = false) throws -> ProgramResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    if !environment.isEmpty {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
    }
    let out = Pipe(), err = mergeOutput ? nil : Pipe()
    p.standardOutput = out
    p.standardError = err ?? out
    try p.run()
    // standard error is read on another thread, so that neither pipe can fill up and stall the child
    final class Box: @unchecked Sendable { var data = Data() }
    let errData = Box(), group = DispatchGroup()
    if let err { DispatchQueue.global().async(group: group) { errData.data = err.fileHandleForReading.readDataToEndOfFile() } }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    return ProgramResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                         stderr: String(decoding: errData.data, as: UTF8.self))
}

/// The built `tutor` executable: beside the test bundle, or in the package's .build/debug; nil
/// when it is not built (tests then skip, saying to run `swift build`).
public func builtTutor() -> String? {
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tutor").path
    if access(beside, X_OK) == 0 { return beside }
    let debug = VerdictSchema.packageRoot.appendingPathComponent(".build/debug/tutor").path
    if access(debug, X_OK) == 0 { return debug }
    return nil
}

/// `runProgram` as a tuple: status, standard output, standard error.
public func runCommand(_ exe: String, _ args: [String]) throws -> (Int32, String, String) {
    let r = try runProgram(exe, args)
    return (r.status, r.stdout, r.stderr)
}

/// Fills the file system holding `folder` to the last byte with one file; returns its path
/// (remove it to give the space back).
@discardableResult
public func fillFileSystem(holding folder: String) -> String {
    let path = folder + "/filler"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    var block = [UInt8](repeating: 7, count: 64 << 10)
    while block.withUnsafeMutableBytes({ write(fd, $0.baseAddress!, $0.count) }) > 0 {}
    block = [7]
    while write(fd, &block, 1) > 0 {}
    close(fd)
    return path
}
