import Basics
#if _endian(big)
#error("safetensors is little-endian; tutor reads and writes it in the host's byte order")
#endif

/// A named float tensor to write to a safetensors file.
public struct SafetensorsTensor: Sendable, Equatable {
    public var name: String
    /// Dimensions, outermost first; `values.count` must equal their product.
    public var shape: [Int]
    /// `[product(shape)]`, row-major.
    public var values: [Float]
    /// How the values are stored: F32 (exact), F16 or BF16 (rounded to nearest even).
    public var dtype: SafetensorsDType

    public init(name: String, shape: [Int], values: [Float], dtype: SafetensorsDType = .f32) {
        self.name = name
        self.shape = shape
        self.values = values
        self.dtype = dtype
    }
}

/// Writing safetensors files. Reading is `SafetensorsFile`.
public enum Safetensors {
    /// Encodes tensors, in the order given, as a complete safetensors file.
    ///
    /// The header is padded with spaces to a multiple of 8 bytes, as the reference
    /// writer does, so the data section stays aligned for memory-mapped readers.
    public static func serialize(_ tensors: [SafetensorsTensor], metadata: [String: String] = [:]) throws(SafetensorsError) -> [UInt8] {
        var out = try header(tensors, metadata: metadata)
        for t in tensors { appendData(t, to: &out) }
        return out
    }

    /// Writes tensors to `path` atomically (temporary name, fsync, rename, fsync the folder).
    /// F32 values go to the file straight from the caller's arrays, without a copy.
    public static func write(_ tensors: [SafetensorsTensor], metadata: [String: String] = [:], to path: String) throws(SafetensorsError) {
        let head = try header(tensors, metadata: metadata)
        var file = try AtomicFileWriter(path: path)
        do {
            try file.write(head)
            for t in tensors {
                let r: Result<Void, SafetensorsError> = withData(t) { raw in
                    do throws(SafetensorsError) { try file.write(raw); return .success(()) } catch { return .failure(error) }
                }
                try r.get()
            }
            try file.commit()
        } catch {
            file.discard()
            throw error
        }
    }

    /// Reads every float tensor of the file at `path`, by name, with the metadata.
    public static func read(path: String) throws(SafetensorsError) -> (tensors: [String: [Float]], metadata: [String: String]) {
        let file = try SafetensorsFile(path: path)
        return (try file.allFloats(), file.metadata)
    }

    /// The 8-byte length and the padded JSON header.
    static func header(_ tensors: [SafetensorsTensor], metadata: [String: String]) throws(SafetensorsError) -> [UInt8] {
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += JSONValue.quoted("__metadata__") + ":{"
            json += metadata.keys.sorted().map { JSONValue.quoted($0) + ":" + JSONValue.quoted(metadata[$0]!) }.joined(separator: ",")
            json += "}"
            first = false
        }
        var seen = Set<String>()
        var offset = 0
        for t in tensors {
            guard t.dtype == .f32 || t.dtype == .f16 || t.dtype == .bf16 else {
                throw .invalidTensor(name: t.name, reason: "only F32, F16 and BF16 can be written, not \(t.dtype.rawValue)")
            }
            if t.name == "__metadata__" { throw .invalidTensor(name: t.name, reason: "the name is reserved for metadata") }
            if !seen.insert(t.name).inserted { throw .invalidTensor(name: t.name, reason: "the name is given twice") }
            if t.shape.contains(where: { $0 < 0 }) { throw .invalidTensor(name: t.name, reason: "negative dimension in shape \(t.shape)") }
            let count = t.shape.reduce(1, *)
            if count != t.values.count {
                throw .invalidTensor(name: t.name, reason: "shape \(t.shape) holds \(count) values but \(t.values.count) were given")
            }
            let bytes = count * t.dtype.size
            if !first { json += "," }
            first = false
            json += JSONValue.quoted(t.name) + ":{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],"
            json += "\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offset += bytes
        }
        json += "}"
        var headerBytes = Array(json.utf8)
        while (headerBytes.count % 8) != 0 { headerBytes.append(UInt8(ascii: " ")) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        return out
    }

    /// Appends the tensor's values, little-endian, in its dtype.
    static func appendData(_ t: SafetensorsTensor, to out: inout [UInt8]) {
        withData(t) { out.append(contentsOf: $0) }
    }

    /// Calls `body` with the tensor's values encoded in its dtype, little-endian
    /// (the host's order: tutor runs on little-endian machines only).
    static func withData<R>(_ t: SafetensorsTensor, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch t.dtype {
        case .f32:
            return t.values.withUnsafeBytes(body)
        case .f16:
            return t.values.map { HalfBits.f16($0) }.withUnsafeBytes(body)
        case .bf16:
            return t.values.map { HalfBits.bf16($0) }.withUnsafeBytes(body)
        default:
            fatalError("unreachable: header() admits only F32, F16 and BF16")
        }
    }
}
