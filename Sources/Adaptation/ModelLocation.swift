import Foundation
import Reasoner

/// Where `tutor run` finds the Reasoner checkpoint folder (`config.json` + `model.safetensors`).
///
/// In order: `--model DIR`; the environment variable `TUTOR_MODEL`; `models/reasoner` in the
/// folder of the executable or any folder above it (a source checkout's `.build/release/tutor`
/// finds the checkout's `models/reasoner`); `share/tutor/models/reasoner` beside the
/// executable's `bin/` (an installed `/usr/local/bin/tutor` finds `/usr/local/share/tutor/...`).
public enum ModelLocation {
    public static let environmentVariable = "TUTOR_MODEL"
    public static let relativePath = "models/reasoner"

    public struct NotFound: Error, CustomStringConvertible {
        public var searched: [String]
        public var description: String {
            "no Reasoner checkpoint found (looked in \(searched.joined(separator: ", "))): give the folder holding config.json and model.safetensors with --model DIR or the environment variable TUTOR_MODEL"
        }
    }

    /// The checkpoint folder to load.
    public static func resolve(option: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                               executable: String? = nil) throws -> URL {
        if let option { return URL(fileURLWithPath: option) }
        if let env = environment[environmentVariable], !env.isEmpty { return URL(fileURLWithPath: env) }
        var searched: [String] = []
        let exe = executable ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent().standardizedFileURL
        var candidates: [URL] = []
        while true {
            candidates.append(dir.appendingPathComponent(relativePath))
            if dir.lastPathComponent == "bin" {
                candidates.append(dir.deletingLastPathComponent().appendingPathComponent("share/tutor/" + relativePath))
            }
            let up = dir.deletingLastPathComponent()
            if up.path == dir.path { break }
            dir = up
        }
        for c in candidates {
            searched.append(c.path)
            if FileManager.default.fileExists(atPath: c.appendingPathComponent(Reasoner.configFileName).path) { return c }
        }
        throw NotFound(searched: searched.count > 4 ? Array(searched.prefix(3)) + ["... up to /"] : searched)
    }
}
