import Foundation
import Reasoner
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `tutor run` with a damaged or hostile model, a folder it may not write and a verdict.json it
/// cannot replace: each ends as an error verdict, or without one but with a message that says
/// why and a non-zero exit; never a crash, a hang, or "passed" without a verdict.
final class DamagedModelTests: TutorRunTestCase {
    /// A copy of the tiny model in `root/name`, with `damage` applied to its folder.
    func damagedModel(_ name: String, _ damage: (String) throws -> Void) throws -> String {
        let dir = root.appendingPathComponent(name).path
        try Reasoner.makeTinyRandom().saveCheckpoint(to: dir)
        try damage(dir)
        return dir
    }

    /// config.json with `key` set to `value` (JSON text).
    func setConfig(_ dir: String, _ key: String, _ value: String) throws {
        let path = dir + "/config.json"
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        object[key] = "@@"
        let text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        try Data(text.replacingOccurrences(of: "\"@@\"", with: value).utf8).write(to: URL(fileURLWithPath: path))
    }

    /// Fills tensor `name` of the model's weights with `value` (F32, in place).
    func fillTensor(_ dir: String, _ name: String, _ value: Float) throws {
        let url = URL(fileURLWithPath: dir + "/model.safetensors")
        var bytes = Array(try Data(contentsOf: url))
        let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as? [String: Any])
        let offsets = try XCTUnwrap((header[name] as? [String: Any])?["data_offsets"] as? [Int])
        for i in stride(from: 8 + n + offsets[0], to: 8 + n + offsets[1], by: 4) {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { for (k, b) in $0.enumerated() { bytes[i + k] = b } }
        }
        try Data(bytes).write(to: url)
    }

    /// Each reproducer of a damaged model gives a `model-unavailable` verdict whose message
    /// names the file (and the key or tensor) and says what to do; an earlier verdict is replaced.
    func testDamagedModelsEndAsModelUnavailableVerdicts() throws {
        let tensor = "blocks.0.mlp.fc1.weight"
        let cases: [(String, (String) throws -> Void, [String])] = [
            ("width-million", { try self.setConfig($0, "width", "1000000") }, ["config.json", "width is 1000000", "8 to 1024"]),
            ("width-2^62", { try self.setConfig($0, "width", "4611686018427387904") }, ["config.json", "width is 4611686018427387904"]),
            ("mlp-ratio", { try self.setConfig($0, "mlp_ratio", "100000") }, ["mlp_ratio is 100000"]),
            ("mlp-ratio-2^60", { try self.setConfig($0, "mlp_ratio", "1152921504606846976") }, ["mlp_ratio is 1152921504606846976"]),
            ("time-embedding", { try self.setConfig($0, "time_embedding", "1000000000") }, ["time_embedding is 1000000000"]),
            ("time-embedding-2^61", { try self.setConfig($0, "time_embedding", "2305843009213693952") }, ["time_embedding is"]),
            ("depth", { try self.setConfig($0, "depth", "1000000") }, ["depth is 1000000", "1 to 32"]),
            ("width-float", { try self.setConfig($0, "width", "1e30") }, ["\"width\" is 1e+30, not a whole number"]),
            ("scale-inf", { try self.setConfig($0, "trajectory_scale", "1e39") }, ["trajectory_scale"]),
            ("other-width", { try self.setConfig($0, "width", "64") }, ["do not belong together"]),
            ("config-array", { try Data("[]".utf8).write(to: URL(fileURLWithPath: $0 + "/config.json")) },
             ["config.json", "must be a JSON object"]),
            ("config-folder", {
                try FileManager.default.removeItem(atPath: $0 + "/config.json")
                try FileManager.default.createDirectory(atPath: $0 + "/config.json", withIntermediateDirectories: false)
            }, ["config.json", "is a folder, not a regular file"]),
            ("config-fifo", {
                try FileManager.default.removeItem(atPath: $0 + "/config.json")
                XCTAssertEqual(mkfifo($0 + "/config.json", 0o644), 0)
            }, ["config.json", "is a FIFO, not a regular file"]),
            ("weights-fifo", {
                try FileManager.default.removeItem(atPath: $0 + "/model.safetensors")
                XCTAssertEqual(mkfifo($0 + "/model.safetensors", 0o644), 0)
            }, ["model.safetensors", "is a FIFO, not a regular file"]),
            ("nan", { try self.fillTensor($0, tensor, .nan) }, ["model.safetensors", tensor, "NaN", "restore the model folder"]),
            ("inf", { try self.fillTensor($0, tensor, .infinity) }, [tensor, "+infinity"]),
            ("minus-inf", { try self.fillTensor($0, tensor, -.infinity) }, [tensor, "-infinity"]),
            ("3e38", { try self.fillTensor($0, tensor, 3e38) }, [tensor, "3e+38", "at most 10000"]),
        ]
        for (name, damage, words) in cases {
            let model = try damagedModel("model-" + name, damage)
            let dir = try makeTask(name, job: "{\"strategy\": \"teacher-lora\", \"max_steps\": 1, \"sample_steps\": 1}")
            try Data("{\"earlier\": true}\n".utf8).write(to: dir.appendingPathComponent("verdict.json"))
            let r = try run(["run", dir.path, "--model", model, "--quiet"])
            XCTAssertEqual(r.status, 1, "\(name): \(r.output)")
            let e = try XCTUnwrap(try verdict(dir)["error"] as? [String: Any], name)
            XCTAssertEqual(e["code"] as? String, "model-unavailable", "\(name): \(e)")
            let message = e["message"] as? String ?? ""
            for w in words { XCTAssertTrue(message.contains(w), "\(name): \"\(w)\" not in: \(message)") }
            XCTAssertFalse(message.contains("Error Domain") || message.contains("DecodingError"), message)
            XCTAssertTrue(r.output.contains(message), "\(name): the message is also printed: \(r.output)")
        }
    }

    /// Random flips of exponent bits in the weights (one in four such flips crashed a run):
    /// each run ends with a verdict, either refusing the model or judging its video.
    func testBitFlippedWeightsNeverCrashARun() throws {
        let clean = try damagedModel("model-clean") { _ in }
        let weights = try Data(contentsOf: URL(fileURLWithPath: clean + "/model.safetensors"))
        let n = Int(weights[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let floats = (weights.count - 8 - n) / 4
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return Int(state >> 1) }
        for trial in 0..<6 {
            let model = try damagedModel("model-flip-\(trial)") { dir in
                var bytes = Array(weights)
                // Bits 26-30 of a float are its exponent's upper bits: the flips that matter.
                let bit = 26 + trial % 5, at = 8 + n + 4 * (next() % floats) + bit / 8
                bytes[at] ^= UInt8(1 << (bit % 8))
                try Data(bytes).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
            }
            let dir = try makeTask("flip-\(trial)", job: "{\"strategy\": \"teacher-lora\", \"max_steps\": 2, \"rank\": 4, \"sample_steps\": 1, \"learning_rate\": 1}")
            let r = try run(["run", dir.path, "--model", model, "--quiet"])
            XCTAssertTrue(r.status == 0 || r.status == 1, "trial \(trial): \(r.status) \(r.output)")
            let v = try verdict(dir)
            if let e = v["error"] as? [String: Any] {
                XCTAssertEqual(e["code"] as? String, "model-unavailable", "trial \(trial): \(e)")
            } else {
                XCTAssertEqual((v["outputs"] as? [String: Any])?["frames"].map { ($0 as? [Any])?.count }, 16, "trial \(trial)")
            }
        }
    }

    /// As an unprivileged user: a read-only task folder, and a model file this user may not
    /// read, each told in plain words (never `NSCocoaErrorDomain Code=513`).
    func testPermissionProblemsAreToldInPlainWords() throws {
        guard getuid() == 0, access("/usr/bin/setpriv", X_OK) == 0 else { throw XCTSkip("needs root and setpriv to run as nobody") }
        let bin = try tutor()
        func asNobody(_ args: [String]) throws -> (status: Int32, output: String) {
            try run(["--reuid=nobody", "--regid=nogroup", "--clear-groups", bin] + args, executable: "/usr/bin/setpriv")
        }
        let model = try tinyModel()
        chmod(root.path, 0o755)
        // A task folder nobody may not write.
        let dir = try makeTask("read-only", job: "{\"strategy\": \"base\", \"sample_steps\": 1}")
        chmod(dir.path, 0o555)
        defer { chmod(dir.path, 0o755) }
        let r = try asNobody(["run", dir.path, "--model", model])
        XCTAssertEqual(r.status, 1, r.output)
        XCTAssertTrue(r.output.contains("no verdict: cannot write into the task folder \(dir.path): permission denied for this user"), r.output)
        XCTAssertFalse(r.output.contains("Error Domain"), r.output)
        // A model file nobody may not read: an error verdict that says so.
        let open = try makeTask("writable", job: "{\"strategy\": \"base\", \"sample_steps\": 1}")
        chmod(open.path, 0o777)
        chmod(model + "/config.json", 0o600)
        defer { chmod(model + "/config.json", 0o644) }
        let m = try asNobody(["run", open.path, "--model", model, "--quiet"])
        XCTAssertEqual(m.status, 1, m.output)
        let e = try XCTUnwrap(try verdict(open)["error"] as? [String: Any])
        XCTAssertEqual(e["code"] as? String, "model-unavailable")
        XCTAssertEqual(e["message"] as? String,
                       "\(model)/config.json: cannot be opened: permission denied for this user (uid 65534): change its permissions, or run tutor as a user allowed to use it")
    }
}
