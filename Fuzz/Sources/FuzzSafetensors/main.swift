import FuzzSupport
import ModelFiles

// The model and adapter weights' reader: the whole file in memory, validated the way a
// memory-mapped model file is, then every tensor read. Validation promises that each tensor
// lies inside the data section, so reading all of them must never fault.
fuzz { bytes in
    guard let file = try? SafetensorsFile(bytes: bytes) else { return }
    for t in file.tensors {
        precondition(file.info(t.name) == t, "a tensor cannot be found by its name")
        if t.dtype.isReadableAsFloat {
            let values = try? file.floats(t.name)
            precondition(values?.count == t.elementCount, "a tensor read back with the wrong count")
        }
        let n = try? file.withRawBytes(t.name) { $0.count }
        precondition(n == t.dataOffsets.count, "a tensor's raw bytes have the wrong length")
    }
}
