import CJPEG
import Foundation

/// What can go wrong reading or writing a JPEG. Each message says what is wrong
/// in words a user can act on.
public enum JPEGError: Error, Equatable, CustomStringConvertible {
    case empty
    case notJPEG(String)
    case corrupt(String)
    case tooLarge(width: Int, height: Int, limit: Int)
    case tooSmall(width: Int, height: Int)
    case outOfMemory(String)
    case encodeFailed(String)

    public var description: String {
        switch self {
        case .empty: return "the file is empty (0 bytes), not a JPEG"
        case .notJPEG(let m): return "not a JPEG file (\(m))"
        case .corrupt(let m): return "the JPEG is damaged or truncated (\(m))"
        case let .tooLarge(w, h, limit): return "the image is \(w) x \(h) pixels; the limit is \(limit) x \(limit)"
        case let .tooSmall(w, h): return "the image is \(w) x \(h) pixels; it must be at least 2 x 2"
        case .outOfMemory(let m): return "out of memory decoding the JPEG (\(m))"
        case .encodeFailed(let m): return "could not encode the JPEG (\(m))"
        }
    }
}

public enum JPEG {
    /// The default limit on either side, checked from the header before decoding.
    public static let defaultMaxSide = 4096

    /// The header of a JPEG: size and colour model, read without decoding pixels.
    public struct Header: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var components: Int
        public var progressive: Bool
    }

    public static func readHeader(_ data: [UInt8]) throws(JPEGError) -> Header {
        if data.isEmpty { throw .empty }
        if data.count < 3 || data[0] != 0xFF || data[1] != 0xD8 { throw .notJPEG("it does not start with the JPEG marker FF D8") }
        var info = tutor_jpeg_info()
        let rc = data.withUnsafeBufferPointer { tutor_jpeg_read_header($0.baseAddress, $0.count, &info) }
        if rc != Int32(TUTOR_JPEG_OK) { throw .corrupt(message(&info)) }
        return Header(width: Int(info.width), height: Int(info.height), components: Int(info.components),
                      progressive: info.progressive != 0)
    }

    /// Decodes any JPEG libjpeg reads (baseline, progressive, greyscale, CMYK/YCCK) to RGB.
    ///
    /// - Parameters:
    ///   - maxSide: the largest width or height accepted; checked from the header first.
    ///   - minSide: the smallest accepted (images under 2 x 2 carry no layout).
    public static func decode(_ data: [UInt8], maxSide: Int = defaultMaxSide, minSide: Int = 2) throws(JPEGError) -> RGBImage {
        if data.isEmpty { throw .empty }
        if data.count < 3 || data[0] != 0xFF || data[1] != 0xD8 { throw .notJPEG("it does not start with the JPEG marker FF D8") }
        var info = tutor_jpeg_info()
        var out: UnsafeMutablePointer<UInt8>? = nil
        let rc = data.withUnsafeBufferPointer {
            tutor_jpeg_decode_rgb($0.baseAddress, $0.count, Int32(maxSide), 0, &out, &info)
        }
        defer { if let out { tutor_jpeg_free(out) } }
        switch rc {
        case Int32(TUTOR_JPEG_OK): break
        case Int32(TUTOR_JPEG_TOO_LARGE): throw .tooLarge(width: Int(info.width), height: Int(info.height), limit: maxSide)
        case Int32(TUTOR_JPEG_NO_MEMORY): throw .outOfMemory(message(&info))
        default: throw .corrupt(message(&info))
        }
        let w = Int(info.width), h = Int(info.height)
        if w < minSide || h < minSide { throw .tooSmall(width: w, height: h) }
        let pixels = Array(UnsafeBufferPointer(start: out!, count: w * h * 3))
        return RGBImage(width: w, height: h, pixels: pixels)
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
