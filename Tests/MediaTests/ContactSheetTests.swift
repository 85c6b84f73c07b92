import XCTest
@testable import Media

final class ContactSheetTests: XCTestCase {
    let colours: [(UInt8, UInt8, UInt8)] = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]

    func testGridLayoutIsExact() {
        // Three 2 x 2 frames, each with a distinct top-left pixel, 2 columns, 3x, 1-pixel separators.
        let frames = colours.map { c -> RGBImage in
            var im = RGBImage(width: 2, height: 2, fill: c)
            im.pixels[0] = 7; im.pixels[1] = 8; im.pixels[2] = 9
            return im
        }
        let sheet = ContactSheet.render(frames: frames, style: .init(scale: 3, columns: 2, separator: 1,
                                                                     separatorColour: (50, 50, 50), labels: false))
        XCTAssertEqual([sheet.width, sheet.height], [2 * 6 + 3, 2 * 6 + 3])
        // Separators: the border, the line between columns, the line between rows, the empty fourth cell.
        for (x, y) in [(0, 0), (7, 3), (3, 7), (14, 14), (10, 10)] { XCTAssert(sheet[x, y] == (50, 50, 50), "(\(x), \(y))") }
        // Frame 0 at (1, 1), frame 1 at (8, 1), frame 2 at (1, 8); each source pixel is a 3 x 3 block.
        for (t, (ox, oy)) in [(1, 1), (8, 1), (1, 8)].enumerated() {
            for dy in 0..<3 { for dx in 0..<3 { XCTAssert(sheet[ox + dx, oy + dy] == (7, 8, 9), "frame \(t) corner") } }
            XCTAssert(sheet[ox + 3, oy] == colours[t], "frame \(t) second pixel")
            XCTAssert(sheet[ox + 5, oy + 5] == colours[t], "frame \(t) last pixel")
        }
    }

    func testSixteenFramesMakeALargeSquareSheetWithLabels() throws {
        var video = Video(frames: 16, height: 64, width: 64)
        for t in 0..<16 { for i in 0..<(64 * 64) { video.pixels[t * video.frameSize + 3 * i] = Float(t) / 15 } }
        let sheet = ContactSheet.render(video)
        XCTAssertEqual([sheet.width, sheet.height], [4 * 256 + 5 * 2, 4 * 256 + 5 * 2])
        // Frame 5 (row 1, column 1) far from its label: its red level.
        let x0 = 2 + 256 + 2, y0 = 2 + 256 + 2
        XCTAssertEqual(sheet[x0 + 200, y0 + 200].0, UInt8((5.0 / 15 * 255).rounded()))
        // Its label: a black box with white pixels of the digit 5 (dot = 4 pixels, padding 4).
        XCTAssert(sheet[x0 + 1, y0 + 1] == (0, 0, 0))
        XCTAssert(sheet[x0 + 4, y0 + 4] == (255, 255, 255), "top-left of the glyph 5")
        XCTAssert(sheet[x0 + 12, y0 + 8] == (0, 0, 0), "row 1 of the glyph 5 lights only its left column")
        // Frame 10 has two digits: its box is wider.
        let x10 = 2 + 2 * (256 + 2), y10 = 2 + 2 * (256 + 2)
        XCTAssert(sheet[x10 + 4 + 16, y10 + 4] == (255, 255, 255), "the 0 of 10")
        // It survives JPEG at quality 95.
        let back = try JPEG.decode(try JPEG.encode(sheet))
        XCTAssertEqual([back.width, back.height], [sheet.width, sheet.height])
    }

    func testColumnsDefaultToAGridNoWiderThanTall() {
        let frame = RGBImage(width: 4, height: 4, fill: (1, 2, 3))
        let style = ContactSheet.Style(scale: 1, separator: 0, labels: false)
        for (n, columns, rows) in [(1, 1, 1), (2, 2, 1), (5, 3, 2), (16, 4, 4), (17, 5, 4)] {
            let sheet = ContactSheet.render(frames: Array(repeating: frame, count: n), style: style)
            XCTAssertEqual([sheet.width, sheet.height], [columns * 4, rows * 4], "\(n) frames")
        }
    }
}
