import System
import Foundation

/// A LoRA adapter in Hugging Face PEFT's folder layout, so that PEFT (and anything
/// that reads PEFT adapters) can load what tutor adapts, and tutor can load theirs.
///
/// The folder holds
/// - `adapter_model.safetensors`: for each adapted module `<m>`, the keys
///   `base_model.model.<m>.lora_A.weight` `[r, in]` and `base_model.model.<m>.lora_B.weight` `[out, r]`;
/// - `adapter_config.json`: PEFT's `LoraConfig` (`peft_type` "LORA", `r`, `lora_alpha`,
///   `target_modules`, `base_model_name_or_path`, ...).
///
/// The adapted layer computes `y = W x + (lora_alpha / r) * B (A x)`.
///
/// Checked by hand against PEFT 0.21.2 (torch 2.13 CPU): `LoraConfig.from_pretrained` and
/// `PeftModel.from_pretrained` load a folder written here without warnings, with the
/// weights bit-identical and the forward pass equal to the formula above; the tests load
/// a folder PEFT saved (Tests/Fixtures/peft-adapter).
public struct PEFTAdapter: Sendable, Equatable {
    public static let weightsFileName = "adapter_model.safetensors"
    public static let configFileName = "adapter_config.json"

    /// One adapted linear layer.
    public struct Layer: Sendable, Equatable {
        /// The module's path inside the base model, e.g. `blocks.0.attn.qkv`.
        public var module: String
        public var rank: Int
        public var inFeatures: Int
        public var outFeatures: Int
        /// `[rank, inFeatures]`, row-major.
        public var a: [Float]
        /// `[outFeatures, rank]`, row-major.
        public var b: [Float]

        public init(module: String, rank: Int, inFeatures: Int, outFeatures: Int, a: [Float], b: [Float]) {
            self.module = module
            self.rank = rank
            self.inFeatures = inFeatures
            self.outFeatures = outFeatures
            self.a = a
            self.b = b
        }

        public var keyA: String { "base_model.model.\(module).lora_A.weight" }
        public var keyB: String { "base_model.model.\(module).lora_B.weight" }
    }

    public var config: LoRAConfig
    /// In the order they are written; sorted by module when loaded.
    public var layers: [Layer]

    public init(config: LoRAConfig, layers: [Layer]) {
        self.config = config
        self.layers = layers
    }

    public func layer(_ module: String) -> Layer? { layers.first { $0.module == module } }

    /// Checks that every layer's shapes agree with its values and with `config.r`.
    public func validate() throws(PEFTAdapterError) {
        var seen = Set<String>()
        for l in layers {
            if !seen.insert(l.module).inserted { throw .inconsistent("module \"\(l.module)\" appears twice") }
            if l.rank != config.r { throw .inconsistent("module \"\(l.module)\" has rank \(l.rank) but the config says r = \(config.r)") }
            if l.rank <= 0 || l.inFeatures <= 0 || l.outFeatures <= 0 {
                throw .inconsistent("module \"\(l.module)\" has rank \(l.rank), in \(l.inFeatures), out \(l.outFeatures); all must be positive")
            }
            if l.a.count != l.rank * l.inFeatures {
                throw .inconsistent("module \"\(l.module)\": lora_A has \(l.a.count) values, expected [\(l.rank), \(l.inFeatures)]")
            }
            if l.b.count != l.outFeatures * l.rank {
                throw .inconsistent("module \"\(l.module)\": lora_B has \(l.b.count) values, expected [\(l.outFeatures), \(l.rank)]")
            }
        }
    }

