import Basics
import Engine
import Foundation
import ModelFiles

/// What can go wrong loading or saving a Reasoner checkpoint. Messages say what to fix.
public enum ReasonerError: Error, CustomStringConvertible {
    case missingFile(String)
    case badConfig(path: String, reason: String)
    case missingTensor(path: String, name: String)
    case unexpectedTensor(path: String, name: String)
    case shapeMismatch(path: String, name: String, expected: [Int], found: [Int])
    case file(String)
    case adapterMismatch(String)

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

    /// Loads a checkpoint folder (`model.safetensors` + `config.json`), e.g. `models/reasoner`.
    public static func load(from folder: String) throws -> Reasoner {
        let configPath = folder + "/" + configFileName, weightsPath = folder + "/" + weightsFileName
        guard FileManager.default.fileExists(atPath: configPath) else { throw ReasonerError.missingFile(configPath) }
        guard FileManager.default.fileExists(atPath: weightsPath) else { throw ReasonerError.missingFile(weightsPath) }
        let config: ReasonerConfig
        do {
            config = try JSONDecoder().decode(ReasonerConfig.self, from: Data(contentsOf: URL(fileURLWithPath: configPath)))
        } catch let DecodingError.dataCorrupted(ctx) {
            throw ReasonerError.badConfig(path: configPath, reason: ctx.debugDescription)
        } catch let DecodingError.keyNotFound(key, _) {
            throw ReasonerError.badConfig(path: configPath, reason: "missing \"\(key.stringValue)\"")
        } catch {
            throw ReasonerError.badConfig(path: configPath, reason: "\(error)")
        }
        let r = Reasoner(config: config)
        try r.loadWeights(weightsPath)
        return r
    }

    /// Reads every parameter from a safetensors file; names and shapes must match exactly.
    public func loadWeights(_ path: String) throws {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: path) } catch { throw ReasonerError.file("\(path): \(error)") }
        for e in store.entries {
            guard let info = file.info(e.name) else { throw ReasonerError.missingTensor(path: path, name: e.name) }
            guard info.shape == e.shape else {
                throw ReasonerError.shapeMismatch(path: path, name: e.name, expected: e.shape, found: info.shape)
            }
            do {
                let v = try file.floats(e.name)
                v.withUnsafeBufferPointer { store.value(e.name).update(from: $0.baseAddress!, count: e.count) }
            } catch { throw ReasonerError.file("\(path): \(error)") }
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
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
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
