import Basics

/// One tensor as described by a safetensors header.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Dimensions, outermost first (row-major); `[]` is a scalar.
    public let shape: [Int]
    /// Byte range inside the data section (after the header).
    public let dataOffsets: Range<Int>

    /// Product of `shape` (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file opened for reading: validated header, tensors read on demand.
///
/// Layout (https://github.com/huggingface/safetensors): an 8-byte little-endian header
/// length N, N bytes of UTF-8 JSON, then the data section. The JSON maps each tensor
/// name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the
/// data section) and may hold `"__metadata__"`, a map of strings.
///
/// `open` memory-maps the file, so the only copy made of a tensor is the conversion
/// to `[Float]` the caller asks for. Validation follows the reference implementation:
/// header at most 100 MB and inside the file, valid JSON, every entry complete, no
/// name twice, offsets (sorted by begin) contiguous from 0 without gaps or overlaps,
/// each tensor's byte size equal to its element count times its dtype size, and the
/// data section exactly as long as the last tensor's end.
public final class SafetensorsFile: @unchecked Sendable {
    // @unchecked: all stored properties are immutable after init.

    /// The reference implementation's limit on the header length.
    public static let maxHeaderLength: UInt64 = 100_000_000

    /// Every tensor, sorted by data offset.
    public let tensors: [TensorInfo]
    /// The header's `__metadata__` (empty when absent).
    public let metadata: [String: String]

    private let storage: ByteStorage
    /// Byte offset of the data section within the file: 8 + N.
    private let dataStart: Int
    private let index: [String: Int]

    /// Memory-maps and validates the file at `path`.
    public convenience init(path: String) throws(SafetensorsError) {
        try self.init(storage: ByteStorage(mapping: path))
    }

    /// Validates a whole safetensors file held in memory.
    public convenience init(bytes: [UInt8]) throws(SafetensorsError) {
        try self.init(storage: ByteStorage(bytes: bytes))
    }

    private init(storage: ByteStorage) throws(SafetensorsError) {
        self.storage = storage
        let header = try storage.withBytes { (raw) throws(SafetensorsError) -> ParsedHeader in
            try SafetensorsFile.parseHeader(raw)
        }
        tensors = header.tensors
        metadata = header.metadata
        dataStart = header.dataStart
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        self.index = index
    }

    /// Tensor names in data order.
    public var names: [String] { tensors.map(\.name) }

    public func info(_ name: String) -> TensorInfo? { index[name].map { tensors[$0] } }

    /// The tensor's values as Float, converted from F32, F16 or BF16; `[elementCount]`
    /// in the tensor's row-major order.
    public func floats(_ name: String) throws(SafetensorsError) -> [Float] {
        guard let t = info(name) else { throw .noSuchTensor(name) }
        guard t.dtype.isReadableAsFloat else { throw .notFloat(name: name, dtype: t.dtype.rawValue) }
        let n = t.elementCount
        let start = dataStart + t.dataOffsets.lowerBound
        return storage.withBytes { (raw: UnsafeRawBufferPointer) -> [Float] in
            let src = raw.baseAddress! + start
            return [Float](unsafeUninitializedCapacity: n) { out, filled in
                switch t.dtype {
                case .f32:
                    // The data section need not be 4-byte aligned; copy bytes (little-endian host).
                    if n > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: src, byteCount: n * 4) }
                case .f16:
                    for i in 0..<n { out[i] = HalfBits.float(f16: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                case .bf16:
                    for i in 0..<n { out[i] = HalfBits.float(bf16: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                default:
                    fatalError("unreachable: checked isReadableAsFloat")
                }
                filled = n
            }
        }
    }

    /// The tensor's values as Float, after checking its shape is exactly `shape`.
    public func floats(_ name: String, shape: [Int]) throws(SafetensorsError) -> [Float] {
        guard let t = info(name) else { throw .noSuchTensor(name) }
        guard t.shape == shape else { throw .shapeMismatch(name: name, expected: shape, found: t.shape) }
        return try floats(name)
    }

    /// Calls `body` with the tensor's raw little-endian bytes, straight from the file.
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let t = info(name) else { throw SafetensorsError.noSuchTensor(name) }
        return try storage.withBytes { (raw) throws -> R in
            try body(UnsafeRawBufferPointer(rebasing: raw[(dataStart + t.dataOffsets.lowerBound)..<(dataStart + t.dataOffsets.upperBound)]))
        }
    }

    /// Every float tensor by name (F32, F16 and BF16; other dtypes are skipped).
    public func allFloats() throws(SafetensorsError) -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for t in tensors where t.dtype.isReadableAsFloat { out[t.name] = try floats(t.name) }
        return out
    }

    // MARK: - Header validation

    private struct ParsedHeader {
        var tensors: [TensorInfo]
        var metadata: [String: String]
        var dataStart: Int
    }

