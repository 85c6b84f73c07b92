import Foundation
import XCTest
@testable import Media
import CImage

/// The direct PNG path (`cpng_direct.c`: 8-bit RGB, grey and both with alpha, libdeflate's
/// inflate, the row filters in C) against libpng through the shim: the same pixels wherever it decodes a file,
/// and every file it does not take (another layout, anything irregular) left to libpng, whose
/// answer, pixels or message, is then the one given.
final class PNGDirectTests: XCTestCase {
    /// Decodes both ways; the same pixels or the same error. Returns whether the direct path took it.
    /// `inflated`: the pixels the file's compressed data must give where libpng's zlib refuses a
    /// stream that libdeflate inflates (see `testDamagedFilesGiveLibpngsAnswer`).
    @discardableResult
    func assertSame(_ bytes: [UInt8], _ label: String, inflated: RGBImage? = nil,
                    file: StaticString = #filePath, line: UInt = #line) -> Bool {
        let direct: Result<(image: RGBImage, direct: Bool), PNGError> = Result { () throws(PNGError) in try PNG.decodeReporting(bytes) }
        let libpng: Result<(image: RGBImage, direct: Bool), PNGError> = Result { () throws(PNGError) in
            try PNG.decodeReporting(bytes, libpngOnly: true)
        }
        switch (direct, libpng) {
        case let (.success(a), .success(b)):
            XCTAssertFalse(b.direct, label, file: file, line: line)
            XCTAssertEqual(a.image, b.image, "\(label): pixels differ from libpng's", file: file, line: line)
            return a.direct
        case let (.failure(a), .failure(b)):
            XCTAssertEqual(a, b, label, file: file, line: line)
        case let (.success(a), .failure(.corrupt(m))) where inflated != nil && m.hasPrefix("IDAT"):
            XCTAssertTrue(a.direct, label, file: file, line: line)
            XCTAssertEqual(a.image, inflated, "\(label): zlib refuses the stream (\(m)); libdeflate's pixels must be the file's own", file: file, line: line)
            return a.direct
        default:
            XCTFail("\(label): direct \(direct), libpng \(libpng)", file: file, line: line)
        }
        return false
    }

    static func picture(width w: Int, height h: Int, seed: UInt64, flat: Bool) -> RGBImage {
        var rng = SplitMix(seed: seed)
        var im = RGBImage(width: w, height: h, fill: (250, 250, 245))
        if flat {   // a few flat rectangles, as frames of puzzles are
            for _ in 0..<6 {
                let x0 = Int(rng.next() % UInt64(w)), y0 = Int(rng.next() % UInt64(h))
                let c = (UInt8(rng.next() % 256), UInt8(rng.next() % 256), UInt8(rng.next() % 256))
                for y in y0..<min(h, y0 + max(1, h / 3)) {
                    for x in x0..<min(w, x0 + max(1, w / 4)) {
                        im.pixels[3 * (y * w + x)] = c.0; im.pixels[3 * (y * w + x) + 1] = c.1; im.pixels[3 * (y * w + x) + 2] = c.2
                    }
                }
            }
        } else {
            for i in im.pixels.indices { im.pixels[i] = UInt8(truncatingIfNeeded: rng.next() % 7 == 0 ? rng.next() : UInt64(i / 3 % 200)) }
        }
        return im
    }

    /// tutor's own PNG writer (libpng, adaptive filters: rows of every filter type) at sizes
    /// from 1 x 1 up, flat and noisy pictures.
    func testLibpngWrittenFilesDecodeToLibpngsPixels() throws {
        for (w, h) in [(2, 2), (2, 3), (17, 5), (64, 64), (131, 77), (512, 512)] {
            for flat in [true, false] {
                let bytes = try PNG.encode(Self.picture(width: w, height: h, seed: UInt64(w * h), flat: flat))
                XCTAssertTrue(assertSame(bytes, "\(w) x \(h) flat \(flat)"), "\(w) x \(h): direct path taken")
            }
        }
    }

    /// Runs `body` at each level of the image code this processor has (baseline: the direct
    /// path in plain C; AVX2 and up: the SSE2 row filters and the AVX2 opaque rows), then goes
    /// back to the best.
    func forEachLevel(_ body: (Int32) throws -> Void) rethrows {
        defer { _ = tutor_image_kernels_use(-1) }
        let best = tutor_image_kernels_use(-1)
        for level in 0...best {
            XCTAssertEqual(tutor_image_kernels_use(level), level)
            try body(level)
        }
    }

