import FuzzSupport
import Media

// The PNG first frame's reader, through the CPNG shim (libpng's errors returned, never
// longjmp-ed through Swift), within a small size limit so that one execution stays fast.
// A decoded image has as many pixels as its size says, and survives tutor's own lossless
// encoder exactly.
//
// Then the same bytes by the direct path (cpng_direct.c, libdeflate) and by libpng alone: the
// same pixels, or the same error. The one difference allowed is the designed one
// (PNGDirectTests.testDamagedFilesGiveLibpngsAnswer): image data zlib refuses ("IDAT: ...")
// that libdeflate inflates to exactly the image's bytes with the stream's own checksum.
fuzz { bytes in
    let direct = Result { () throws(PNGError) in try PNG.decodeReporting(bytes, maxSide: 512) }
    let libpng = Result { () throws(PNGError) in try PNG.decodeReporting(bytes, maxSide: 512, libpngOnly: true) }
    switch (direct, libpng) {
    case let (.success(a), .success(b)):
        precondition(a.image == b.image, "the direct PNG decode differs from libpng's")
    case let (.failure(a), .failure(b)):
        precondition(a == b, "the direct PNG decode fails otherwise than libpng")
    case let (.success(a), .failure(.corrupt(m))) where a.direct && m.hasPrefix("IDAT"):
        break
    default:
        preconditionFailure("one of the direct PNG decode and libpng's decodes the file, the other does not")
    }
    guard case .success(let decoded) = direct else { return }
    let image = decoded.image
    precondition(image.pixels.count == image.width * image.height * 3, "pixel count does not match the size")
    guard let again = try? PNG.decode(PNG.encode(image), maxSide: 512) else {
        preconditionFailure("a decoded image does not encode and decode again")
    }
    precondition(again == image, "a PNG round trip changed the pixels")
}
