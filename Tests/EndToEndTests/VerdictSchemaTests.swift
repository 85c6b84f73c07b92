import Basics
import Foundation
@testable import Spool
import TestSupport
import Verdicts
import XCTest

/// Real verdicts against the published schema, docs/verdict.schema.json, checked by an
/// independent validator (Python's `jsonschema`, through tools/validate_verdicts.py): a passed
/// and a failed run, and one verdict for every error code, each written by the code that
/// writes it in use (SpoolTests check the daemon's own, from running daemons, too).
extension RunTests {
    func testVerdictsMatchThePublishedSchema() throws {
        if let why = VerdictSchema.unavailable() { throw XCTSkip(why) }
        let out = root.appendingPathComponent("verdicts")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var codes: [String: ErrorCode] = [:]
        /// Keeps a task's verdict as `label.json`; returns it parsed.
        @discardableResult
        func keep(_ label: String, _ dir: URL) throws -> JSONValue {
            let bytes = try Array(Data(contentsOf: dir.appendingPathComponent("verdict.json")))
            try Data(bytes).write(to: out.appendingPathComponent(label + ".json"))
            return try JSONParser.parse(bytes)
        }
        func keepError(_ dir: URL, _ expected: ErrorCode) throws {
            let v = try keep(expected.rawValue, dir)
            XCTAssertEqual(v["error"]?["code"]?.stringValue, expected.rawValue, "\(v.serialized())")
            codes[expected.rawValue] = expected
        }

        // Passed: the shipped model passes order tasks without adaptation.
        let shipped = VerdictSchema.packageRoot.appendingPathComponent("models/reasoner").path
        var passed = false
        for seed in 1_000_003...1_000_006 where !passed {
            let d = try makeTask("order-\(seed)", family: "order", seed: seed, job: #"{"strategy": "base"}"#)
            if try run(["run", d.path, "--model", shipped, "--quiet"]).status == 0 {
                XCTAssertEqual(try keep("passed", d)["status"]?.stringValue, "passed")
                passed = true
            }
        }
        XCTAssertTrue(passed, "the shipped model passed none of four order tasks")

        // Failed: a tiny random model under the default strategy (samples, then adaptation).
        let tiny = try tinyModel()
        let f = try makeTask("failed", family: "maze", job: #"{"samples": 2, "max_steps": 2, "rank": 4, "sample_steps": 2}"#)
        XCTAssertEqual(try run(["run", f.path, "--model", tiny, "--quiet"]).status, 1)
        let failed = try keep("failed", f)
        XCTAssertEqual(failed["status"]?.stringValue, "failed")
        XCTAssertNotNil(failed["samples"]?.arrayValue, "the samples tried")
        XCTAssertNotNil(failed["optimization"]?["steps"], "the adaptation that followed them")
        // The settings as the job gave them: the default learning rate reads 0.0015, not the float's digits.
        XCTAssertEqual(failed["settings"]?["learning_rate"]?.doubleValue, 0.0015)
        XCTAssertEqual(failed["settings"]?["restarts"]?.integerValue, 4)

        // tutor run's error codes.
        let bad = try makeTask("bad-input", job: #"{"seed": 1, "seed": 2}"#)
        try run(["run", bad.path, "--model", tiny, "--quiet"])
        try keepError(bad, .invalidInput)
        XCTAssertTrue(codesMessage(bad).contains("job.json: seed: appears twice"), codesMessage(bad))
        let noModel = try makeTask("no-model")
        try run(["run", noModel.path, "--model", root.appendingPathComponent("nowhere").path, "--quiet"])
        try keepError(noModel, .modelUnavailable)
        let noFrames = try makeTask("no-frames", job: #"{"strategy": "base", "sample_steps": 2}"#)
        try Data("not a folder".utf8).write(to: noFrames.appendingPathComponent("frames"))
        try run(["run", noFrames.path, "--model", tiny, "--quiet"])
        try keepError(noFrames, .outputNotWritten)

        // The daemon's, as it writes them into a task folder.
        for code in ErrorCode.allCases where codes[code.rawValue] == nil {
            let dir = root.appendingPathComponent("daemon-" + code.rawValue)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try VerdictStatus.writeError(task: dir.path, name: "task-" + code.rawValue, code: code,
                                         message: "what happened, and what to do", attempts: code == .workerCrashed || code == .jobFailed ? 3 : nil)
            try keepError(dir, code)
        }
        XCTAssertEqual(Set(codes.values.map(\.rawValue)), Set(ErrorCode.allCases.map(\.rawValue)))

        // The schema lists exactly the codes of ErrorCode.
        let schema = try JSONParser.parse(Array(Data(contentsOf: VerdictSchema.schemaURL)))
        XCTAssertEqual(schema["$defs"]?["errorCode"]?["enum"]?.arrayValue?.compactMap(\.stringValue),
                       ErrorCode.allCases.map(\.rawValue))

        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted().map { out.appendingPathComponent($0).path }
        XCTAssertEqual(files.count, 2 + ErrorCode.allCases.count)
        let report = try VerdictSchema.refusals(files)
        XCTAssertEqual(report, [:], "verdicts the schema refuses")

        // The validator does refuse what breaks the contract.
        let broken: [(String, (inout [(String, JSONValue)]) -> Void)] = [
            ("unknown-code", { o in o = o.map { $0.0 == "error" ? ("error", .object([("code", "out-of-cheese"), ("message", "x")])) : $0 } }),
            ("passed-but-failed", { o in o = o.map { $0.0 == "passed" ? ("passed", true) : $0 } }),
            ("no-cost", { o in o.removeAll { $0.0 == "cost" } }),
            ("extra-key", { o in o.append(("colour", "red")) }),
        ]
        let bent = root.appendingPathComponent("bent")
        try FileManager.default.createDirectory(at: bent, withIntermediateDirectories: true)
        var bentFiles: [String] = []
        for (label, change) in broken {
            var o = try XCTUnwrap(failed.objectValue)
            change(&o)
            let p = bent.appendingPathComponent(label + ".json").path
            try Data(JSONValue.object(o).prettyBytes()).write(to: URL(fileURLWithPath: p))
            bentFiles.append(p)
        }
        let refused = try VerdictSchema.refusals(bentFiles)
        XCTAssertEqual(Set(refused.keys), Set(bentFiles), "the schema accepts a broken verdict: \(refused)")
    }

    func codesMessage(_ dir: URL) -> String {
        let bytes = (try? Array(Data(contentsOf: dir.appendingPathComponent("verdict.json")))) ?? []
        return (try? JSONParser.parse(bytes))?["error"]?["message"]?.stringValue ?? ""
    }
}