    /// A file written here, row by row with a chosen filter (all five, and over rows that the
    /// row above makes interesting), the image data in stored deflate blocks and split over
    /// several IDAT chunks: decoded the same both ways, by every version of the direct path. A
    /// sixth filter type is libpng's error.
    func testEveryFilterTypeAndSplitImageData() throws {
        try forEachLevel { level in try everyFilterType(level) }
    }

    func everyFilterType(_ level: Int32) throws {
        var rng = SplitMix(seed: 11)
        // RGB, grey, RGB and alpha, grey and alpha (random alpha: opaque, clear and translucent);
        // the last two with bytes of 0-3 only, where Paeth's three distances often tie
        for (w, h, channels, range) in [(9, 7, 3, 256), (33, 12, 1, 256), (5, 10, 3, 256), (7, 9, 4, 256), (11, 6, 2, 256),
                                        (40, 40, 4, 256), (24, 20, 3, 4), (24, 20, 4, 4)] {
            var filtered: [UInt8] = []
            for y in 0..<h {
                filtered.append(UInt8(y % 5))
                for _ in 0..<(w * channels) { filtered.append(UInt8(truncatingIfNeeded: rng.next() % UInt64(range))) }
            }
            for chunks in [1, 3] {
                let bytes = Self.file(width: w, height: h, channels: channels, filtered: filtered, idatChunks: chunks)
                XCTAssertTrue(assertSame(bytes, "\(w) x \(h) x \(channels), \(chunks) IDAT, level \(level)"), "direct path taken")
            }
            var bad = filtered
            bad[(w * channels + 1) * (h / 2)] = 5
            let bytes = Self.file(width: w, height: h, channels: channels, filtered: bad, idatChunks: 1)
            XCTAssertFalse(assertSame(bytes, "filter type 5"))
            guard case .corrupt? = pngError({ try PNG.decode(bytes) }) else { return XCTFail("filter type 5 is an error") }
        }
    }

    /// Opaque RGB-and-alpha rows (copied eight pixels at a time where the processor allows) at
    /// every width from 2 (the smallest side read) to 40, and the same rows with one translucent
    /// pixel.
    func testOpaqueRowsOfEveryWidth() throws {
        forEachLevel { level in opaqueRows(level) }
    }

    func opaqueRows(_ level: Int32) {
        var rng = SplitMix(seed: 21)
        for w in 2...40 {
            for hole in [-1, 0, w / 2, w - 1] {
                let h = 3
                var filtered: [UInt8] = []
                for y in 0..<h {
                    filtered.append(UInt8(y % 5 == 1 ? 0 : 2))   // None, then Up
                    for x in 0..<w {
                        for _ in 0..<3 { filtered.append(UInt8(truncatingIfNeeded: rng.next())) }
                        // alpha: opaque, under Up the row above's plus this byte
                        filtered.append(y == 0 ? (x == hole ? 77 : 255) : (x == hole ? 178 : 0))
                    }
                }
                let bytes = Self.file(width: w, height: h, channels: 4, filtered: filtered, idatChunks: 1)
                XCTAssertTrue(assertSame(bytes, "\(w) wide, hole at \(hole), level \(level)"), "\(w) wide: direct path taken")
            }
        }
    }

    /// Chunks the direct path leaves to libpng, which refuses some files and reads others: a
    /// second palette, a palette after the data, an unknown critical chunk, transparency, IDAT
    /// chunks with another chunk between them, an ancillary chunk over 8 MB. Allowed ones
    /// (a suggested palette before the data, unknown ancillary chunks) keep the direct path.
    func testChunksLeftToLibpng() throws {
        let w = 6, h = 4
        var filtered: [UInt8] = []
        for y in 0..<h { filtered.append(UInt8(y % 5)); for x in 0..<(w * 3) { filtered.append(UInt8((x * 7 + y * 13) % 256)) } }
        let plain = Self.file(width: w, height: h, channels: 3, filtered: filtered, idatChunks: 2)
        let chunks = Self.chunks(plain)   // IHDR, IDAT, IDAT, IEND
        func with(_ insert: [UInt8], before index: Int) -> [UInt8] {
            var b = plain
            b.insert(contentsOf: insert, at: chunks[index].start)
            return b
        }
        let palette = Self.chunk("PLTE", [1, 2, 3, 4, 5, 6])
        let cases: [(String, [UInt8], Bool)] = [
            ("suggested palette", with(palette, before: 1), true),
            ("unknown ancillary chunk", with(Self.chunk("xYzW", [9, 9]), before: 3), true),
            ("second palette", with(palette + palette, before: 1), false),
            ("palette after the data", with(palette, before: 3), false),
            ("unknown critical chunk", with(Self.chunk("ABCD", [1]), before: 1), false),
            ("transparency", with(Self.chunk("tRNS", [0, 1, 0, 2, 0, 3]), before: 1), false),
            ("a chunk between IDATs", with(Self.chunk("tEXt", Array("a\0b".utf8)), before: 2), false),
            ("an ancillary chunk over 8 MB", with(Self.chunk("tEXt", Array("Comment".utf8) + [0] + [UInt8](repeating: 65, count: 8_000_001)), before: 1), false),
        ]
        for (label, bytes, takes) in cases {
            XCTAssertEqual(assertSame(bytes, label), takes, "\(label): direct path taken")
        }
    }

