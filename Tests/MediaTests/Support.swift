import Foundation
import XCTest
@testable import Media

/// Tests/Fixtures/jpeg, found from this file's path (tests run from a source checkout).
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures/jpeg")

func fixture(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: fixtures.appendingPathComponent(name)))
}

/// Reads a binary PPM (P6, maxval 255), as ImageMagick writes it.
func readPPM(_ bytes: [UInt8]) throws -> RGBImage {
    var i = 0
    func token() -> String {
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "#") { while i < bytes.count && bytes[i] != 0x0A { i += 1 } }
            else if bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
            else { break }
        }
        let start = i
        while i < bytes.count, !(bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09) { i += 1 }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }
    guard token() == "P6", let w = Int(token()), let h = Int(token()), token() == "255" else {
        throw XCTSkip("not a P6 PPM with maxval 255")
    }
    i += 1 // the single whitespace after maxval
    guard bytes.count - i >= w * h * 3 else { throw XCTSkip("PPM shorter than \(w) x \(h)") }
    return RGBImage(width: w, height: h, pixels: Array(bytes[i..<(i + w * h * 3)]))
}

/// The source the fixtures were encoded from: four flat blocks of 24 x 16.
let sourceColours: [[(UInt8, UInt8, UInt8)]] = [[(220, 30, 40), (30, 180, 60)], [(40, 60, 200), (240, 240, 230)]]

/// ImageMagick's `convert`, when on PATH.
enum ImageMagick {
    static var convertPath: String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let p = String(dir) + "/convert"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static func requireConvert() throws -> String {
        guard let p = convertPath else { throw XCTSkip("ImageMagick's convert is not on PATH (run scripts/setup)") }
        return p
    }

    /// Runs convert with `arguments`; returns stdout, failing the test on a non-zero exit.
    @discardableResult
    static func convert(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try requireConvert())
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            XCTFail("convert \(arguments.joined(separator: " ")) failed: \(String(decoding: e, as: UTF8.self))", file: file, line: line)
        }
        return [UInt8](o)
    }
}

/// Largest and mean absolute difference over all channels of two same-sized images.
func difference(_ a: RGBImage, _ b: RGBImage) -> (max: Int, mean: Double) {
    precondition(a.width == b.width && a.height == b.height)
    var m = 0, sum = 0
    for i in 0..<a.pixels.count {
        let d = abs(Int(a.pixels[i]) - Int(b.pixels[i]))
        m = max(m, d); sum += d
    }
    return (m, Double(sum) / Double(a.pixels.count))
}

func makeTemporaryFolder() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tutor-media-\(getpid())-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// PNG's CRC-32 (of a chunk's type and data), bit by bit: for tests that write or mend chunks.
func crc32<C: Collection>(_ data: C) -> UInt32 where C.Element == UInt8 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in data {
        c ^= UInt32(b)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    }
    return c ^ 0xFFFF_FFFF
}