    /// Writes the adapter into `folder` (created if missing). Each file is written
    /// atomically; the weights go first and the config last, so a folder with a
    /// config always has its weights.
    ///
    /// - Parameter dtype: F32 (exact; the default) or F16.
    public func save(to folder: String, dtype: SafetensorsDType = .f32,
                     metadata: [String: String] = ["format": "pt"]) throws(PEFTAdapterError) {
        try validate()
        var tensors: [SafetensorsTensor] = []
        for l in layers {
            tensors.append(SafetensorsTensor(name: l.keyA, shape: [l.rank, l.inFeatures], values: l.a, dtype: dtype))
            tensors.append(SafetensorsTensor(name: l.keyB, shape: [l.outFeatures, l.rank], values: l.b, dtype: dtype))
        }
        let configJSON: [UInt8]
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            configJSON = Array(try encoder.encode(config)) + [0x0A]
        } catch {
            throw .config("could not encode the config: \(error)")
        }
        do {
            try makeFolder(folder)
            try Safetensors.write(tensors, metadata: metadata, to: folder + "/" + PEFTAdapter.weightsFileName)
            try AtomicFileWriter.write(configJSON, to: folder + "/" + PEFTAdapter.configFileName)
        } catch {
            throw .file(error)
        }
    }

    /// Loads an adapter folder written by tutor or by PEFT (`save_pretrained`).
    public static func load(from folder: String) throws(PEFTAdapterError) -> PEFTAdapter {
        let configPath = folder + "/" + configFileName
        let config: LoRAConfig
        do {
            let data = Data(try RegularFile.read(configPath, limit: 1 << 20))
            config = try JSONDecoder().decode(LoRAConfig.self, from: data)
        } catch let e as RegularFile.Problem {
            throw .config(e.description)
        } catch let e as LoRAConfig.Invalid {
            throw .config("\(configPath): \(e.reason)")
        } catch let e as DecodingError {
            throw .config("\(configPath): \(describe(e))")
        } catch {
            throw .config("cannot read \(configPath): \(ErrorText.describe(error))")
        }
        let file: SafetensorsFile
        do { file = try SafetensorsFile(path: folder + "/" + weightsFileName) } catch { throw .file(error) }

        // Group keys by module: base_model.model.<module>.lora_{A,B}.weight
        let prefix = "base_model.model.", suffixA = ".lora_A.weight", suffixB = ".lora_B.weight"
        var aInfo: [String: TensorInfo] = [:], bInfo: [String: TensorInfo] = [:]
        for t in file.tensors {
            guard t.name.hasPrefix(prefix) else { throw .unexpectedKey(t.name) }
            let rest = t.name.dropFirst(prefix.count)
            if rest.hasSuffix(suffixA) { aInfo[String(rest.dropLast(suffixA.count))] = t }
            else if rest.hasSuffix(suffixB) { bInfo[String(rest.dropLast(suffixB.count))] = t }
            else { throw .unexpectedKey(t.name) }
        }
        var layers: [Layer] = []
        for module in Set(aInfo.keys).union(bInfo.keys).sorted() {
            guard let a = aInfo[module] else { throw .missingKey(prefix + module + suffixA) }
            guard let b = bInfo[module] else { throw .missingKey(prefix + module + suffixB) }
            guard a.shape.count == 2, b.shape.count == 2, a.shape[0] == b.shape[1] else {
                throw .inconsistent("module \"\(module)\": lora_A is \(a.shape) and lora_B is \(b.shape); expected [r, in] and [out, r]")
            }
            do {
                layers.append(Layer(module: module, rank: a.shape[0], inFeatures: a.shape[1], outFeatures: b.shape[0],
                                    a: try file.floats(a.name), b: try file.floats(b.name)))
            } catch {
                throw .file(error)
            }
        }
        let adapter = PEFTAdapter(config: config, layers: layers)
        try adapter.validate()
        return adapter
    }

    private static func describe(_ e: DecodingError) -> String {
        switch e {
        case let .keyNotFound(key, _): return "missing \"\(key.stringValue)\""
        case let .typeMismatch(_, ctx), let .valueNotFound(_, ctx):
            return "\"\(ctx.codingPath.map(\.stringValue).joined(separator: "."))\": \(ctx.debugDescription)"
        case let .dataCorrupted(ctx): return "not valid JSON (\(ctx.underlyingError.map { "\($0)" } ?? ctx.debugDescription))"
        @unknown default: return "\(e)"
        }
    }
}

/// What can go wrong saving or loading a PEFT adapter folder.
public enum PEFTAdapterError: Error, CustomStringConvertible {
    case config(String)
    case file(SafetensorsError)
    case unexpectedKey(String)
    case missingKey(String)
    case inconsistent(String)

    public var description: String {
        switch self {
        case .config(let m): return "adapter config: \(m)"
        case .file(let e): return "adapter weights: \(e)"
        case .unexpectedKey(let k):
            return "adapter weights: unexpected key \"\(k)\"; expected base_model.model.<module>.lora_A.weight / lora_B.weight"
        case .missingKey(let k): return "adapter weights: missing \"\(k)\""
        case .inconsistent(let m): return "adapter: \(m)"
        }
    }
}

/// The fields of PEFT's `LoraConfig` that describe a plain LoRA adapter. tutor writes
/// every field PEFT needs to rebuild the config; fields PEFT adds that tutor does not
/// model are ignored when loading.
public struct LoRAConfig: Codable, Sendable, Equatable {
    /// The rank.
    public var r: Int
    /// Scale numerator: the update is `(loraAlpha / r) * B A`.
    public var loraAlpha: Double
    /// Module names (or suffixes) the adapter applies to.
    public var targetModules: [String]
    public var baseModelNameOrPath: String?
    public var loraDropout: Double
    public var peftVersion: String?

