/// What can go wrong reading or writing a safetensors file. Each message says what is
/// wrong with the file, so a user can tell a truncated download from a broken writer.
public enum SafetensorsError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened, read or mapped.
    case cannotOpen(path: String, reason: String)
    /// Fewer than the 8 bytes of the header length.
    case fileTooSmall(size: Int)
    /// The header length is over the 100 MB limit of the reference implementation.
    case headerTooLarge(length: UInt64)
    /// The header length points past the end of the file.
    case headerBeyondFile(length: UInt64, fileSize: Int)
    case headerNotUTF8
    /// The header is not well-formed JSON (or not a JSON object).
    case invalidJSON(String)
    /// A key given twice in one JSON object of the header (a tensor name, or a field).
    case duplicateKey(String)
    /// A tensor entry lacks `dtype`, `shape` or `data_offsets`, or one has the wrong form.
    case invalidEntry(name: String, reason: String)
    case unknownDType(name: String, dtype: String)
    /// `__metadata__` is not an object of strings.
    case invalidMetadata(String)
    /// Sorted by offset, this tensor starts after the previous one ends.
    case gap(name: String, expectedBegin: Int, begin: Int)
    /// Sorted by offset, this tensor starts before the previous one ends.
    case overlap(name: String, expectedBegin: Int, begin: Int)
    /// The tensor's byte range disagrees with its dtype and shape.
    case byteSizeMismatch(name: String, dtype: String, shape: [Int], expected: Int, actual: Int)
    /// The data section is longer or shorter than the last tensor's end.
    case dataLengthMismatch(expected: Int, actual: Int)
    case noSuchTensor(String)
    /// The tensor exists but its shape is not the one the caller's model needs.
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    /// The tensor's dtype cannot be read as floats (only F32, F16 and BF16 can).
    case notFloat(name: String, dtype: String)
    /// A tensor handed to the writer is inconsistent.
    case invalidTensor(name: String, reason: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "the safetensors file \(path) \(reason)"
        case let .fileTooSmall(size):
            return "the file is \(size) bytes; a safetensors file starts with an 8-byte header length"
        case let .headerTooLarge(length):
            return "the safetensors header claims \(length) bytes; the limit is 100000000 (the file is damaged or not safetensors)"
        case let .headerBeyondFile(length, fileSize):
            return "the safetensors header claims \(length) bytes but the file has only \(fileSize) bytes (truncated, or not safetensors)"
        case .headerNotUTF8:
            return "the safetensors header is not valid UTF-8"
        case let .invalidJSON(why):
            return "the safetensors header is not valid JSON: \(why)"
        case let .duplicateKey(key):
            return "the safetensors header gives \"\(key)\" twice; names must be unique"
        case let .invalidEntry(name, reason):
            return "tensor \"\(name)\" in the safetensors header: \(reason)"
        case let .unknownDType(name, dtype):
            return "tensor \"\(name)\" has unknown dtype \"\(dtype)\""
        case let .invalidMetadata(why):
            return "the safetensors __metadata__ \(why); it must map strings to strings"
        case let .gap(name, expected, begin):
            return "tensor \"\(name)\" starts at data offset \(begin) but the previous tensor ends at \(expected): a gap of \(begin - expected) bytes"
        case let .overlap(name, expected, begin):
            return "tensor \"\(name)\" starts at data offset \(begin) but the previous tensor ends at \(expected): they overlap by \(expected - begin) bytes"
        case let .byteSizeMismatch(name, dtype, shape, expected, actual):
            return "tensor \"\(name)\" is \(dtype) \(shape), which is \(expected) bytes, but its data_offsets span \(actual) bytes"
        case let .dataLengthMismatch(expected, actual):
            return "the tensors end at data offset \(expected) but the data section has \(actual) bytes (truncated or padded file)"
        case let .noSuchTensor(name):
            return "no tensor named \"\(name)\" in the safetensors file"
        case let .shapeMismatch(name, expected, found):
            return "tensor \"\(name)\" is \(found) in the file but the model expects \(expected)"
        case let .notFloat(name, dtype):
            return "tensor \"\(name)\" is \(dtype); only F32, F16 and BF16 can be read as floats"
        case let .invalidTensor(name, reason):
            return "cannot write tensor \"\(name)\": \(reason)"
        case let .writeFailed(path, reason):
            return "could not write \(path): \(reason)"
        }
    }
}
