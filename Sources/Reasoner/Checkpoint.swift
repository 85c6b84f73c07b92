import Basics
import Engine
import Foundation
import ModelFiles
import System

/// What can go wrong loading or saving a Reasoner checkpoint. Messages say what to fix.
public enum ReasonerError: Error, CustomStringConvertible {
    case missingFile(String)
    case badConfig(path: String, reason: String)
    case missingTensor(path: String, name: String)
    case unexpectedTensor(path: String, name: String)
    case shapeMismatch(path: String, name: String, expected: [Int], found: [Int])
    case file(String)
    case adapterMismatch(String)
    /// A weight that is not finite, or beyond `Reasoner.maxWeightMagnitude`.
    case damagedTensor(path: String, name: String, index: Int, value: Float)

    public var description: String {
        switch self {
        case .missingFile(let p):
            return "\(p) does not exist; a Reasoner checkpoint folder holds model.safetensors and config.json (train one with `tutor train --out DIR`)"
        case let .badConfig(p, r): return "\(p): \(r)"
        case let .missingTensor(p, n): return "\(p) has no tensor \"\(n)\"; it was not written by this version of tutor's Reasoner"
        case let .unexpectedTensor(p, n): return "\(p) holds a tensor \"\(n)\" this model does not have; the config and the weights disagree"
        case let .shapeMismatch(p, n, e, f): return "\(p): tensor \"\(n)\" is \(f) but config.json implies \(e)"
        case .file(let m): return m
        case .adapterMismatch(let m): return "the adapter does not fit this model: \(m)"
        case let .damagedTensor(p, n, i, v):
            let what = v.isNaN ? "NaN" : v.isInfinite ? "\(v > 0 ? "+" : "-")infinity" : "\(v)"
            let limit = v.isFinite ? " (a weight may be at most \(Int(Reasoner.maxWeightMagnitude)) in magnitude)" : ""
            return "\(p): tensor \"\(n)\" holds \(what) at index \(i)\(limit): the weights are damaged; \(Reasoner.restoreAdvice)"
        }
    }
}

extension Reasoner {
    public static let weightsFileName = "model.safetensors"
    public static let configFileName = "config.json"
    public static let modelCardFileName = "MODEL_CARD.md"

    /// A very small model with random weights (`ReasonerConfig.tiny`), quick to create in tests.
    public static func makeTiny(seed: UInt64 = 1) -> Reasoner {
        let r = Reasoner(config: .tiny)
        r.initialize(seed: seed)
        return r
    }

    /// A tiny model whose every weight is random, so that each part of it (the adaLN gates that
    /// DiT starts at zero, the output head) carries a gradient: the smallest model on which
    /// test-time adaptation can move a video. For tests; quick in a debug build.
    public static func makeTinyRandom(seed: UInt64 = 3) -> Reasoner {
        let r = makeTiny(seed: seed)
        var rng = SplitMix64(seed: seed &+ 100)
        for e in r.store.entries where e.shape.count == 2 {
            let p = r.store.value(e.name)
            if (0..<e.count).allSatisfy({ p[$0] == 0 }) {
                for i in 0..<e.count { p[i] = rng.normal() * 0.05 }
            }
        }
        return r
    }

    /// The largest `config.json` read (the shipped one is 300 bytes).
    public static let configSizeLimit = 64 * 1024
    /// The largest magnitude a weight may have. A trained Reasoner's weights stay near 1 (the
    /// shipped model's largest is 1.07); anything beyond this, like a NaN or an infinity, is a
    /// damaged file, and refused at load rather than left to poison every video.
    public static let maxWeightMagnitude: Float = 10_000