    public init(r: Int, loraAlpha: Double, targetModules: [String], baseModelNameOrPath: String?,
                loraDropout: Double = 0, peftVersion: String? = nil) {
        self.r = r
        self.loraAlpha = loraAlpha
        self.targetModules = targetModules
        self.baseModelNameOrPath = baseModelNameOrPath
        self.loraDropout = loraDropout
        self.peftVersion = peftVersion
    }

    /// `loraAlpha / r`, the factor applied to `B A`.
    public var scale: Float { Float(loraAlpha / Double(r)) }

    struct Invalid: Error { let reason: String }

    enum CodingKeys: String, CodingKey {
        case peftType = "peft_type", taskType = "task_type", r, loraAlpha = "lora_alpha"
        case loraDropout = "lora_dropout", targetModules = "target_modules"
        case baseModelNameOrPath = "base_model_name_or_path", bias, fanInFanOut = "fan_in_fan_out"
        case inferenceMode = "inference_mode", initLoraWeights = "init_lora_weights"
        case modulesToSave = "modules_to_save", revision, useRslora = "use_rslora", useDora = "use_dora"
        case layersToTransform = "layers_to_transform", layersPattern = "layers_pattern"
        case rankPattern = "rank_pattern", alphaPattern = "alpha_pattern", peftVersion = "peft_version"
        case loraBias = "lora_bias"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = try c.decode(String.self, forKey: .peftType)
        guard type == "LORA" else { throw Invalid(reason: "peft_type is \"\(type)\"; only LORA adapters are supported") }
        r = try c.decode(Int.self, forKey: .r)
        guard r > 0 else { throw Invalid(reason: "r is \(r); it must be positive") }
        loraAlpha = try c.decode(Double.self, forKey: .loraAlpha)
        loraDropout = try c.decodeIfPresent(Double.self, forKey: .loraDropout) ?? 0
        // PEFT allows one regular expression as a string, or a list of names.
        if let list = try? c.decode([String].self, forKey: .targetModules) {
            targetModules = list
        } else if let one = try c.decodeIfPresent(String.self, forKey: .targetModules) {
            targetModules = [one]
        } else {
            targetModules = []
        }
        baseModelNameOrPath = try c.decodeIfPresent(String.self, forKey: .baseModelNameOrPath)
        peftVersion = try c.decodeIfPresent(String.self, forKey: .peftVersion)
        // Variants tutor does not implement would change the arithmetic: refuse them.
        if try c.decodeIfPresent(Bool.self, forKey: .useDora) == true { throw Invalid(reason: "use_dora is true; DoRA adapters are not supported") }
        if try c.decodeIfPresent(Bool.self, forKey: .useRslora) == true { throw Invalid(reason: "use_rslora is true; rsLoRA scaling is not supported") }
        if try c.decodeIfPresent(Bool.self, forKey: .fanInFanOut) == true { throw Invalid(reason: "fan_in_fan_out is true; weights must be [out, in]") }
        if try c.decodeIfPresent(Bool.self, forKey: .loraBias) == true { throw Invalid(reason: "lora_bias is true; LoRA biases are not supported") }
        if let bias = try c.decodeIfPresent(String.self, forKey: .bias), bias != "none" {
            throw Invalid(reason: "bias is \"\(bias)\"; only \"none\" is supported")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("LORA", forKey: .peftType)
        try c.encodeNil(forKey: .taskType)
        try c.encode(r, forKey: .r)
        // PEFT declares lora_alpha an int; write whole values without a fraction.
        if loraAlpha == loraAlpha.rounded(), abs(loraAlpha) < 1e15 { try c.encode(Int(loraAlpha), forKey: .loraAlpha) }
        else { try c.encode(loraAlpha, forKey: .loraAlpha) }
        try c.encode(loraDropout, forKey: .loraDropout)
        try c.encode(targetModules, forKey: .targetModules)
        if let baseModelNameOrPath { try c.encode(baseModelNameOrPath, forKey: .baseModelNameOrPath) }
        else { try c.encodeNil(forKey: .baseModelNameOrPath) }
        try c.encode("none", forKey: .bias)
        try c.encode(false, forKey: .fanInFanOut)
        try c.encode(true, forKey: .inferenceMode)
        try c.encode(true, forKey: .initLoraWeights)
        try c.encodeNil(forKey: .modulesToSave)
        try c.encodeNil(forKey: .revision)
        try c.encode(false, forKey: .useRslora)
        try c.encode(false, forKey: .useDora)
        try c.encodeNil(forKey: .layersToTransform)
        try c.encodeNil(forKey: .layersPattern)
        try c.encode([String: Int](), forKey: .rankPattern)
        try c.encode([String: Double](), forKey: .alphaPattern)
        if let peftVersion { try c.encode(peftVersion, forKey: .peftVersion) }
    }
}
