import CJPEG
import Foundation

/// What can go wrong reading or writing a JPEG. Each message says what is wrong
/// in words a user can act on.
public enum JPEGError: Error, Equatable, CustomStringConvertible {
    case empty
    case notJPEG(String)
    case corrupt(String)
    case tooLarge(width: Int, height: Int, limit: Int)
    case tooSmall(width: Int, height: Int, minimum: Int)
    case unsupported(String)
    case outOfMemory(String)
    case encodeFailed(String)

    public var description: String {
        switch self {
        case .empty: return "the file is empty (0 bytes), not a JPEG"
        case .notJPEG(let m): return "not a JPEG file (\(m))"
        case .corrupt(let m): return "the JPEG is damaged or truncated (\(m))"
        case let .tooLarge(w, h, limit): return "the image is \(w) x \(h) pixels; the limit is \(limit) x \(limit)"
        case let .tooSmall(w, h, minimum): return "the image is \(w) x \(h) pixels; it must be at least \(minimum) x \(minimum)"
        case .unsupported(let m): return "the JPEG cannot be converted to RGB (\(m))"
        case .outOfMemory(let m): return "out of memory decoding the JPEG (\(m))"
        case .encodeFailed(let m): return "could not encode the JPEG (\(m))"
        }
    }
}

public enum JPEG {
    /// The default limit on either side, checked from the header before decoding.
    public static let defaultMaxSide = 4096

    /// How a JPEG stores colour (libjpeg's J_COLOR_SPACE of the file).
    public enum ColorSpace: Sendable, Equatable {
        case grey, yCbCr, rgb, cmyk, ycck, unknown
    }

    /// The header of a JPEG: size and colour model, read without decoding pixels.
    public struct Header: Sendable, Equatable {
        public var width: Int
        public var height: Int
        /// Colour components as stored: 1 grey, 3 YCbCr or RGB, 4 CMYK or YCCK.
        public var components: Int
        public var colorSpace: ColorSpace
        public var progressive: Bool
    }

    public static func readHeader(_ data: [UInt8]) throws(JPEGError) -> Header {
        try checkMagic(data)
        var info = tutor_jpeg_info()
        let rc = data.withUnsafeBufferPointer { tutor_jpeg_read_header($0.baseAddress, $0.count, &info) }
        if rc != Int32(TUTOR_JPEG_OK) { throw .corrupt(message(&info)) }
        let space: ColorSpace
        switch info.color_space {
        case Int32(TUTOR_JPEG_CS_GRAYSCALE): space = .grey
        case Int32(TUTOR_JPEG_CS_YCBCR): space = .yCbCr
        case Int32(TUTOR_JPEG_CS_RGB): space = .rgb
        case Int32(TUTOR_JPEG_CS_CMYK): space = .cmyk
        case Int32(TUTOR_JPEG_CS_YCCK): space = .ycck
        default: space = .unknown
        }
        return Header(width: Int(info.width), height: Int(info.height), components: Int(info.components),
                      colorSpace: space, progressive: info.progressive != 0)
    }

    /// Decodes any JPEG libjpeg reads (baseline, progressive, greyscale, CMYK/YCCK) to RGB.
    ///
    /// The size limits are checked from the header before any pixel is decoded.
    /// Damaged data that libjpeg would paper over with grey (a truncated file,
    /// corrupt entropy-coded data) is an error, not a half-grey picture.
    ///
    /// - Parameters:
    ///   - maxSide: the largest width or height accepted.
    ///   - minSide: the smallest accepted (a 1-pixel image carries no layout).
    public static func decode(_ data: [UInt8], maxSide: Int = defaultMaxSide, minSide: Int = 2) throws(JPEGError) -> RGBImage {
        try decode(data, maxSide: maxSide, minSide: minSide, atLeast: nil).image
    }

    /// Decodes at the smallest of libjpeg's scales k/8 whose result is at least `atLeast`
    /// (nil: full size), for a caller that shrinks the picture anyway; the limits apply to the
    /// file's own size, which is returned beside the decoded picture.
    /// At 1/8 and 1/4 a baseline file takes a direct path that writes the same bytes as libjpeg
    /// (`libjpegOnly` turns it off, to compare the two).
    public static func decode(_ data: [UInt8], maxSide: Int = defaultMaxSide, minSide: Int = 2,
                              atLeast: (width: Int, height: Int)?, libjpegOnly: Bool = false) throws(JPEGError) -> (image: RGBImage, width: Int, height: Int) {
        try decodeReporting(data, maxSide: maxSide, minSide: minSide, atLeast: atLeast, libjpegOnly: libjpegOnly).decoded
    }

