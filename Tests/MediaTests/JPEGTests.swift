import Foundation
import XCTest
@testable import Media

final class JPEGTests: XCTestCase {
    // MARK: - Files from an independent encoder (ImageMagick), committed

    func testDecodesImageMagickFixturesWithinJPEGTolerance() throws {
        let source = try readPPM(try fixture("source.ppm"))
        // Baseline is 4:2:0: chroma at a red/green edge is shared by 2 x 2 pixels, hence its larger edge error.
        let files: [(String, Int, JPEG.ColorSpace, Bool, Int)] = [
            ("baseline.jpg", 3, .yCbCr, false, 100), ("progressive.jpg", 3, .yCbCr, true, 60),
            ("ycck.jpg", 4, .ycck, false, 60), ("cmyk.jpg", 4, .cmyk, false, 60),
        ]
        for (name, components, space, progressive, edge) in files {
            let bytes = try fixture(name)
            let header = try JPEG.readHeader(bytes)
            XCTAssertEqual(header, JPEG.Header(width: 48, height: 32, components: components, colorSpace: space, progressive: progressive), name)
            let image = try JPEG.decode(bytes)
            XCTAssertEqual([image.width, image.height], [48, 32], name)
            let d = difference(image, source)
            XCTAssertLessThan(d.mean, 3, "\(name): mean error \(d.mean)")
            XCTAssertLessThan(d.max, edge, "\(name): largest error \(d.max), at block edges only")
            // Block centres, away from edges, are the source colours.
            for by in 0..<2 { for bx in 0..<2 {
                let (r, g, b) = image[bx * 24 + 12, by * 16 + 8], (er, eg, eb) = sourceColours[by][bx]
                XCTAssertEqual(Double(r), Double(er), accuracy: 6, "\(name) block \(bx),\(by)")
                XCTAssertEqual(Double(g), Double(eg), accuracy: 6, "\(name) block \(bx),\(by)")
                XCTAssertEqual(Double(b), Double(eb), accuracy: 6, "\(name) block \(bx),\(by)")
            } }
        }
    }

    func testGreyscaleDecodesToEqualChannels() throws {
        let bytes = try fixture("grey.jpg")
        XCTAssertEqual(try JPEG.readHeader(bytes).components, 1)
        XCTAssertEqual(try JPEG.readHeader(bytes).colorSpace, .grey)
        let image = try JPEG.decode(bytes)
        for i in stride(from: 0, to: image.pixels.count, by: 3) {
            XCTAssertEqual(image.pixels[i], image.pixels[i + 1]); XCTAssertEqual(image.pixels[i], image.pixels[i + 2])
        }
        // Luma of each block: red is darker than green, blue darkest, cream lightest.
        let red = image[12, 8].0, green = image[36, 8].0, blue = image[12, 24].0, cream = image[36, 24].0
        XCTAssertLessThan(blue, red); XCTAssertLessThan(red, green); XCTAssertLessThan(green, cream)
        XCTAssertEqual(Double(cream), 239, accuracy: 4)
    }

    /// The CMYK case: plain CMYK (Pillow) and YCCK (ImageMagick), both inverted
    /// with an Adobe marker, become the right RGB.
    func testCMYKAndYCCKDecodeToTheRightColours() throws {
        for name in ["cmyk.jpg", "ycck.jpg"] {
            XCTAssertEqual(try JPEG.readHeader(try fixture(name)).components, 4)
            let image = try JPEG.decode(try fixture(name))
            let (r, g, b) = image[12, 8]
            XCTAssertGreaterThan(r, 200, name); XCTAssertLessThan(g, 50, name); XCTAssertLessThan(b, 60, name) // red, not cyan
            let (r2, g2, b2) = image[12, 24]
            XCTAssertLessThan(r2, 60, name); XCTAssertLessThan(g2, 80, name); XCTAssertGreaterThan(b2, 180, name) // blue
        }
    }

    /// The same fixtures decoded by ImageMagick itself agree with tutor pixel for pixel (within rounding).
    func testAgreesWithImageMagicksDecoder() throws {
        _ = try ImageMagick.requireConvert()
        for name in ["baseline.jpg", "progressive.jpg", "grey.jpg", "ycck.jpg", "cmyk.jpg"] {
            let theirs = try readPPM(try ImageMagick.convert([fixtures.appendingPathComponent(name).path, "-depth", "8", "ppm:-"]))
            let ours = try JPEG.decode(try fixture(name))
            let d = difference(ours, theirs)
            XCTAssertLessThanOrEqual(d.max, 3, "\(name): largest difference \(d.max) from ImageMagick's decode")
        }
    }

