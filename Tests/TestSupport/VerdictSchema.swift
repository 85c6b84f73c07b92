import Basics
import Foundation

/// docs/verdict.schema.json, checked by an independent validator: Python's `jsonschema`
/// through tools/validate_verdicts.py (scripts/setup installs it).
public enum VerdictSchema {
    /// The repository's root, found from this file's place in it.
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var schemaURL: URL { packageRoot.appendingPathComponent("docs/verdict.schema.json") }

    /// Why the validator cannot run here (python3 or jsonschema missing), nil when it can.
    public static func unavailable() -> String? {
        let r = python(["-c", "import jsonschema"])
        return r.status == 0 ? nil : "python3 with jsonschema is not available (run scripts/setup): \(r.output)"
    }

    /// The files the schema refuses, each with the reasons; empty when all are valid verdicts.
    public static func refusals(_ files: [String]) throws -> [String: [String]] {
        let r = python([packageRoot.appendingPathComponent("tools/validate_verdicts.py").path] + files)
        guard r.status == 0 || r.status == 1 else { throw Failure(output: r.output) }
        // The last line: anything before it is a warning of Python's.
        let v = try JSONParser.parse(String(r.output.split(separator: "\n").last ?? ""))
        var out: [String: [String]] = [:]
        for (k, errors) in v.objectValue ?? [] { out[k] = errors.arrayValue?.compactMap(\.stringValue) ?? [] }
        guard (r.status == 0) == out.isEmpty else { throw Failure(output: r.output) }
        return out
    }

    public struct Failure: Error, CustomStringConvertible {
        public let output: String
        public var description: String { "tools/validate_verdicts.py failed: \(output)" }
    }

    static func python(_ arguments: [String]) -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch { return (127, "cannot start python3: \(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