    /// `decode(_:maxSide:minSide:atLeast:libjpegOnly:)`, and whether the direct path decoded it.
    public static func decodeReporting(_ data: [UInt8], maxSide: Int = defaultMaxSide, minSide: Int = 2,
                                       atLeast: (width: Int, height: Int)?, libjpegOnly: Bool = false)
        throws(JPEGError) -> (decoded: (image: RGBImage, width: Int, height: Int), direct: Bool) {
        try checkMagic(data)
        var info = tutor_jpeg_info()
        var out: UnsafeMutablePointer<UInt8>? = nil
        let rc = data.withUnsafeBufferPointer {
            tutor_jpeg_decode_rgb_reduced($0.baseAddress, $0.count, Int32(clamping: maxSide), Int32(clamping: minSide), 0,
                                          Int32(clamping: atLeast?.width ?? 0), Int32(clamping: atLeast?.height ?? 0),
                                          libjpegOnly ? 1 : 0, &out, &info)
        }
        defer { if let out { tutor_jpeg_free(out) } }
        switch rc {
        case Int32(TUTOR_JPEG_OK): break
        case Int32(TUTOR_JPEG_TOO_LARGE): throw .tooLarge(width: Int(info.width), height: Int(info.height), limit: maxSide)
        case Int32(TUTOR_JPEG_TOO_SMALL): throw .tooSmall(width: Int(info.width), height: Int(info.height), minimum: minSide)
        case Int32(TUTOR_JPEG_UNSUPPORTED): throw .unsupported(message(&info))
        case Int32(TUTOR_JPEG_NO_MEMORY): throw .outOfMemory(message(&info))
        default: throw .corrupt(message(&info))
        }
        let w = Int(info.out_width), h = Int(info.out_height)
        let pixels = Array(UnsafeBufferPointer(start: out!, count: w * h * 3))
        return ((RGBImage(width: w, height: h, pixels: pixels), Int(info.width), Int(info.height)), info.direct != 0)
    }

    /// Refuses what cannot be a JPEG before libjpeg sees it.
    private static func checkMagic(_ data: [UInt8]) throws(JPEGError) {
        if data.isEmpty { throw .empty }
        if data.count < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF {
            let start = data.prefix(4).map { String($0, radix: 16, uppercase: true).leftPadded(2) }.joined(separator: " ")
            throw .notJPEG("it starts with \(start), not the JPEG marker FF D8 FF")
        }
    }

    public static func decode(contentsOf url: URL, maxSide: Int = defaultMaxSide) throws -> RGBImage {
        let data = try Data(contentsOf: url)
        return try decode([UInt8](data), maxSide: maxSide)
    }

    /// Encodes RGB. By default at quality 95 with full-resolution chroma (4:4:4):
    /// chroma subsampling shrinks small coloured objects at low resolution.
    public static func encode(_ image: RGBImage, quality: Int = 95, subsample444: Bool = true) throws(JPEGError) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var msg = [CChar](repeating: 0, count: 200)
        let rc = image.pixels.withUnsafeBufferPointer { px in
            msg.withUnsafeMutableBufferPointer { m in
                tutor_jpeg_encode_rgb(px.baseAddress, Int32(image.width), Int32(image.height), Int32(max(1, min(100, quality))),
                                      subsample444 ? 1 : 0, &out, &size, m.baseAddress)
            }
        }
        defer { if let out { tutor_jpeg_free(out) } }
        if rc != Int32(TUTOR_JPEG_OK) || out == nil {
            throw .encodeFailed(String(decoding: msg.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return Array(UnsafeBufferPointer(start: out!, count: size))
    }

    private static func message(_ info: inout tutor_jpeg_info) -> String {
        withUnsafeBytes(of: &info.message) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[0..<end], as: UTF8.self)
        }
    }
}

extension String {
    fileprivate func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