    private static func parseHeader(_ raw: UnsafeRawBufferPointer) throws(SafetensorsError) -> ParsedHeader {
        if raw.count < 8 { throw .fileTooSmall(size: raw.count) }
        let n = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        if n > maxHeaderLength { throw .headerTooLarge(length: n) }
        if 8 + n > UInt64(raw.count) { throw .headerBeyondFile(length: n, fileSize: raw.count) }
        let headerBytes = UnsafeBufferPointer(rebasing: raw.bindMemory(to: UInt8.self)[8..<(8 + Int(n))])
        if !isValidUTF8(headerBytes) { throw .headerNotUTF8 }
        if headerBytes.first != UInt8(ascii: "{") { throw .invalidJSON("it must start with '{'") }
        let json: JSONValue
        do {
            json = try JSONParser.parse(headerBytes)
        } catch {
            if let key = error.duplicateKey { throw .duplicateKey(key) }
            throw .invalidJSON("\(error.message) at byte \(error.offset) of the header")
        }
        guard case let .object(members) = json else { throw .invalidJSON("the header is not a JSON object") }

        var tensors: [TensorInfo] = []
        var metadata: [String: String] = [:]
        for (name, value) in members {
            if name == "__metadata__" {
                metadata = try parseMetadata(value)
            } else {
                tensors.append(try parseEntry(name, value))
            }
        }
        tensors.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound) }

        var end = 0
        for t in tensors {
            let begin = t.dataOffsets.lowerBound
            if begin > end { throw .gap(name: t.name, expectedBegin: end, begin: begin) }
            if begin < end { throw .overlap(name: t.name, expectedBegin: end, begin: begin) }
            var elements = 1
            for d in t.shape {
                let (m, overflow) = elements.multipliedReportingOverflow(by: d)
                if overflow { throw .invalidEntry(name: t.name, reason: "shape \(t.shape) has too many elements") }
                elements = m
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: t.dtype.size)
            if overflow { throw .invalidEntry(name: t.name, reason: "shape \(t.shape) has too many elements") }
            if bytes != t.dataOffsets.count {
                throw .byteSizeMismatch(name: t.name, dtype: t.dtype.rawValue, shape: t.shape,
                                        expected: bytes, actual: t.dataOffsets.count)
            }
            end = t.dataOffsets.upperBound
        }
        let dataStart = 8 + Int(n)
        let dataLength = raw.count - dataStart
        if end != dataLength { throw .dataLengthMismatch(expected: end, actual: dataLength) }
        return ParsedHeader(tensors: tensors, metadata: metadata, dataStart: dataStart)
    }

    private static func parseMetadata(_ value: JSONValue) throws(SafetensorsError) -> [String: String] {
        switch value {
        case .null: return [:]
        case let .object(members):
            var out: [String: String] = [:]
            for (k, v) in members {
                guard case let .string(s) = v else { throw .invalidMetadata("has \"\(k)\" set to \(v.kindName)") }
                out[k] = s
            }
            return out
        default:
            throw .invalidMetadata("is \(value.kindName)")
        }
    }

    private static func parseEntry(_ name: String, _ value: JSONValue) throws(SafetensorsError) -> TensorInfo {
        guard case let .object(fields) = value else {
            throw .invalidEntry(name: name, reason: "expected an object with dtype, shape and data_offsets, found \(value.kindName)")
        }
        func field(_ key: String) throws(SafetensorsError) -> JSONValue {
            guard let v = fields.first(where: { $0.0 == key })?.1 else {
                throw .invalidEntry(name: name, reason: "missing \"\(key)\"")
            }
            return v
        }
        func naturals(_ key: String, _ v: JSONValue) throws(SafetensorsError) -> [Int] {
            guard case let .array(items) = v else { throw .invalidEntry(name: name, reason: "\"\(key)\" must be an array of integers") }
            var out: [Int] = []
            for item in items {
                guard case let .integer(x) = item, x >= 0 else {
                    throw .invalidEntry(name: name, reason: "\"\(key)\" must hold non-negative integers")
                }
                out.append(Int(x))
            }
            return out
        }
        guard case let .string(dtypeName) = try field("dtype") else {
            throw .invalidEntry(name: name, reason: "\"dtype\" must be a string")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else { throw .unknownDType(name: name, dtype: dtypeName) }
        let shape = try naturals("shape", try field("shape"))
        let offsets = try naturals("data_offsets", try field("data_offsets"))
        guard offsets.count == 2 else { throw .invalidEntry(name: name, reason: "\"data_offsets\" must be [begin, end]") }
        guard offsets[0] <= offsets[1] else {
            throw .invalidEntry(name: name, reason: "data_offsets [\(offsets[0]), \(offsets[1])] end before they begin")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: offsets[0]..<offsets[1])
    }
}

/// Whether `bytes` is entirely valid UTF-8.
private func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    var parser = UTF8.ForwardParser()
    var it = bytes.makeIterator()
    while true {
        switch parser.parseScalar(from: &it) {
        case .valid: continue
        case .emptyInput: return true
        case .error: return false
        }
    }
}