    /// Fresh files from the installed ImageMagick, so the fixtures are not the only evidence.
    func testDecodesFilesConvertMakesNow() throws {
        _ = try ImageMagick.requireConvert()
        let dir = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = fixtures.appendingPathComponent("source.ppm").path
        let source = try readPPM(try fixture("source.ppm"))
        let variants: [(String, [String])] = [
            ("b.jpg", ["-quality", "90"]), ("p.jpg", ["-quality", "90", "-interlace", "Plane"]),
            ("c.jpg", ["-quality", "90", "-colorspace", "CMYK"]), ("g.jpg", ["-quality", "90", "-colorspace", "Gray"]),
        ]
        for (name, options) in variants {
            let out = dir.appendingPathComponent(name).path
            try ImageMagick.convert([src] + options + [out])
            let ours = try JPEG.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: out))))
            let theirs = try readPPM(try ImageMagick.convert([out, "-depth", "8", "ppm:-"]))
            XCTAssertLessThanOrEqual(difference(ours, theirs).max, 3, name)
            if name != "g.jpg" { XCTAssertLessThan(difference(ours, source).mean, 4, name) }
        }
    }

    // MARK: - What tutor encodes, decoded by ImageMagick

    func testImageMagickDecodesWhatTutorEncodes() throws {
        _ = try ImageMagick.requireConvert()
        let dir = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try readPPM(try fixture("source.ppm"))
        let bytes = try JPEG.encode(source) // quality 95, 4:4:4
        let path = dir.appendingPathComponent("tutor.jpg").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let theirs = try readPPM(try ImageMagick.convert([path, "-depth", "8", "ppm:-"]))
        XCTAssertLessThanOrEqual(difference(theirs, try JPEG.decode(bytes)).max, 3)
        let d = difference(theirs, source)
        XCTAssertLessThan(d.mean, 1.5, "quality 95 4:4:4 is close to the source: mean \(d.mean)")
        XCTAssertLessThan(d.max, 30)
        let sampling = String(decoding: try ImageMagick.convert([path, "-format", "%[jpeg:sampling-factor] %Q", "info:"]), as: UTF8.self)
        XCTAssertEqual(sampling, "1x1,1x1,1x1 95")
    }

    func testEncoderWritesFullResolutionChromaByDefault() throws {
        let bytes = try JPEG.encode(RGBImage(width: 16, height: 16, fill: (10, 200, 30)))
        // SOF0: FF C0, length, precision, height, width, components, then (id, HV sampling, table) each.
        let sof = try XCTUnwrap((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        XCTAssertEqual(bytes[sof + 9], 3)
        XCTAssertEqual([bytes[sof + 11], bytes[sof + 14], bytes[sof + 17]], [0x11, 0x11, 0x11])
        let subsampled = try JPEG.encode(RGBImage(width: 16, height: 16, fill: (10, 200, 30)), subsample444: false)
        let sof2 = try XCTUnwrap((0..<(subsampled.count - 1)).first { subsampled[$0] == 0xFF && subsampled[$0 + 1] == 0xC0 })
        XCTAssertEqual(subsampled[sof2 + 11], 0x22)
    }

    // MARK: - Bad input: each a typed error with a message that says what is wrong

    func assertRefused(_ bytes: [UInt8], _ expected: JPEGError, says words: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        do {
            let image = try JPEG.decode(bytes)
            XCTFail("decoded a bad file to \(image.width) x \(image.height); expected \(expected)", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, file: file, line: line)
            XCTAssertTrue(error.description.contains(words), "message: \(error.description)", file: file, line: line)
        }
    }

    func testNotAJPEG() {
        assertRefused(Array("hello, world\n".utf8), .notJPEG("it starts with 68 65 6C 6C, not the JPEG marker FF D8 FF"), says: "not a JPEG")
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]
        assertRefused(png, .notJPEG("it starts with 89 50 4E 47, not the JPEG marker FF D8 FF"), says: "89 50 4E 47")
        XCTAssertThrowsError(try JPEG.readHeader(png)) { XCTAssertTrue("\($0)".contains("not a JPEG")) }
    }

    func testEmptyFile() {
        assertRefused([], .empty, says: "the file is empty (0 bytes)")
    }

    func testTruncatedJPEG() throws {
        for name in ["baseline.jpg", "progressive.jpg"] {
            let bytes = try fixture(name)
            let sos = try XCTUnwrap((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xDA })
            let cut = Array(bytes[..<(sos + (bytes.count - sos) / 2)])
            assertRefused(cut, .corrupt("Premature end of JPEG file"), says: "damaged or truncated")
        }
        // Cut inside the header: libjpeg finds no image at all.
        let header = Array(try fixture("baseline.jpg").prefix(100))
        assertRefused(header, .corrupt("JPEG datastream contains no image"), says: "truncated")
    }

    func testCorruptEntropyData() throws {
        // Stuffed FF bytes (FF 00) decode as runs of 1 bits: no valid Huffman code is all ones.
        var bytes = try JPEG.encode(RGBImage(width: 64, height: 64, fill: (90, 140, 200)))
        let sos = try XCTUnwrap((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xDA })
        let start = sos + 2 + Int(bytes[sos + 2]) << 8 + Int(bytes[sos + 3]) + 4
        for i in stride(from: start, to: min(start + 16, bytes.count - 4), by: 2) { bytes[i] = 0xFF; bytes[i + 1] = 0x00 }
        assertRefused(bytes, .corrupt("Corrupt JPEG data: bad Huffman code"), says: "damaged")
    }

    func testHeaderClaiming30000By30000IsRefusedBeforeDecoding() throws {
        var bytes = try fixture("baseline.jpg")
        let sof = try XCTUnwrap((0..<(bytes.count - 1)).first { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0 })
        // FF C0, length (2), precision (1), height (2), width (2)
        bytes[sof + 5] = UInt8(30000 >> 8); bytes[sof + 6] = UInt8(30000 & 0xFF)
        bytes[sof + 7] = UInt8(30000 >> 8); bytes[sof + 8] = UInt8(30000 & 0xFF)
        XCTAssertEqual(try JPEG.readHeader(bytes).width, 30000)
        assertRefused(bytes, .tooLarge(width: 30000, height: 30000, limit: 4096),
                      says: "the image is 30000 x 30000 pixels; the limit is 4096 x 4096")
        // Decoding it would take 2.7 GB; refusing must be immediate.
        let start = Date()
        _ = try? JPEG.decode(bytes)
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5)
        // The limit is the caller's.
        XCTAssertThrowsError(try JPEG.decode(try fixture("baseline.jpg"), maxSide: 40)) {
            XCTAssertEqual($0 as? JPEGError, .tooLarge(width: 48, height: 32, limit: 40))
        }
    }

    func testProgressiveFileWithThousandsOfScansIsStopped() throws {
        // Each scan costs a pass over the image: a small file with many scans is a
        // denial of service. Repeat the last scan of the progressive fixture 1100 times.
        let bytes = try fixture("progressive.jpg")
        let last = try XCTUnwrap((0..<(bytes.count - 1)).last { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xDA })
        let scan = bytes[last..<(bytes.count - 2)]
        var many = Array(bytes[..<(bytes.count - 2)])
        for _ in 0..<1100 { many += scan }
        many += [0xFF, 0xD9]
        assertRefused(many, .corrupt("more than 1000 progressive scans"), says: "more than 1000 progressive scans")
    }

    func testOnePixelImageIsTooSmall() throws {
        let bytes = try JPEG.encode(RGBImage(width: 1, height: 1, fill: (255, 0, 0)))
        XCTAssertEqual(try JPEG.readHeader(bytes).width, 1)
        assertRefused(bytes, .tooSmall(width: 1, height: 1, minimum: 2), says: "it must be at least 2 x 2")
        XCTAssertEqual(try JPEG.decode(bytes, minSide: 1).width, 1)
    }

    func testRoundTripThroughTutorsEncoder() throws {
        var px = [UInt8](repeating: 0, count: 64 * 48 * 3)
        for y in 0..<48 { for x in 0..<64 { let i = 3 * (y * 64 + x); px[i] = UInt8(x * 4); px[i + 1] = UInt8(y * 5); px[i + 2] = 128 } }
        let image = RGBImage(width: 64, height: 48, pixels: px)
        let back = try JPEG.decode(try JPEG.encode(image, quality: 95))
        XCTAssertLessThan(difference(back, image).max, 6)
    }
}
