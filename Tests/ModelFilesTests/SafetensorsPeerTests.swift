import XCTest
@testable import ModelFiles

/// tutor's safetensors against Python's `safetensors` package, the reference implementation.
final class SafetensorsPeerTests: XCTestCase {
    func testPythonReadsWhatTutorWrites() throws {
        try Python.requireSafetensors()
        let dir = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.path + "/tutor.safetensors"
        let a = (0..<24).map { Float($0) * 0.37 - 4 }
        let h: [Float] = [0.5, -1.25, 1000, 0.1, 3.3, 65504]
        try Safetensors.write([
            SafetensorsTensor(name: "layer.0.weight", shape: [2, 3, 4], values: a),
            SafetensorsTensor(name: "layer.0.half", shape: [3, 2], values: h, dtype: .f16),
            SafetensorsTensor(name: "ünïcode name", shape: [1], values: [7]),
        ], metadata: ["format": "pt", "by": "tutor"], to: path)

        let script = """
        import json, sys
        from safetensors import safe_open
        from safetensors.numpy import load_file
        t = load_file(sys.argv[1])
        with safe_open(sys.argv[1], framework="np") as f:
            meta = f.metadata()
        print(json.dumps({"meta": meta, "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape),
              "values": [float(x) for x in v.reshape(-1)]} for k, v in t.items()}}))
        """
        let out = try XCTUnwrap(try Python.json(script, arguments: [path]) as? [String: Any])
        XCTAssertEqual(out["meta"] as? [String: String], ["format": "pt", "by": "tutor"])
        let tensors = try XCTUnwrap(out["tensors"] as? [String: [String: Any]])
        XCTAssertEqual(Set(tensors.keys), ["layer.0.weight", "layer.0.half", "ünïcode name"])
        XCTAssertEqual(tensors["layer.0.weight"]?["dtype"] as? String, "float32")
        XCTAssertEqual(tensors["layer.0.weight"]?["shape"] as? [Int], [2, 3, 4])
        XCTAssertEqual((tensors["layer.0.weight"]?["values"] as? [Double])?.map { Float($0) }, a)
        XCTAssertEqual(tensors["layer.0.half"]?["dtype"] as? String, "float16")
        XCTAssertEqual(tensors["layer.0.half"]?["shape"] as? [Int], [3, 2])
        XCTAssertEqual((tensors["layer.0.half"]?["values"] as? [Double])?.map { Float($0) },
                       h.map { Float(Float16($0)) }, "Python sees the same F16 values tutor reads back")
        XCTAssertEqual((tensors["ünïcode name"]?["values"] as? [Double]), [7])
    }

    func testTutorReadsWhatPythonWrites() throws {
        try Python.requireSafetensors()
        let dir = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // F32 and F16 through safetensors.numpy.save_file; BF16 through the reference
        // serializer with raw bytes (numpy has no bfloat16): the top halves of float32.
        let script = """
        import sys, json
        import numpy as np
        import safetensors
        from safetensors.numpy import save_file
        rng = np.random.default_rng(3)
        f32 = rng.standard_normal((4, 5)).astype(np.float32)
        f16 = rng.standard_normal((3, 7)).astype(np.float16)
        save_file({"f32": f32, "f16": f16}, sys.argv[1] + "/np.safetensors", metadata={"format": "np"})
        bf = np.ascontiguousarray((rng.standard_normal((2, 6)).astype(np.float32).view(np.uint32) >> 16).astype(np.uint16))
        if hasattr(safetensors, "TensorSpec"):
            spec = safetensors.TensorSpec(dtype="bfloat16", shape=[2, 6], data_ptr=bf.ctypes.data, data_len=bf.nbytes)
            safetensors.serialize_file({"bf16": spec}, sys.argv[1] + "/bf.safetensors", metadata=None)
        else:
            safetensors.serialize_file({"bf16": {"dtype": "bfloat16", "shape": [2, 6], "data": bf.tobytes()}},
                                       sys.argv[1] + "/bf.safetensors", metadata=None)
        bf32 = (bf.astype(np.uint32) << 16).view(np.float32)
        print(json.dumps({"f32": [float(x) for x in f32.reshape(-1)], "f16": [float(x) for x in f16.reshape(-1)],
                          "bf16": [float(x) for x in bf32.reshape(-1)]}))
        """
        let expected = try XCTUnwrap(try Python.json(script, arguments: [dir.path]) as? [String: [Double]])
        let np = try SafetensorsFile(path: dir.path + "/np.safetensors")
        XCTAssertEqual(np.metadata, ["format": "np"])
        XCTAssertEqual(np.info("f32")?.dtype, .f32)
        XCTAssertEqual(np.info("f32")?.shape, [4, 5])
        XCTAssertEqual(np.info("f16")?.dtype, .f16)
        XCTAssertEqual(np.info("f16")?.shape, [3, 7])
        XCTAssertEqual(try np.floats("f32"), expected["f32"]?.map { Float($0) })
        XCTAssertEqual(try np.floats("f16"), expected["f16"]?.map { Float($0) })
        let bf = try SafetensorsFile(path: dir.path + "/bf.safetensors")
        XCTAssertEqual(bf.info("bf16")?.dtype, .bf16)
        XCTAssertEqual(bf.info("bf16")?.shape, [2, 6])
        XCTAssertEqual(try bf.floats("bf16"), expected["bf16"]?.map { Float($0) })
    }

    /// The files tutor refuses are refused by the reference implementation too
    /// (except a duplicate name, which its JSON map silently collapses).
    func testReferenceRefusesTheSameBadFiles() throws {
        try Python.requireSafetensors()
        let dir = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        var beyond = craft("{}", data: []); beyond[0] = 200
        let bad: [String: [UInt8]] = [
            "beyond": beyond,
            "json": craft(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0]),
            "overlap": craft(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                             data: [UInt8](repeating: 0, count: 8)),
            "gap": craft(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                         data: [UInt8](repeating: 0, count: 12)),
            "size": craft(#"{"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,24]}}"#, data: [UInt8](repeating: 0, count: 24)),
            "length": craft(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0, 9]),
        ]
        for (name, bytes) in bad {
            try Data(bytes).write(to: dir.appendingPathComponent(name))
            XCTAssertThrowsError(try SafetensorsFile(bytes: bytes), name)
        }
        let script = """
        import sys, os, json
        from safetensors import deserialize
        out = {}
        for name in sorted(os.listdir(sys.argv[1])):
            try:
                deserialize(open(os.path.join(sys.argv[1], name), "rb").read()); out[name] = "accepted"
            except Exception as e:
                out[name] = "refused"
        print(json.dumps(out))
        """
        let verdicts = try XCTUnwrap(try Python.json(script, arguments: [dir.path]) as? [String: String])
        XCTAssertEqual(verdicts, Dictionary(uniqueKeysWithValues: bad.keys.map { ($0, "refused") }))
    }
}
