import CPNG

/// What can go wrong reading or writing a PNG. Each message says what is wrong in words a user
/// can act on.
public enum PNGError: Error, Equatable, CustomStringConvertible {
    case empty
    case notPNG(String)
    case corrupt(String)
    case tooLarge(width: Int, height: Int, limit: Int)
    case tooSmall(width: Int, height: Int, minimum: Int)
    case outOfMemory(String)
    case encodeFailed(String)

    public var description: String {
        switch self {
        case .empty: return "the file is empty (0 bytes), not a PNG"
        case .notPNG(let m): return "not a PNG file (\(m))"
        case .corrupt(let m): return "the PNG is damaged or truncated (\(m))"
        case let .tooLarge(w, h, limit): return "the image is \(w) x \(h) pixels; the limit is \(limit) x \(limit)"
        case let .tooSmall(w, h, minimum): return "the image is \(w) x \(h) pixels; it must be at least \(minimum) x \(minimum)"
        case .outOfMemory(let m): return "out of memory decoding the PNG (\(m))"
        case .encodeFailed(let m): return "could not encode the PNG (\(m))"
        }
    }
}

/// PNG first frames (the benchmarks of this field ship PNG); frames tutor writes stay JPEG.
public enum PNG {
    /// Decodes any PNG libpng reads (1 to 16 bits, grey, palette, RGB, with or without alpha,
    /// interlaced or not) to 8-bit RGB; transparency is composited over white.
    ///
    /// The size limits are checked from the header before any pixel is decoded. An 8-bit RGB or
    /// grey file, with or without alpha (what video frames are), without interlacing or a tRNS
    /// chunk is decoded by a direct path, libdeflate's inflate and the row filters undone in C,
    /// to libpng's bytes (`libpngOnly` turns it off, to compare the two).
    public static func decode(_ data: [UInt8], maxSide: Int = JPEG.defaultMaxSide, minSide: Int = 2,
                              libpngOnly: Bool = false) throws(PNGError) -> RGBImage {
        try decodeReporting(data, maxSide: maxSide, minSide: minSide, libpngOnly: libpngOnly).image
    }

    /// `decode(_:maxSide:minSide:libpngOnly:)`, and whether the direct path decoded it.
    public static func decodeReporting(_ data: [UInt8], maxSide: Int = JPEG.defaultMaxSide, minSide: Int = 2,
                                       libpngOnly: Bool = false) throws(PNGError) -> (image: RGBImage, direct: Bool) {
        if data.isEmpty { throw .empty }
        if !libpngOnly, let direct = decodeDirect(data, maxSide: maxSide, minSide: minSide) { return (direct, true) }
        var info = tutor_png_info()
        var out: UnsafeMutablePointer<UInt8>? = nil
        let rc = data.withUnsafeBufferPointer {
            tutor_png_decode_rgb($0.baseAddress, $0.count, Int32(clamping: maxSide), Int32(clamping: minSide), &out, &info)
        }
        defer { if let out { tutor_png_free(out) } }
        switch rc {
        case Int32(TUTOR_PNG_OK): break
        case Int32(TUTOR_PNG_NOT_PNG):
            let start = data.prefix(4).map { String($0, radix: 16, uppercase: true) }.map { $0.count == 1 ? "0" + $0 : $0 }
            throw .notPNG("it starts with \(start.joined(separator: " ")), not the PNG signature 89 50 4E 47")
        case Int32(TUTOR_PNG_TOO_LARGE): throw .tooLarge(width: Int(info.width), height: Int(info.height), limit: maxSide)
        case Int32(TUTOR_PNG_TOO_SMALL): throw .tooSmall(width: Int(info.width), height: Int(info.height), minimum: minSide)
        case Int32(TUTOR_PNG_NO_MEMORY): throw .outOfMemory(message(&info))
        default: throw .corrupt(message(&info))
        }
        let w = Int(info.width), h = Int(info.height)
        return (RGBImage(width: w, height: h, pixels: Array(UnsafeBufferPointer(start: out!, count: w * h * 3))), false)
    }

    /// The direct path (`tutor_png_decode_direct`), straight into the image's bytes; nil when it
    /// does not take the file. The size comes from IHDR, always the first chunk (bytes 16-23);
    /// the direct path checks it again with everything else.
    private static func decodeDirect(_ data: [UInt8], maxSide: Int, minSide: Int) -> RGBImage? {
        guard data.count > 24, data[12] == 0x49, data[13] == 0x48, data[14] == 0x44, data[15] == 0x52 else { return nil }
        func be32(_ at: Int) -> Int { data[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        let w = be32(16), h = be32(20)
        guard w >= 1, h >= 1, w <= maxSide || maxSide <= 0, h <= maxSide || maxSide <= 0, w <= 1_000_000, h <= 1_000_000,
              w * h <= 1 << 31 else { return nil }
        var taken = false
        let pixels = [UInt8](unsafeUninitializedCapacity: w * h * 3) { buf, count in
            var dw: Int32 = 0, dh: Int32 = 0
            taken = data.withUnsafeBufferPointer {
                tutor_png_decode_direct($0.baseAddress, $0.count, Int32(clamping: maxSide), Int32(clamping: minSide),
                                        buf.baseAddress, buf.count, &dw, &dh) == 1
            } && Int(dw) == w && Int(dh) == h
            count = taken ? w * h * 3 : 0
        }
        return taken ? RGBImage(width: w, height: h, pixels: pixels) : nil
    }

    /// Encodes 8-bit RGB, losslessly.
    public static func encode(_ image: RGBImage) throws(PNGError) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        var msg = [CChar](repeating: 0, count: 200)
        let rc = image.pixels.withUnsafeBufferPointer { px in
            msg.withUnsafeMutableBufferPointer { m in
                tutor_png_encode_rgb(px.baseAddress, Int32(image.width), Int32(image.height), &out, &size, m.baseAddress)
            }
        }
        defer { if let out { tutor_png_free(out) } }
        if rc != Int32(TUTOR_PNG_OK) || out == nil {
            throw .encodeFailed(String(decoding: msg.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return Array(UnsafeBufferPointer(start: out!, count: size))
    }

    private static func message(_ info: inout tutor_png_info) -> String {
        withUnsafeBytes(of: &info.message) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[0..<end], as: UTF8.self)
        }
    }
}