    /// Loads a checkpoint folder (`model.safetensors` + `config.json`), e.g. `models/reasoner`.
    ///
    /// Everything a damaged or hostile folder could use to crash, hang or exhaust memory is
    /// checked before it can: the config's values against `ReasonerConfig.Limits` before any size
    /// is computed from them; both files as regular files opened without blocking; the weights'
    /// element count against the config's before the model is allocated; every weight finite and
    /// at most `maxWeightMagnitude`. Each failure names the file and what to do.
    public static func load(from folder: String) throws -> Reasoner {
        let configPath = folder + "/" + configFileName, weightsPath = folder + "/" + weightsFileName
        for p in [configPath, weightsPath] where isMissing(p) { throw ReasonerError.missingFile(p) }
        let config = try readConfig(configPath)
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: weightsPath) } catch {
            // A file that cannot be opened is named by the error itself, and needs other
            // permissions (a failed call: "cannot be opened: ...") rather than another copy.
            if case let .cannotOpen(_, reason) = error {
                throw ReasonerError.file(reason.hasPrefix("cannot be") ? "\(error)" : "\(error); \(restoreAdvice)")
            }
            throw ReasonerError.file("\(weightsPath): \(error); \(restoreAdvice)")
        }
        let stored = file.tensors.reduce(0) { $0 + $1.elementCount }
        if let expected = config.parameterCount, stored != expected {
            throw ReasonerError.file("\(weightsPath) holds \(stored) values but \(configFileName) describes a model of \(expected) parameters: the two files do not belong together; \(restoreAdvice)")
        }
        let r = Reasoner(config: config)
        try r.loadWeights(file, path: weightsPath)
        return r
    }

    /// True when nothing is at `path` (a link is followed; a dangling one counts as missing).
    static func isMissing(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) != 0 && errno == ENOENT
    }

    static let restoreAdvice = "restore the model folder from a good copy, or train one with `tutor train --out DIR`"

    /// Reads and checks `config.json`: a small regular file holding one JSON object whose every
    /// value is in range.
    static func readConfig(_ path: String) throws -> ReasonerConfig {
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(path, limit: configSizeLimit) } catch {
            // A file this user may not read needs other permissions, not another copy.
            throw ReasonerError.badConfig(path: path, reason: error.code != 0 ? error.reason : "\(error.reason); \(restoreAdvice)")
        }
        do { return try ReasonerConfig.parse(bytes) } catch {
            throw ReasonerError.badConfig(path: path, reason: "\(error.reason); \(restoreAdvice)")
        }
    }

    /// Reads every parameter from a safetensors file; names and shapes must match exactly.
    public func loadWeights(_ path: String) throws {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw ReasonerError.file("\(path): \(error)") }
        try loadWeights(file, path: path)
    }

    /// Reads every parameter from an opened safetensors file: names and shapes must match
    /// exactly, and every value must be finite and at most `maxWeightMagnitude`.
    func loadWeights(_ file: SafetensorsFile, path: String) throws {
        for e in store.entries {
            guard let info = file.info(e.name) else { throw ReasonerError.missingTensor(path: path, name: e.name) }
            guard info.shape == e.shape else {
                throw ReasonerError.shapeMismatch(path: path, name: e.name, expected: e.shape, found: info.shape)
            }
            do {
                let v = try file.floats(e.name)
                if let i = v.firstIndex(where: { !(abs($0) <= Self.maxWeightMagnitude) }) {
                    throw ReasonerError.damagedTensor(path: path, name: e.name, index: i, value: v[i])
                }
                v.withUnsafeBufferPointer { store.value(e.name).update(from: $0.baseAddress!, count: e.count) }
            } catch let error as SafetensorsError { throw ReasonerError.file("\(path): \(error)") }
        }
        for name in file.names where store.index(of: name) == nil {
            throw ReasonerError.unexpectedTensor(path: path, name: name)
        }
    }

    /// The parameter table as safetensors tensors, in table order.
    public func tensors() -> [SafetensorsTensor] {
        store.entries.map { SafetensorsTensor(name: $0.name, shape: $0.shape, values: store.array($0.name)) }
    }

    /// Writes `model.safetensors` then `config.json` into `folder` (created if missing), each
    /// atomically, so a folder with a config always has matching weights.
    public func saveCheckpoint(to folder: String, metadata: [String: String] = [:]) throws {
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw ReasonerError.file("cannot create the folder \(folder): \(ErrorText.describe(error))")
        }
        var meta = metadata
        meta["format"] = "pt"
        meta["tutor_model"] = config.name
        do { try Safetensors.write(tensors(), metadata: meta, to: folder + "/" + Reasoner.weightsFileName) } catch {
            throw ReasonerError.file("\(folder)/\(Reasoner.weightsFileName): \(error)")
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.write(Array(try enc.encode(config)) + [0x0A], to: folder + "/" + Reasoner.configFileName)
    }
}
