import XCTest
@testable import Media
import CImage

final class ResizeTests: XCTestCase {
    /// A deterministic image with every channel varying.
    func noise(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var state = seed
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<px.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            px[i] = UInt8(truncatingIfNeeded: state >> 56)
        }
        return RGBImage(width: width, height: height, pixels: px)
    }

    func mean(_ values: [Float], channel c: Int) -> Double {
        var s = 0.0
        for i in stride(from: c, to: values.count, by: 3) { s += Double(values[i]) }
        return s / Double(values.count / 3)
    }

    func testAreaAveragingPreservesMeanColour() {
        let image = noise(width: 100, height: 70, seed: 1)
        let original = image.pixels.map { Float($0) / 255 }
        for (tw, th) in [(50, 35), (30, 21), (64, 64 - 17), (7, 3), (1, 1)] {
            let small = image.resizedFloat(width: tw, height: th)
            XCTAssertEqual(small.count, tw * th * 3)
            for c in 0..<3 {
                XCTAssertEqual(mean(small, channel: c), mean(original, channel: c), accuracy: 1e-5, "\(tw) x \(th) channel \(c)")
            }
        }
    }

    /// The separable shrink is the two-dimensional area average, each target pixel the mean of
    /// the source pixels under it weighted by the share of each inside it, at any ratio.
    func testShrinkIsTheDirectAreaAverage() {
        let image = noise(width: 37, height: 23, seed: 3)
        for (tw, th) in [(37, 23), (10, 7), (8, 8), (19, 22), (36, 5), (1, 1)] {
            let fast = image.resizedFloat(width: tw, height: th)
            let sx = Double(image.width) / Double(tw), sy = Double(image.height) / Double(th)
            var worst: Float = 0
            for ty in 0..<th {
                for tx in 0..<tw {
                    var acc = [0.0, 0.0, 0.0], wsum = 0.0
                    for y in 0..<image.height {
                        let wy = min(Double(ty + 1) * sy, Double(y + 1)) - max(Double(ty) * sy, Double(y))
                        if wy <= 0 { continue }
                        for x in 0..<image.width {
                            let wx = min(Double(tx + 1) * sx, Double(x + 1)) - max(Double(tx) * sx, Double(x))
                            if wx <= 0 { continue }
                            for c in 0..<3 { acc[c] += wx * wy * Double(image.pixels[3 * (y * image.width + x) + c]) / 255 }
                            wsum += wx * wy
                        }
                    }
                    for c in 0..<3 { worst = max(worst, abs(fast[3 * (ty * tw + tx) + c] - Float(acc[c] / wsum))) }
                }
            }
            XCTAssertLessThan(worst, 1e-6, "\(tw) x \(th)")
        }
    }

    func testThinLineFadesInProportion() {
        // A 2-pixel white vertical line in a 256 x 256 black image, shrunk 4x.
        var image = RGBImage(width: 256, height: 256)
        for y in 0..<256 { for x in [100, 101] { for c in 0..<3 { image.pixels[3 * (y * 256 + x) + c] = 255 } } }
        let small = image.resizedFloat(width: 64, height: 64)
        for y in [0, 31, 63] {
            for x in 0..<64 {
                let v = small[3 * (y * 64 + x)]
                XCTAssertEqual(v, x == 25 ? 0.5 : 0, accuracy: 1e-6, "column \(x)")
            }
        }
        // The same line across a block boundary (103, 104) splits into two quarter-intensity columns.
        var shifted = RGBImage(width: 256, height: 256)
        for y in 0..<256 { for x in [103, 104] { for c in 0..<3 { shifted.pixels[3 * (y * 256 + x) + c] = 255 } } }
        let s2 = shifted.resized(width: 64, height: 64)
        XCTAssertEqual(s2[25, 10].0, 64) // 0.25 * 255 = 63.75
        XCTAssertEqual(s2[26, 10].0, 64)
        XCTAssertEqual(s2[24, 10].0, 0)
        XCTAssertEqual(s2[27, 10].0, 0)
    }

    func testShrinkingByAWholeFactorIsTheBlockMean() {
        // 3 x 3 blocks, and 6 x 3 (a different whole factor on each side).
        for (w, kx) in [(12, 3), (24, 6)] {
            let image = noise(width: w, height: 9, seed: 2)
            let small = image.resizedFloat(width: 4, height: 3)
            for ty in 0..<3 { for tx in 0..<4 { for c in 0..<3 {
                var s = 0.0
                for y in 0..<3 { for x in 0..<kx { s += Double(image.pixels[3 * ((ty * 3 + y) * w + tx * kx + x) + c]) } }
                XCTAssertEqual(Double(small[3 * (ty * 4 + tx) + c]), s / Double(3 * kx) / 255, accuracy: 1e-6)
            } } }
        }
    }

    func testEnlargingIsBilinearAndKeepsFlatAreasFlat() {
        let flat = RGBImage(width: 3, height: 5, fill: (10, 20, 30)).resized(width: 9, height: 11)
        XCTAssertTrue(stride(from: 0, to: flat.pixels.count, by: 3).allSatisfy { flat.pixels[$0] == 10 && flat.pixels[$0 + 1] == 20 && flat.pixels[$0 + 2] == 30 })
        // Two pixels, 0 and 255, enlarged to four: centres at 0.25 and 0.75 of the way.
        let ramp = RGBImage(width: 2, height: 1, pixels: [0, 0, 0, 255, 255, 255]).resizedFloat(width: 4, height: 1)
        XCTAssertEqual(stride(from: 0, to: 12, by: 3).map { ramp[$0] }, [0, 0.25, 0.75, 1])
    }

    func testSameSizeIsIdentity() {
        let image = noise(width: 5, height: 4, seed: 3)
        XCTAssertEqual(image.resized(width: 5, height: 4), image)
        XCTAssertEqual(image.resizedFloat(width: 5, height: 4), image.pixels.map { Float($0) / 255 })
    }

    /// The shrink's C kernels (vectorised for the processor, each version forced in turn) give
    /// bit for bit the scalar definitions: by a whole factor, the block's integer sum times
    /// 1 / (255 kx ky); else each source row summed into the target columns (share x level, in
    /// double precision, in order), the rows into the target rows, divided by the two totals.
    func testShrinkIsBitForBitTheScalarDefinition() {
        defer { _ = tutor_image_kernels_use(-1) }
        var levels = [Int32(0)]
        for l in Int32(1)...2 where tutor_image_kernels_use(l) == l { levels.append(l) }
        for level in levels { shrinkMatchesScalarDefinition(level: level) }
    }

    func shrinkMatchesScalarDefinition(level: Int32) {
        XCTAssertEqual(tutor_image_kernels_use(level), level)
        // whole factors: the block's integer sum times 1 / (255 kx ky), 16- and 32-bit column sums
        for (w, h, tw, th) in [(128, 96, 64, 48), (128, 96, 16, 12), (24, 600, 3, 2), (30, 21, 10, 7)] {
            let image = noise(width: w, height: h, seed: UInt64(w + h))
            let fast = image.resizedFloat(width: tw, height: th)
            let kx = w / tw, ky = h / th, scale = 1 / (255 * Double(kx * ky))
            var mismatches = 0
            for ty in 0..<th {
                for tx in 0..<tw {
                    for c in 0..<3 {
                        var sum = 0
                        for y in 0..<ky { for x in 0..<kx { sum += Int(image.pixels[3 * ((ty * ky + y) * w + tx * kx + x) + c]) } }
                        if fast[3 * (ty * tw + tx) + c].bitPattern != Float(Double(sum) * scale).bitPattern { mismatches += 1 }
                    }
                }
            }
            XCTAssertEqual(mismatches, 0, "\(w) x \(h) to \(tw) x \(th), kernels \(String(cString: tutor_image_kernels()))")
        }
        let image = noise(width: 131, height: 97, seed: 5)
        for (tw, th) in [(96, 72), (64, 50), (100, 13), (2, 3), (130, 96), (33, 97)] {   // no whole factor on both sides
            let fast = image.resizedFloat(width: tw, height: th)
            let xs = RGBImage.spans(source: image.width, target: tw), ys = RGBImage.spans(source: image.height, target: th)
            var rows = [Double](repeating: 0, count: image.height * tw * 3)
            for y in 0..<image.height {
                for tx in 0..<tw {
                    for c in 0..<3 {
                        var sum = 0.0
                        for t in xs.start[tx]..<xs.start[tx + 1] {
                            sum += xs.weight[t] * Double(Float(image.pixels[3 * (y * image.width + xs.source[t]) + c]) / 255)
                        }
                        rows[(y * tw + tx) * 3 + c] = sum
                    }
                }
            }
            var mismatches = 0
            for ty in 0..<th {
                for i in 0..<(tw * 3) {
                    var acc = 0.0
                    for t in ys.start[ty]..<ys.start[ty + 1] { acc += ys.weight[t] * rows[ys.source[t] * tw * 3 + i] }
                    let expected = Float(acc / (xs.total[i / 3] * ys.total[ty]))
                    if fast[ty * tw * 3 + i].bitPattern != expected.bitPattern { mismatches += 1 }
                }
            }
            XCTAssertEqual(mismatches, 0, "\(tw) x \(th), kernels \(String(cString: tutor_image_kernels()))")
        }
    }

    /// `Resample.plane`'s shrink gives bit for bit the two-dimensional definition (each target
    /// pixel the sum of (x share x y share) x value over the source pixels under it, row by
    /// row, over the sum of the weights), for one, three and four channels and a rectangle.
    func testPlaneShrinkIsBitForBitTheDefinition() {
        var state: UInt64 = 9
        for (w, h, c, rect, tw, th) in [(96, 96, 1, (0, 0, 96, 96), 64, 64), (96, 80, 3, (5, 3, 90, 70), 64, 50),
                                        (40, 30, 4, (0, 0, 40, 30), 17, 11), (50, 50, 3, (10, 10, 30, 30), 30, 7)] {
            let values = (0..<(w * h * c)).map { _ -> Float in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Float(state >> 40) / Float(1 << 24)
            }
            let out = Resample.plane(values, width: w, height: h, channels: c, rect: rect, toWidth: tw, toHeight: th)
            let sx = Double(rect.2) / Double(tw), sy = Double(rect.3) / Double(th)
            var mismatches = 0
            for ty in 0..<th {
                let y0 = Double(ty) * sy, y1 = y0 + sy
                for tx in 0..<tw {
                    let x0 = Double(tx) * sx, x1 = x0 + sx
                    var acc = [Double](repeating: 0, count: c), wsum = 0.0
                    var y = Int(y0)
                    while Double(y) < y1 && y < rect.3 {
                        let wy = min(y1, Double(y + 1)) - max(y0, Double(y))
                        var x = Int(x0)
                        while Double(x) < x1 && x < rect.2 {
                            let wgt = (min(x1, Double(x + 1)) - max(x0, Double(x))) * wy
                            for k in 0..<c { acc[k] += wgt * Double(values[c * ((rect.1 + y) * w + rect.0 + x) + k]) }
                            wsum += wgt
                            x += 1
                        }
                        y += 1
                    }
                    for k in 0..<c where out[c * (ty * tw + tx) + k].bitPattern != Float(acc[k] / wsum).bitPattern { mismatches += 1 }
                }
            }
            XCTAssertEqual(mismatches, 0, "\(w) x \(h) x \(c) to \(tw) x \(th)")
        }
    }
}
