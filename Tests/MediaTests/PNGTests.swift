import Foundation
import XCTest
@testable import Media

final class PNGTests: XCTestCase {
    /// Files from an independent encoder (ImageMagick, `Tests/Fixtures/jpeg/make-fixtures`),
    /// in every layout libpng has to convert to 8-bit RGB.
    func testDecodesImageMagickFixturesExactly() throws {
        let source = try readPPM(try fixture("source.ppm"))
        for name in ["rgb.png", "palette.png", "rgba-interlaced.png"] {
            let image = try PNG.decode(try fixture(name))
            XCTAssertEqual([image.width, image.height], [48, 32], name)
            for by in 0..<2 { for bx in 0..<2 {
                // The interlaced file's lower right block is transparent: white, as a viewer shows it.
                let expected = name == "rgba-interlaced.png" && bx == 1 && by == 1 ? (255, 255, 255) : sourceColours[by][bx]
                let (r, g, b) = image[bx * 24 + 12, by * 16 + 8]
                XCTAssertEqual([Int(r), Int(g), Int(b)], [Int(expected.0), Int(expected.1), Int(expected.2)], "\(name) block \(bx),\(by)")
            } }
            if name == "rgb.png" { XCTAssertEqual(image.pixels, source.pixels, "lossless") }
        }
        let grey = try PNG.decode(try fixture("grey16.png"))
        let (r, g, b) = grey[12, 8]
        XCTAssertEqual(r, g); XCTAssertEqual(g, b)
        XCTAssertGreaterThan(r, 60); XCTAssertLessThan(r, 120)   // red (220, 30, 40) as luma
    }

    func testRoundTripIsLossless() throws {
        var im = RGBImage(width: 7, height: 5, fill: (1, 2, 3))
        for i in im.pixels.indices { im.pixels[i] = UInt8((i * 37) % 256) }
        XCTAssertEqual(try PNG.decode(try PNG.encode(im)).pixels, im.pixels)
    }

    func testBadFilesAreErrorsWithReasons() throws {
        XCTAssertEqual(pngError { try PNG.decode([]) }, .empty)
        let jpeg = try fixture("baseline.jpg")
        guard case .notPNG(let m)? = pngError({ try PNG.decode(jpeg) }) else {
            return XCTFail("a JPEG decoded as a PNG")
        }
        XCTAssertTrue(m.contains("FF D8 FF"), m)
        let good = try fixture("rgb.png")
        guard case .corrupt? = pngError({ try PNG.decode(Array(good.prefix(good.count - 30))) }) else {
            return XCTFail("a truncated PNG decoded")
        }
        var badCRC = good
        badCRC[20] ^= 0xFF   // inside IHDR: its CRC no longer matches
        XCTAssertNotNil(pngError { try PNG.decode(badCRC) })
        // The size limit is checked from the header: a 48 x 32 file against a limit of 40.
        XCTAssertEqual(pngError { try PNG.decode(good, maxSide: 40) }, .tooLarge(width: 48, height: 32, limit: 40))
    }

    /// A header that claims 100,000 x 100,000 pixels is refused before anything is allocated.
    func testHugeHeaderIsRefusedBeforeDecoding() throws {
        var bytes = try fixture("rgb.png")
        // IHDR data starts at byte 16: width, height (big-endian); then fix its CRC.
        for (k, v) in [UInt32(100_000), 100_000].enumerated() {
            for j in 0..<4 { bytes[16 + 4 * k + j] = UInt8((v >> (24 - 8 * j)) & 0xFF) }
        }
        let crc = crc32(Array(bytes[12..<29]))
        for j in 0..<4 { bytes[29 + j] = UInt8((crc >> (24 - 8 * j)) & 0xFF) }
        XCTAssertEqual(pngError { try PNG.decode(bytes) },
                       .tooLarge(width: 100_000, height: 100_000, limit: JPEG.defaultMaxSide))
    }

    /// A chunk that declares 512 MiB in a file of a few hundred bytes is refused before libpng
    /// allocates its length (Fuzz/crashes/png-ztxt-chunk-512MiB.png, found by the PNG fuzzer).
    func testHugeChunkIsRefusedBeforeItsBufferIsAllocated() throws {
        let good = try fixture("rgb.png")
        // signature and IHDR (8 + 25 bytes), then a zTXt chunk of 2^29 + 12 bytes that is not there
        var bytes = Array(good.prefix(33))
        bytes += [0x20, 0x00, 0x00, 0x0C] + Array("zTXt".utf8) + [UInt8](repeating: 0x80, count: 160)
        guard case .corrupt(let m)? = pngError({ try PNG.decode(bytes) }) else {
            return XCTFail("a PNG with a 512 MiB chunk in 200 bytes decoded")
        }
        // Without the limit libpng allocates the chunk, then finds the file ends early.
        XCTAssertTrue(m.contains("declares 536870924 bytes"), m)
    }
}

/// The error a decode threw, nil when it decoded.
func pngError(_ body: () throws -> RGBImage) -> PNGError? {
    do { _ = try body(); return nil } catch { return error as? PNGError }
}
