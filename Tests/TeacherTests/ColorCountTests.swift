import XCTest
@testable import Teacher

final class ColorCountTests: XCTestCase {
    /// The 8-bit pixel counts (a run followed four pixels at a time) equal the general ones on
    /// pictures of runs of every length, noise, and colours within and beyond the tolerances.
    func testByteCountsEqualTheGeneralCounts() {
        var state: UInt64 = 0x1234_5678
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        let palette: [(UInt8, UInt8, UInt8)] = [(220, 40, 30), (225, 44, 30), (30, 60, 210), (255, 255, 255), (0, 0, 0), (30, 61, 210)]
        let colors: [SIMD3<Float>] = [SIMD3(220, 40, 30), SIMD3(30, 60, 210), SIMD3(250, 250, 250)]
        let tolerances: [Float] = [10, 0.5, 30]
        var counted = 0
        for trial in 0..<50 {
            let n = 1 + Int(next() % 3000)
            var px: [UInt8] = []
            while px.count < 3 * n {
                let run = trial % 2 == 0 ? 1 + Int(next() % 40) : 1 + Int(next() % 5)
                let c = next() % 7 == 0 ? (UInt8(truncatingIfNeeded: next()), UInt8(truncatingIfNeeded: next()), UInt8(truncatingIfNeeded: next()))
                                        : palette[Int(next() % UInt64(palette.count))]
                for _ in 0..<run { px += [c.0, c.1, c.2] }
            }
            px = Array(px.prefix(3 * n))
            let general = px.withUnsafeBufferPointer {
                ColorMask.hardCounts($0, count: n, colors: colors, tolerances: tolerances) { Float($0) / 255 }
            }
            let bytes = px.withUnsafeBufferPointer { ColorMask.hardCounts(bytes: $0, count: n, colors: colors, tolerances: tolerances) }
            XCTAssertEqual(bytes, general, "trial \(trial), \(n) pixels")
            counted += general.reduce(0, +)
        }
        XCTAssertGreaterThan(counted, 10_000, "pixels of the listed colours over all trials")
    }
}
