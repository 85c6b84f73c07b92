import Foundation
import XCTest
@testable import Media
import CImage

/// The direct 1/8 and 1/4 decode (cjpeg_reduced.c) against libjpeg's own decode of the same
/// bytes at the same scale: identical pixels wherever it takes a file, libjpeg's answer (pixels
/// or error) wherever it does not.
final class JPEGDirectTests: XCTestCase {
    /// A picture with flat shapes, a gradient and noise, so that blocks carry AC terms of every
    /// size and colours cross block edges.
    static func picture(width w: Int, height h: Int, seed: UInt64) -> RGBImage {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s }
        var p = [UInt8](repeating: 0, count: w * h * 3)
        let cx = w / 3, cy = h / 2, r2 = (min(w, h) / 4) * (min(w, h) / 4)
        for y in 0..<h {
            for x in 0..<w {
                let i = 3 * (y * w + x)
                var c: (Int, Int, Int) = (x * 255 / max(1, w - 1), y * 255 / max(1, h - 1), 128)
                if (x - cx) * (x - cx) + (y - cy) * (y - cy) < r2 { c = (220, 40, 30) }
                if x > w * 2 / 3 && y < h / 2 { c = (30, 60, 210) }
                if x > w / 2 && y > h * 3 / 4 { let n = Int(next() % 256); c = (n, 255 - n, n / 2) }
                p[i] = UInt8(c.0); p[i + 1] = UInt8(c.1); p[i + 2] = UInt8(c.2)
            }
        }
        return RGBImage(width: w, height: h, pixels: p)
    }

    /// Decodes `bytes` at 1/8 (or 1/4 with `quarter`) both ways; fails unless they agree.
    /// Returns whether the direct path took it.
    @discardableResult
    func assertSame(_ bytes: [UInt8], _ label: String, quarter: Bool = false, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        // at least a pixel: 1/8; a pixel more than 1/8 gives (from 8 pixels wide) 1/4
        var small = (width: 1, height: 1)
        if quarter, let h = try? JPEG.readHeader(bytes) { small = ((h.width + 7) / 8 + 1, 1) }
        let libjpeg = Result { () throws(JPEGError) in try JPEG.decodeReporting(bytes, atLeast: small, libjpegOnly: true) }
        let direct = Result { () throws(JPEGError) in try JPEG.decodeReporting(bytes, atLeast: small) }
        switch (libjpeg, direct) {
        case let (.success(a), .success(b)):
            XCTAssertFalse(a.direct, label, file: file, line: line)
            XCTAssertEqual(a.decoded.image.width, b.decoded.image.width, label, file: file, line: line)
            XCTAssertEqual(a.decoded.image.height, b.decoded.image.height, label, file: file, line: line)
            if quarter, let h = try? JPEG.readHeader(bytes) {
                XCTAssertEqual(b.decoded.image.width, (h.width * 2 + 7) / 8, "\(label): decoded at 1/4", file: file, line: line)
            }
            if a.decoded.image.pixels != b.decoded.image.pixels {
                let d = difference(a.decoded.image, b.decoded.image)
                XCTFail("\(label): the direct path's pixels differ from libjpeg's (largest \(d.max), mean \(d.mean))", file: file, line: line)
            }
            return b.direct
        case let (.failure(a), .failure(b)):
            XCTAssertEqual("\(a)", "\(b)", label, file: file, line: line)
            return false
        case let (.success, .failure(e)):
            XCTFail("\(label): libjpeg decodes it, the direct path fails: \(e)", file: file, line: line)
        case let (.failure(e), .success):
            XCTFail("\(label): libjpeg refuses it (\(e)), the direct path decodes it", file: file, line: line)
        }
        return false
    }

    /// tutor's own files, at baseline (the colours converted in plain C) and at the best level of
    /// the image code the processor has (the AVX2 conversion).
    func testSameBytesAsLibjpegForTutorsOwnFiles() throws {
        defer { _ = tutor_image_kernels_use(-1) }
        let best = tutor_image_kernels_use(-1)
        for level in Set([0, best]).sorted() {
            XCTAssertEqual(tutor_image_kernels_use(level), level)
            try tutorsOwnFiles()
        }
    }

    func tutorsOwnFiles() throws {
        for (w, h) in [(64, 64), (512, 512), (203, 117), (17, 9), (8, 8), (2, 2), (300, 200)] {
            for quality in [50, 75, 95, 100] {
                for full in [true, false] {
                    let bytes = try JPEG.encode(Self.picture(width: w, height: h, seed: UInt64(w * 31 + quality)),
                                                quality: quality, subsample444: full)
                    for quarter in w >= 8 ? [false, true] : [false] {
                        let label = "\(w) x \(h) quality \(quality) \(full ? "4:4:4" : "4:2:0") at 1/\(quarter ? 4 : 8)"
                        XCTAssertTrue(assertSame(bytes, label, quarter: quarter), "\(label): a baseline file the direct path should take")
                    }
                }
            }
        }
    }

    /// Files from another encoder: other samplings, restart markers, grey, RGB, progressive.
    func testSameBytesAsLibjpegForImageMagicksFiles() throws {
        _ = try ImageMagick.requireConvert()
        let dir = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // (options, whether the direct path takes it)
        let variants: [([String], Bool)] = [
            (["-sampling-factor", "4:2:0", "-quality", "85"], true),
            (["-sampling-factor", "4:4:4", "-quality", "92"], true),
            (["-sampling-factor", "4:2:2", "-quality", "85"], false),      // upsampled when reduced: libjpeg's
            (["-sampling-factor", "1x2", "-quality", "85"], false),
            (["-colorspace", "Gray", "-quality", "80"], true),
            (["-define", "jpeg:restart-interval=1", "-quality", "90"], true),
            (["-define", "jpeg:restart-interval=7", "-sampling-factor", "4:2:0"], true),
            (["-define", "jpeg:restart-interval=3", "-colorspace", "Gray"], true),
            (["-interlace", "Plane", "-quality", "90"], false),             // progressive
            (["-define", "jpeg:colorspace=2", "-sampling-factor", "4:4:4"], true), // RGB stored as is
            (["-define", "jpeg:optimize-coding=true", "-quality", "60"], true),
            (["-define", "jpeg:dct-method=float", "-quality", "97"], true),
            (["-colorspace", "CMYK"], false),
        ]
        for (w, h) in [(96, 64), (131, 77)] {
            let source = dir.appendingPathComponent("s.ppm")
            let img = Self.picture(width: w, height: h, seed: UInt64(w))
            try Data(Array("P6\n\(w) \(h)\n255\n".utf8) + img.pixels).write(to: source)
            for (i, (options, takes)) in variants.enumerated() {
                let out = dir.appendingPathComponent("\(i).jpg").path
                try ImageMagick.convert([source.path] + options + [out])
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
                for quarter in [false, true] {
                    let label = "\(w) x \(h) \(options.joined(separator: " ")) at 1/\(quarter ? 4 : 8)"
                    XCTAssertEqual(assertSame(bytes, label, quarter: quarter), takes, "\(label): direct path taken")
                }
            }
        }
    }

    /// Damaged files: wherever the direct path decodes one, libjpeg decodes it to the same
    /// pixels without a warning; wherever libjpeg refuses one, so does tutor, with libjpeg's
    /// message.
    func testDamagedFilesGiveLibjpegsAnswer() throws {
        var rng = SplitMix(seed: 7)
        let good = try JPEG.encode(Self.picture(width: 120, height: 88, seed: 3), quality: 90, subsample444: false)
        let sos = try XCTUnwrap((0..<(good.count - 1)).first { good[$0] == 0xFF && good[$0 + 1] == 0xDA })
        var directCount = 0
        for trial in 0..<400 {
            var bytes = good
            switch trial % 4 {
            case 0: // a flipped bit in the entropy-coded data
                let i = sos + 14 + Int(rng.next() % UInt64(bytes.count - sos - 16))
                bytes[i] ^= UInt8(1 << (rng.next() % 8))
            case 1: // cut short
                bytes = Array(bytes[..<(sos + 14 + Int(rng.next() % UInt64(bytes.count - sos - 14)))])
            case 2: // bytes after the last block, before EOI
                bytes.insert(contentsOf: [0x12, 0x34], at: bytes.count - 2)
            default: // a random byte anywhere, headers included
                bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            if assertSame(bytes, "trial \(trial)", quarter: trial % 8 >= 4) { directCount += 1 }
        }
        // Some damage leaves a file libjpeg decodes without a warning (a flipped bit in a
        // coefficient); those the direct path takes and must agree on.
        XCTAssertGreaterThan(directCount, 0)
    }
}

/// A small deterministic generator for the damage above.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
