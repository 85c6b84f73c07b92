import FuzzSupport
import Media

// The first frame's reader: the header alone (what `tutor validate` looks at first), then a
// full decode to RGB through the CJPEG shim, within a small size limit so that one execution
// stays fast. A decoded image must have exactly the size the header declared.
//
// Then a training example's solution frame: the same bytes at 1/8 and at 1/4, once by the
// direct path (cjpeg_reduced.c) and once by libjpeg alone. Both must give the same answer: the
// same pixels, or the same error.
fuzz { bytes in
    let header = try? JPEG.readHeader(bytes)
    if let image = try? JPEG.decode(bytes, maxSide: 512) {
        precondition(image.pixels.count == image.width * image.height * 3, "pixel count does not match the size")
        precondition(header.map { $0.width == image.width && $0.height == image.height } ?? false,
                     "the header is unreadable or its size differs from the decoded image's")
    }
    let quarter = header.map { (width: ($0.width + 7) / 8 + 1, height: 1) } ?? (width: 1, height: 1)
    for atLeast in [(width: 1, height: 1), quarter] {
        let direct = Result { () throws(JPEGError) in try JPEG.decode(bytes, maxSide: 512, atLeast: atLeast) }
        let libjpeg = Result { () throws(JPEGError) in try JPEG.decode(bytes, maxSide: 512, atLeast: atLeast, libjpegOnly: true) }
        switch (direct, libjpeg) {
        case let (.success(a), .success(b)):
            precondition(a.image.width == b.image.width && a.image.height == b.image.height && a.image.pixels == b.image.pixels,
                         "the direct reduced decode differs from libjpeg's")
        case let (.failure(a), .failure(b)):
            precondition("\(a)" == "\(b)", "the direct reduced decode fails otherwise than libjpeg")
        default:
            preconditionFailure("one of the direct reduced decode and libjpeg's decodes the file, the other does not")
        }
    }
}