    /// ImageMagick's files: RGB with gamma and chromaticity chunks, grey, RGB and alpha and grey
    /// and alpha, opaque and clear with gamma chunks, translucent without (taken) and with them
    /// (left to libpng, which composites in linear light then); and layouts the direct path
    /// leaves to libpng.
    func testImageMagickFiles() throws {
        _ = try ImageMagick.requireConvert()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("png-direct-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let variants: [([String], Bool)] = [
            (["PNG24:"], true),
            (["-set", "gamma", "0.3", "PNG24:"], true),
            (["-set", "gamma", "1.0", "PNG24:"], true),
            (["-strip", "PNG24:"], true),
            (["-colorspace", "Gray", "-depth", "8", "PNG8:"], false),     // palette
            (["-colorspace", "Gray", "-depth", "8", "-define", "png:color-type=0", "PNG:"], true),
            (["-alpha", "on", "PNG32:"], true),
            // clear and opaque only (alpha from the picture's grey levels, thresholded): taken with
            // ImageMagick's gamma chunks too
            (["(", "+clone", "-colorspace", "Gray", "-threshold", "60%", ")", "-compose", "CopyOpacity", "-composite", "PNG32:"], true),
            (["(", "+clone", "-colorspace", "Gray", "-threshold", "60%", ")", "-compose", "CopyOpacity", "-composite",
              "-set", "gamma", "0.3", "PNG32:"], true),
            (["(", "+clone", "-colorspace", "Gray", "-threshold", "60%", ")", "-compose", "CopyOpacity", "-composite",
              "-colorspace", "Gray", "-define", "png:color-type=4", "PNG:"], true),
            // translucent: taken without a gamma chunk, left to libpng with one (it composites
            // in linear light then)
            (["(", "+clone", "-colorspace", "Gray", ")", "-compose", "CopyOpacity", "-composite", "-strip", "PNG32:"], true),
            (["(", "+clone", "-colorspace", "Gray", ")", "-compose", "CopyOpacity", "-composite", "-colorspace", "Gray",
              "-strip", "-define", "png:color-type=4", "PNG:"], true),
            (["(", "+clone", "-colorspace", "Gray", ")", "-compose", "CopyOpacity", "-composite", "PNG32:"], false),
            (["(", "+clone", "-colorspace", "Gray", ")", "-compose", "CopyOpacity", "-composite", "-set", "gamma", "0.3", "PNG32:"], false),
            (["(", "+clone", "-colorspace", "Gray", ")", "-compose", "CopyOpacity", "-composite", "-colorspace", "Gray",
              "-define", "png:color-type=4", "PNG:"], false),
            (["-interlace", "PNG", "PNG24:"], false),
            (["-depth", "16", "PNG48:"], false),
        ]
        for (w, h) in [(96, 64), (131, 77)] {
            let source = dir.appendingPathComponent("s.ppm")
            let img = Self.picture(width: w, height: h, seed: UInt64(w), flat: w == 96)
            try Data(Array("P6\n\(w) \(h)\n255\n".utf8) + img.pixels).write(to: source)
            for (i, (options, takes)) in variants.enumerated() {
                let out = dir.appendingPathComponent("\(i).png").path
                try ImageMagick.convert([source.path] + options.dropLast() + [options.last! + out])
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
                let label = "\(w) x \(h) \(options.joined(separator: " "))"
                XCTAssertEqual(assertSame(bytes, label), takes, "\(label): direct path taken")
            }
        }
    }

