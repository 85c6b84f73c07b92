import FuzzSupport
import Media

// The first frame's reader: the header alone (what `tutor validate` looks at first), then a
// full decode to RGB through the CJPEG shim, within a small size limit so that one execution
// stays fast. A decoded image must have exactly the size the header declared.
fuzz { bytes in
    let header = try? JPEG.readHeader(bytes)
    if let image = try? JPEG.decode(bytes, maxSide: 512) {
        precondition(image.pixels.count == image.width * image.height * 3, "pixel count does not match the size")
        precondition(header.map { $0.width == image.width && $0.height == image.height } ?? false,
                     "the header is unreadable or its size differs from the decoded image's")
    }
}
