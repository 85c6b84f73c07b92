import XCTest
@testable import ModelFiles

final class PEFTAdapterTests: XCTestCase {
    /// Two adapted modules with awkward values (negative zero, subnormal, large).
    func sampleAdapter(rank: Int = 4) -> PEFTAdapter {
        func values(_ n: Int, _ seed: Float) -> [Float] { (0..<n).map { sin(Float($0) * 0.7 + seed) * 0.01 } }
        var a0 = values(rank * 8, 1), b1 = values(6 * rank, 2)
        a0[0] = -0.0; a0[1] = Float.leastNonzeroMagnitude; b1[0] = 1e30
        return PEFTAdapter(
            config: LoRAConfig(r: rank, loraAlpha: 16, targetModules: ["attn.qkv", "mlp.fc1"], baseModelNameOrPath: "tutor-reasoner-v1"),
            layers: [
                .init(module: "blocks.0.attn.qkv", rank: rank, inFeatures: 8, outFeatures: 24, a: a0, b: [Float](repeating: 0, count: 24 * rank)),
                .init(module: "blocks.1.mlp.fc1", rank: rank, inFeatures: 5, outFeatures: 6, a: values(rank * 5, 3), b: b1),
            ])
    }

    func testSaveThenLoadIsBitIdentical() throws {
        let dir = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = dir.path + "/adapter"
        let adapter = sampleAdapter()
        try adapter.save(to: folder)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: folder)),
                       ["adapter_model.safetensors", "adapter_config.json"], "no temporary files left")
        let loaded = try PEFTAdapter.load(from: folder)
        XCTAssertEqual(loaded.config, adapter.config)
        XCTAssertEqual(loaded.layers.map(\.module), ["blocks.0.attn.qkv", "blocks.1.mlp.fc1"])
        for (x, y) in zip(loaded.layers, adapter.layers) {
            XCTAssertEqual(x.a.map(\.bitPattern), y.a.map(\.bitPattern), x.module)
            XCTAssertEqual(x.b.map(\.bitPattern), y.b.map(\.bitPattern), x.module)
            XCTAssertEqual([x.rank, x.inFeatures, x.outFeatures], [y.rank, y.inFeatures, y.outFeatures])
        }
        XCTAssertEqual(loaded.config.scale, 4)
        // Saving what was loaded writes the same bytes.
        let again = dir.path + "/again"
        try loaded.save(to: again)
        for name in [PEFTAdapter.weightsFileName, PEFTAdapter.configFileName] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)),
                           try Data(contentsOf: URL(fileURLWithPath: again + "/" + name)), name)
        }
        // Overwriting an existing adapter replaces it.
        var changed = adapter
        changed.layers[0].b[0] = 5
        try changed.save(to: folder)
        XCTAssertEqual(try PEFTAdapter.load(from: folder).layers[0].b[0], 5)
    }

    func testKeysAndShapesFollowPEFT() throws {
        let dir = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try sampleAdapter().save(to: dir.path)
        let f = try SafetensorsFile(path: dir.path + "/adapter_model.safetensors")
        XCTAssertEqual(f.info("base_model.model.blocks.0.attn.qkv.lora_A.weight")?.shape, [4, 8])
        XCTAssertEqual(f.info("base_model.model.blocks.0.attn.qkv.lora_B.weight")?.shape, [24, 4])
        XCTAssertEqual(f.info("base_model.model.blocks.1.mlp.fc1.lora_A.weight")?.shape, [4, 5])
        XCTAssertEqual(f.info("base_model.model.blocks.1.mlp.fc1.lora_B.weight")?.shape, [6, 4])
        XCTAssertEqual(f.tensors.count, 4)
        XCTAssertEqual(f.metadata, ["format": "pt"])
    }

    func testRefusesInconsistentAdapters() throws {
        var bad = sampleAdapter()
        bad.layers[1].a.removeLast()
        XCTAssertThrowsError(try bad.save(to: "/nonexistent/never")) {
            XCTAssertEqual("\($0)", "adapter: module \"blocks.1.mlp.fc1\": lora_A has 19 values, expected [4, 5]")
        }
        let dir = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A lora_A without its lora_B.
        try Safetensors.write([SafetensorsTensor(name: "base_model.model.x.lora_A.weight", shape: [4, 2], values: [Float](repeating: 0, count: 8))],
                              to: dir.path + "/adapter_model.safetensors")
        try sampleAdapter().save(to: dir.path + "/good")
        try FileManager.default.copyItem(atPath: dir.path + "/good/adapter_config.json", toPath: dir.path + "/adapter_config.json")
        XCTAssertThrowsError(try PEFTAdapter.load(from: dir.path)) {
            XCTAssertEqual("\($0)", "adapter weights: missing \"base_model.model.x.lora_B.weight\"")
        }
        // A config for another kind of adapter.
        try Data(#"{"peft_type":"IA3","r":4,"lora_alpha":8}"#.utf8).write(to: dir.appendingPathComponent("adapter_config.json"))
        XCTAssertThrowsError(try PEFTAdapter.load(from: dir.path)) {
            XCTAssertTrue("\($0)".contains("peft_type is \"IA3\"; only LORA adapters are supported"), "\($0)")
        }
        try Data(#"{"peft_type":"LORA","lora_alpha":8}"#.utf8).write(to: dir.appendingPathComponent("adapter_config.json"))
        XCTAssertThrowsError(try PEFTAdapter.load(from: dir.path)) {
            XCTAssertTrue("\($0)".contains("missing \"r\""), "\($0)")
        }
    }

    /// An adapter saved by PEFT 0.21.2 itself (Tests/Fixtures/peft-adapter/README.md).
    func testLoadsAnAdapterSavedByPEFT() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/peft-adapter").path
        let adapter = try PEFTAdapter.load(from: folder)
        XCTAssertEqual(adapter.config, LoRAConfig(r: 4, loraAlpha: 8, targetModules: ["qkv", "fc1"], baseModelNameOrPath: nil,
                                                  loraDropout: 0, peftVersion: "0.21.2"))
        XCTAssertEqual(adapter.config.scale, 2)
        XCTAssertEqual(adapter.layers.map(\.module), ["blocks.0.attn.qkv", "blocks.1.mlp.fc1"])
        let qkv = try XCTUnwrap(adapter.layer("blocks.0.attn.qkv")), fc1 = try XCTUnwrap(adapter.layer("blocks.1.mlp.fc1"))
        XCTAssertEqual([qkv.rank, qkv.inFeatures, qkv.outFeatures], [4, 8, 24])
        XCTAssertEqual([fc1.rank, fc1.inFeatures, fc1.outFeatures], [4, 5, 6])
        // First and last values and absolute sums as PEFT's numpy printed them.
        XCTAssertEqual(qkv.a.first, -0.06790042668581009); XCTAssertEqual(qkv.a.last, 0.16942821443080902)
        XCTAssertEqual(qkv.b.first, 0.18786828219890594); XCTAssertEqual(qkv.b.last, 0.31946027278900146)
        XCTAssertEqual(fc1.a.first, -0.22180186212062836); XCTAssertEqual(fc1.b.last, 0.9924007058143616)
        func absSum(_ v: [Float]) -> Double { v.reduce(0) { $0 + Double(abs($1)) } }
        XCTAssertEqual(absSum(qkv.a), 5.465108122676611, accuracy: 1e-9)
        XCTAssertEqual(absSum(qkv.b), 68.17982270009816, accuracy: 1e-9)
        XCTAssertEqual(absSum(fc1.a), 4.911034755874425, accuracy: 1e-9)
        XCTAssertEqual(absSum(fc1.b), 21.294449374079704, accuracy: 1e-9)
    }

    func testPythonReadsTheAdapter() throws {
        try Python.requireSafetensors()
        let dir = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let adapter = sampleAdapter()
        try adapter.save(to: dir.path)
        let script = """
        import sys, json
        from safetensors.numpy import load_file
        t = load_file(sys.argv[1] + "/adapter_model.safetensors")
        cfg = json.load(open(sys.argv[1] + "/adapter_config.json"))
        print(json.dumps({"shapes": {k: list(v.shape) for k, v in t.items()},
                          "sum": float(sum(float(abs(v.astype("float64")).sum()) for v in t.values() if abs(v).max() < 1e20)),
                          "config": cfg}))
        """
        let out = try XCTUnwrap(try Python.json(script, arguments: [dir.path]) as? [String: Any])
        XCTAssertEqual(out["shapes"] as? [String: [Int]], [
            "base_model.model.blocks.0.attn.qkv.lora_A.weight": [4, 8],
            "base_model.model.blocks.0.attn.qkv.lora_B.weight": [24, 4],
            "base_model.model.blocks.1.mlp.fc1.lora_A.weight": [4, 5],
            "base_model.model.blocks.1.mlp.fc1.lora_B.weight": [6, 4],
        ])
        let config = try XCTUnwrap(out["config"] as? [String: Any])
        XCTAssertEqual(config["peft_type"] as? String, "LORA")
        XCTAssertEqual(config["r"] as? Int, 4)
        XCTAssertEqual(config["lora_alpha"] as? Int, 16)
        XCTAssertEqual(config["target_modules"] as? [String], ["attn.qkv", "mlp.fc1"])
        XCTAssertEqual(config["base_model_name_or_path"] as? String, "tutor-reasoner-v1")
        XCTAssertEqual(config["bias"] as? String, "none")
        XCTAssertEqual(config["lora_dropout"] as? Double, 0)
        XCTAssertEqual(config["use_dora"] as? Bool, false)
        XCTAssertEqual(config["fan_in_fan_out"] as? Bool, false)
        for key in ["task_type", "modules_to_save", "revision", "layers_to_transform", "layers_pattern"] {
            XCTAssertTrue(config[key] is NSNull, "\(key) is null")
        }
        XCTAssertEqual(config["rank_pattern"] as? [String: Int], [:])
        XCTAssertEqual(config["alpha_pattern"] as? [String: Double], [:])
    }
}