    /// Damaged files: flipped bits, cut files, a chunk removed, CRCs mended after a change.
    /// Wherever the direct path decodes one, libpng gives the same pixels; wherever libpng
    /// refuses one, so does tutor, with libpng's message. One exception, by design: a changed
    /// byte inside IDAT whose CRC is mended (an encoder's fault, not damage in transit, which
    /// the CRC catches) can leave a Huffman table zlib calls invalid but libdeflate reads, and
    /// that inflates to exactly the image's bytes with the stream's own Adler-32 checksum: tutor
    /// then has the pixels the encoder wrote (checked here to be the undamaged file's) where
    /// libpng reports "IDAT: invalid literal/length code".
    func testDamagedFilesGiveLibpngsAnswer() throws {
        var rng = SplitMix(seed: 5)
        let picture = Self.picture(width: 40, height: 30, seed: 9, flat: true)
        let good = try PNG.encode(picture)
        var direct = 0
        for trial in 0..<400 {
            var bytes = good
            switch trial % 4 {
            case 0: bytes[8 + Int(rng.next() % UInt64(bytes.count - 8))] ^= UInt8(1 << (rng.next() % 8))
            case 1: bytes = Array(bytes[..<(8 + Int(rng.next() % UInt64(bytes.count - 8)))])
            case 2:   // a changed byte inside a chunk whose CRC is then made right again
                let chunks = Self.chunks(bytes)
                let c = chunks[Int(rng.next() % UInt64(chunks.count))]
                if c.length > 0 { bytes[c.start + 8 + Int(rng.next() % UInt64(c.length))] ^= UInt8(1 << (rng.next() % 8)) }
                Self.mendCRC(&bytes, c)
            default:  // a chunk left out
                let chunks = Self.chunks(bytes)
                let c = chunks[Int(rng.next() % UInt64(chunks.count))]
                bytes.removeSubrange(c.start..<(c.start + 12 + c.length))
            }
            if assertSame(bytes, "trial \(trial)", inflated: trial % 4 == 2 ? picture : nil) { direct += 1 }
        }
        XCTAssertGreaterThan(direct, 0, "some damaged files are still whole PNGs the direct path takes")
    }

    // MARK: writing files by hand

    struct Chunk { var start: Int; var length: Int }

    static func chunks(_ bytes: [UInt8]) -> [Chunk] {
        var out: [Chunk] = [], at = 8
        while at + 12 <= bytes.count {
            let len = bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) }
            if at + 12 + len > bytes.count { break }
            out.append(Chunk(start: at, length: len))
            at += 12 + len
        }
        return out
    }

    static func mendCRC(_ bytes: inout [UInt8], _ c: Chunk) {
        let crc = crc32(bytes[(c.start + 4)..<(c.start + 8 + c.length)])
        for k in 0..<4 { bytes[c.start + 8 + c.length + k] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * k)) }
    }

    static func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let name = Array(type.utf8), n = UInt32(body.count)
        let crc = crc32(name + body)
        return [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: n >> $0) } + name + body
            + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: crc >> $0) }
    }

    /// A PNG of already filtered rows, stored without compression (deflate's stored blocks) in
    /// `idatChunks` IDAT chunks; `channels` 1 to 4: grey, grey and alpha, RGB, RGB and alpha.
    static func file(width w: Int, height h: Int, channels: Int, filtered: [UInt8], idatChunks: Int) -> [UInt8] {
        func be(_ v: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }
        var z: [UInt8] = [0x78, 0x01]
        var at = 0
        repeat {
            let n = min(65535, filtered.count - at), last = at + n == filtered.count
            z += [last ? 1 : 0, UInt8(n & 255), UInt8(n >> 8), UInt8(~n & 255), UInt8((~n >> 8) & 255)]
            z += filtered[at..<(at + n)]
            at += n
        } while at < filtered.count
        var a: UInt32 = 1, b: UInt32 = 0
        for v in filtered { a = (a + UInt32(v)) % 65521; b = (b + a) % 65521 }
        z += be(Int(b << 16 | a))
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let type: UInt8 = [1: 0, 2: 4, 3: 2, 4: 6][channels]!
        out += chunk("IHDR", be(w) + be(h) + [8, type, 0, 0, 0])
        let piece = (z.count + idatChunks - 1) / idatChunks
        for k in 0..<idatChunks { out += chunk("IDAT", Array(z[min(z.count, k * piece)..<min(z.count, (k + 1) * piece)])) }
        out += chunk("IEND", [])
        return out
    }
}
