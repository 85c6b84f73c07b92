/// Every frame of a video in one grid image, enlarged so a person can see what the
/// model drew: at 64 x 64 a ball is a few pixels, at 4x it is a disc.
///
/// Frames are enlarged by pixel replication (nearest neighbour), never smoothed, so
/// what you see is exactly what was generated. Frames run left to right, top to
/// bottom, with thin separators between them and, optionally, each frame's index in
/// its top-left corner.
public enum ContactSheet {
    public struct Style: Sendable, Equatable {
        /// Each frame pixel becomes `scale x scale` sheet pixels.
        public var scale: Int
        /// Frames per row; nil picks the smallest count that makes the grid at least as tall as wide.
        public var columns: Int?
        /// Width in pixels of the lines between (and around) frames.
        public var separator: Int
        public var separatorColour: (UInt8, UInt8, UInt8)
        /// Draw each frame's index (0-based) in its top-left corner.
        public var labels: Bool

        public init(scale: Int = 4, columns: Int? = nil, separator: Int = 2,
                    separatorColour: (UInt8, UInt8, UInt8) = (96, 96, 96), labels: Bool = true) {
            precondition(scale >= 1 && separator >= 0, "ContactSheet.Style: scale >= 1, separator >= 0")
            self.scale = scale
            self.columns = columns
            self.separator = separator
            self.separatorColour = separatorColour
            self.labels = labels
        }

        public static func == (a: Style, b: Style) -> Bool {
            a.scale == b.scale && a.columns == b.columns && a.separator == b.separator && a.labels == b.labels
                && a.separatorColour == b.separatorColour
        }
    }

    /// The sheet of every frame of `video` (rounded to 8 bits).
    public static func render(_ video: Video, style: Style = Style()) -> RGBImage {
        render(frames: video.images, style: style)
    }

    /// The sheet of `frames`, which must all have the same size.
    ///
    /// With `c` columns and `r` rows of `w x h` frames the sheet is
    /// `c * w * scale + (c + 1) * separator` wide and likewise tall.
    public static func render(frames: [RGBImage], style: Style = Style()) -> RGBImage {
        precondition(!frames.isEmpty, "ContactSheet needs at least one frame")
        let w = frames[0].width, h = frames[0].height
        precondition(frames.allSatisfy { $0.width == w && $0.height == h }, "ContactSheet: frames of different sizes")
        let n = frames.count
        let columns = max(1, min(n, style.columns ?? Int((Double(n).squareRoot()).rounded(.up))))
        let rows = (n + columns - 1) / columns
        let s = style.scale, sep = style.separator
        let cellW = w * s, cellH = h * s
        let sheetW = columns * cellW + (columns + 1) * sep
        let sheetH = rows * cellH + (rows + 1) * sep
        var sheet = RGBImage(width: sheetW, height: sheetH, fill: style.separatorColour)

        sheet.pixels.withUnsafeMutableBufferPointer { out in
            for (t, frame) in frames.enumerated() {
                let x0 = sep + (t % columns) * (cellW + sep)   // cell origin in the sheet
                let y0 = sep + (t / columns) * (cellH + sep)
                frame.pixels.withUnsafeBufferPointer { src in
                    for y in 0..<cellH {
                        let srcRow = (y / s) * w
                        let dstRow = (y0 + y) * sheetW + x0
                        for x in 0..<cellW {
                            let si = 3 * (srcRow + x / s), di = 3 * (dstRow + x)
                            out[di] = src[si]; out[di + 1] = src[si + 1]; out[di + 2] = src[si + 2]
                        }
                    }
                }
                if style.labels { drawLabel(String(t), into: out, sheetWidth: sheetW, x: x0, y: y0, cellW: cellW, cellH: cellH) }
            }
        }
        return sheet
    }

    // MARK: - Frame index labels

    /// 3 x 5 bitmap digits, one row per entry, bit 2 the leftmost column.
    private static let glyphs: [[UInt8]] = [
        [7, 5, 5, 5, 7], [2, 6, 2, 2, 7], [7, 1, 7, 4, 7], [7, 1, 7, 1, 7], [5, 5, 7, 1, 1],
        [7, 4, 7, 1, 7], [7, 4, 7, 5, 7], [7, 1, 1, 2, 2], [7, 5, 7, 5, 7], [7, 5, 7, 1, 7],
    ]

    /// White digits on a black box in the cell's top-left corner, each glyph pixel
    /// drawn as `dot x dot`; clipped to the cell.
    private static func drawLabel(_ text: String, into out: UnsafeMutableBufferPointer<UInt8>, sheetWidth: Int,
                                  x: Int, y: Int, cellW: Int, cellH: Int) {
        let dot = max(1, min(cellW, cellH) / 64)
        let pad = dot
        let digits = text.compactMap { $0.wholeNumberValue }
        let boxW = min(cellW, pad + digits.count * 4 * dot), boxH = min(cellH, 5 * dot + 2 * pad)
        for by in 0..<boxH { for bx in 0..<boxW {
            let i = 3 * ((y + by) * sheetWidth + x + bx)
            out[i] = 0; out[i + 1] = 0; out[i + 2] = 0
        } }
        for (k, d) in digits.enumerated() {
            for gy in 0..<5 { for gx in 0..<3 where glyphs[d][gy] & (4 >> gx) != 0 {
                for py in 0..<dot { for px in 0..<dot {
                    let lx = pad + (k * 4 + gx) * dot + px, ly = pad + gy * dot + py
                    if lx >= boxW || ly >= boxH { continue }
                    let i = 3 * ((y + ly) * sheetWidth + x + lx)
                    out[i] = 255; out[i + 1] = 255; out[i + 2] = 255
                } }
            } }
        }
    }
}
