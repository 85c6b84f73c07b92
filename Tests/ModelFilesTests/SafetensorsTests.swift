import XCTest
@testable import ModelFiles

/// A safetensors file built by hand: 8-byte length, the header text as given, then `data`.
func craft(_ header: String, data: [UInt8]) -> [UInt8] {
    let h = Array(header.utf8)
    var out: [UInt8] = []
    withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
    return out + h + data
}

/// Asserts that `bytes` is refused with exactly `expected`, and that the message says `words`.
func assertRefused(_ bytes: [UInt8], _ expected: SafetensorsError, says words: String,
                   file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try SafetensorsFile(bytes: bytes)
        XCTFail("accepted a bad file; expected \(expected)", file: file, line: line)
    } catch {
        XCTAssertEqual(error, expected, file: file, line: line)
        XCTAssertTrue(error.description.contains(words), "message: \(error.description)", file: file, line: line)
    }
}

final class SafetensorsTests: XCTestCase {
    let values: [Float] = [0, 1, -2.5, 0.1, 1e-3, 65504, -1e-8, 3.14159]

    func testRoundTripF32IsExactWithMetadata() throws {
        let tensors = [
            SafetensorsTensor(name: "w", shape: [2, 4], values: values),
            SafetensorsTensor(name: "scalar", shape: [], values: [42]),
            SafetensorsTensor(name: "empty", shape: [0, 3], values: []),
        ]
        let bytes = try Safetensors.serialize(tensors, metadata: ["format": "pt", "note": "quote \" and \\ and \n"])
        let headerLength = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        XCTAssertEqual(headerLength % 8, 0, "header padded to 8 bytes")
        let f = try SafetensorsFile(bytes: bytes)
        XCTAssertEqual(f.metadata, ["format": "pt", "note": "quote \" and \\ and \n"])
        XCTAssertEqual(Set(f.names), ["w", "scalar", "empty"])
        XCTAssertEqual(f.info("w")?.shape, [2, 4])
        XCTAssertEqual(f.info("w")?.dtype, .f32)
        XCTAssertEqual(try f.floats("w").map(\.bitPattern), values.map(\.bitPattern))
        XCTAssertEqual(try f.floats("scalar"), [42])
        XCTAssertEqual(f.info("scalar")?.shape, [])
        XCTAssertEqual(try f.floats("empty"), [])
        XCTAssertThrowsError(try f.floats("nope")) { XCTAssertEqual($0 as? SafetensorsError, .noSuchTensor("nope")) }
        XCTAssertEqual(try f.floats("w", shape: [2, 4]), values)
        XCTAssertThrowsError(try f.floats("w", shape: [4, 2])) {
            XCTAssertEqual($0 as? SafetensorsError, .shapeMismatch(name: "w", expected: [4, 2], found: [2, 4]))
            XCTAssertEqual("\($0)", "tensor \"w\" is [2, 4] in the file but the model expects [4, 2]")
        }
    }

    func testF16AndBF16RoundToNearestEven() throws {
        let x: [Float] = [1, 1.0 + 1.0 / 2048, 1.0 + 3.0 / 2048, -0.333333, 70000, 1e-6]
        let bytes = try Safetensors.serialize([
            SafetensorsTensor(name: "h", shape: [6], values: x, dtype: .f16),
            SafetensorsTensor(name: "b", shape: [6], values: x, dtype: .bf16),
        ])
        let f = try SafetensorsFile(bytes: bytes)
        XCTAssertEqual(f.info("h")?.dataOffsets.count, 12)
        let h = try f.floats("h"), b = try f.floats("b")
        // Halfway cases go to the even neighbour: 1 + 2^-11 -> 1, 1 + 3*2^-11 -> 1 + 2^-9.
        XCTAssertEqual(h[0], 1); XCTAssertEqual(h[1], 1); XCTAssertEqual(h[2], 1 + 1.0 / 512)
        XCTAssertEqual(h[3], -0.33325195, accuracy: 1e-7)
        XCTAssertEqual(h[4], .infinity, "F16 overflows to infinity past 65504")
        XCTAssertEqual(h[5], 1e-6, accuracy: 6e-8, "F16 subnormal")
        XCTAssertEqual(b[0], 1)
        XCTAssertEqual(b[3], -0.333984375)
        XCTAssertEqual(b[4], 70144)
        XCTAssertEqual(HalfBits.bf16(Float(bitPattern: 0x3F80_8000)), 0x3F80, "tie to even, down")
        XCTAssertEqual(HalfBits.bf16(Float(bitPattern: 0x3F81_8000)), 0x3F82, "tie to even, up")
        XCTAssertTrue(HalfBits.float(bf16: HalfBits.bf16(.nan)).isNaN)
    }

    func testWriteToFileAtomicallyAndMapBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-st-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.path + "/m.safetensors"
        let big = (0..<100_000).map { Float($0) * 0.5 }
        try Safetensors.write([SafetensorsTensor(name: "big", shape: [100, 1000], values: big)], metadata: ["k": "v"], to: path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["m.safetensors"], "no temporary file left")
        let (tensors, metadata) = try Safetensors.read(path: path)
        XCTAssertEqual(tensors["big"], big)
        XCTAssertEqual(metadata, ["k": "v"])
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual([UInt8](onDisk), try Safetensors.serialize([SafetensorsTensor(name: "big", shape: [100, 1000], values: big)], metadata: ["k": "v"]))
        XCTAssertThrowsError(try SafetensorsFile(path: dir.path + "/missing.safetensors")) {
            guard case .cannotOpen(_, let reason)? = $0 as? SafetensorsError else { return XCTFail("\($0)") }
            XCTAssertTrue(reason.contains("no such file"))
        }
        XCTAssertThrowsError(try SafetensorsFile(path: dir.path)) {
            XCTAssertEqual($0 as? SafetensorsError,
                           .cannotOpen(path: dir.path, reason: "is a folder, not a regular file"))
        }
    }

    /// A FIFO in place of the weights is refused at once: the open does not wait for a writer.
    func testFIFOIsRefusedWithoutBlocking() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-fifo-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.path + "/model.safetensors"
        XCTAssertEqual(mkfifo(path, 0o644), 0)
        XCTAssertThrowsError(try SafetensorsFile(path: path)) {
            XCTAssertEqual("\($0)", "the safetensors file \(path) is a FIFO, not a regular file")
        }
    }

    func testWriterRefusesInconsistentTensors() {
        XCTAssertThrowsError(try Safetensors.serialize([SafetensorsTensor(name: "x", shape: [2, 2], values: [1, 2, 3])])) {
            XCTAssertEqual($0 as? SafetensorsError, .invalidTensor(name: "x", reason: "shape [2, 2] holds 4 values but 3 were given"))
        }
        XCTAssertThrowsError(try Safetensors.serialize([SafetensorsTensor(name: "x", shape: [1], values: [1]),
                                                        SafetensorsTensor(name: "x", shape: [1], values: [2])])) {
            XCTAssertEqual($0 as? SafetensorsError, .invalidTensor(name: "x", reason: "the name is given twice"))
        }
        XCTAssertThrowsError(try Safetensors.serialize([SafetensorsTensor(name: "x", shape: [1], values: [1], dtype: .i32)]))
    }

    func testReadsTensorsListedOutOfOrder() throws {
        // Offsets decide the order, not the header's key order.
        let data: [UInt8] = [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40] // 1.0, 2.0
        let f = try SafetensorsFile(bytes: craft(#"{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: data))
        XCTAssertEqual(f.names, ["a", "b"])
        XCTAssertEqual(try f.floats("a"), [1])
        XCTAssertEqual(try f.floats("b"), [2])
    }

    // MARK: - Bad input (the issue's list first)

    func testHeaderLengthLargerThanFile() {
        var bytes = craft(#"{}"#, data: [])
        bytes[0] = 200 // claims 200 bytes of header in a 10-byte file
        assertRefused(bytes, .headerBeyondFile(length: 200, fileSize: 10), says: "only 10 bytes")
    }

    func testInvalidJSON() {
        let bytes = craft(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0])
        assertRefused(bytes, .invalidJSON("the text ends inside an object (missing '}') at byte 53 of the header"), says: "not valid JSON")
        assertRefused(craft(#"{"a":tru}"#, data: []), .invalidJSON("expected 'true' at byte 5 of the header"), says: "expected 'true'")
        assertRefused(craft(#"[1,2]"#, data: []), .invalidJSON("it must start with '{'"), says: "start with")
    }

    func testOverlappingOffsets() {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        assertRefused(craft(header, data: [UInt8](repeating: 0, count: 8)),
                      .overlap(name: "b", expectedBegin: 8, begin: 4), says: "overlap by 4 bytes")
    }

    func testGapBetweenTensors() {
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        assertRefused(craft(header, data: [UInt8](repeating: 0, count: 12)),
                      .gap(name: "b", expectedBegin: 4, begin: 8), says: "a gap of 4 bytes")
        let late = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        assertRefused(craft(late, data: [UInt8](repeating: 0, count: 8)),
                      .gap(name: "a", expectedBegin: 0, begin: 4), says: "gap")
    }

    func testDTypeAndShapeDisagreeWithByteSize() {
        let header = #"{"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,24]}}"#
        assertRefused(craft(header, data: [UInt8](repeating: 0, count: 24)),
                      .byteSizeMismatch(name: "a", dtype: "F16", shape: [2, 3], expected: 12, actual: 24),
                      says: "which is 12 bytes, but its data_offsets span 24 bytes")
    }

    func testDuplicateKey() {
        // JSONSerialization would silently keep one of the two; the header parser refuses.
        let header = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        assertRefused(craft(header, data: [UInt8](repeating: 0, count: 8)), .duplicateKey("a"), says: "gives \"a\" twice")
        let field = #"{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}"#
        assertRefused(craft(field, data: [UInt8](repeating: 0, count: 4)), .duplicateKey("dtype"), says: "twice")
        let escaped = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\u0061":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        assertRefused(craft(escaped, data: [UInt8](repeating: 0, count: 8)), .duplicateKey("a"), says: "twice")
    }

    // MARK: - More bad input, as the reference implementation refuses it

    func testOtherMalformedFiles() {
        assertRefused([1, 2, 3], .fileTooSmall(size: 3), says: "3 bytes")
        var huge = craft("{}", data: [])
        withUnsafeBytes(of: UInt64(100_000_001).littleEndian) { for i in 0..<8 { huge[i] = $0[i] } }
        assertRefused(huge, .headerTooLarge(length: 100_000_001), says: "limit is 100000000")
        var notUTF8 = craft(#"{"a?":1}"#, data: [])
        notUTF8[11] = 0xFF // the '?'
        assertRefused(notUTF8, .headerNotUTF8, says: "UTF-8")
        assertRefused(craft(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0, 9]),
                      .dataLengthMismatch(expected: 4, actual: 5), says: "data section has 5 bytes")
        assertRefused(craft(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]),
                      .dataLengthMismatch(expected: 8, actual: 4), says: "truncated")
        assertRefused(craft(#"{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                      .unknownDType(name: "a", dtype: "F33"), says: "unknown dtype")
        assertRefused(craft(#"{"a":{"dtype":"F32","data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                      .invalidEntry(name: "a", reason: "missing \"shape\""), says: "missing \"shape\"")
        assertRefused(craft(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                      .invalidEntry(name: "a", reason: "\"shape\" must hold non-negative integers"), says: "non-negative")
        assertRefused(craft(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: []),
                      .invalidEntry(name: "a", reason: "data_offsets [4, 0] end before they begin"), says: "end before")
        assertRefused(craft(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                      .invalidEntry(name: "a", reason: "shape [4294967296, 4294967296] has too many elements"), says: "too many")
        assertRefused(craft(#"{"__metadata__":{"n":1}}"#, data: []), .invalidMetadata("has \"n\" set to a number"), says: "strings to strings")
        let deep = "{\"a\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"
        assertRefused(craft(deep, data: []), .invalidJSON("nested more than 64 levels deep at byte 68 of the header"), says: "nested more than 64")
    }

    func testNonFloatDTypeIsValidatedButNotConverted() throws {
        let f = try SafetensorsFile(bytes: craft(#"{"i":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 7, count: 16)))
        XCTAssertEqual(f.info("i")?.dtype, .i64)
        XCTAssertThrowsError(try f.floats("i")) { XCTAssertEqual($0 as? SafetensorsError, .notFloat(name: "i", dtype: "I64")) }
        try f.withRawBytes("i") { XCTAssertEqual(Array($0), [UInt8](repeating: 7, count: 16)) }
        XCTAssertEqual(try f.allFloats().count, 0)
    }
}

/// Memory: opening maps the file without reading it, and reading a tensor makes one copy.
final class SafetensorsMemoryTests: XCTestCase {
    /// Resident memory of this process, from /proc/self/statm.
    func residentBytes() throws -> Int {
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        return Int(statm[1])! * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    func testOpeningMapsWithoutReadingAndReadingCopiesOnce() throws {
        let dir = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let n = 8 << 20 // floats: 32 MB of data
        let path = dir.path + "/big.safetensors"
        let head = try Safetensors.header([SafetensorsTensor(name: "x", shape: [n], values: [Float](repeating: 0, count: n))], metadata: [:])
        var data = Data(head)
        data.append(Data(count: 4 * n))
        try data.write(to: URL(fileURLWithPath: path))
        data = Data()

        let before = try residentBytes()
        let file = try SafetensorsFile(path: path)
        let afterOpen = try residentBytes()
        XCTAssertLessThan(afterOpen - before, 4 << 20, "opening read the data: +\(afterOpen - before) bytes")
        let x = try file.floats("x")
        let afterRead = try residentBytes()
        XCTAssertEqual(x.count, n)
        XCTAssertEqual(x[n - 1], 0)
        print("safetensors memory: open +\((afterOpen - before) >> 10) KiB, floats +\((afterRead - afterOpen) >> 20) MiB for a 32 MiB tensor")
        // The result (32 MB) plus the file's pages now mapped in (32 MB); a second copy would add 32 MB more.
        XCTAssertLessThan(afterRead - before, 72 << 20, "reading grew memory by \(afterRead - before) bytes")
    }
}
