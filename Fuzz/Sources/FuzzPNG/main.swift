import FuzzSupport
import Media

// The PNG first frame's reader, through the CPNG shim (libpng's errors returned, never
// longjmp-ed through Swift), within a small size limit so that one execution stays fast.
// A decoded image has as many pixels as its size says, and survives tutor's own lossless
// encoder exactly.
fuzz { bytes in
    guard let image = try? PNG.decode(bytes, maxSide: 512) else { return }
    precondition(image.pixels.count == image.width * image.height * 3, "pixel count does not match the size")
    guard let again = try? PNG.decode(PNG.encode(image), maxSide: 512) else {
        preconditionFailure("a decoded image does not encode and decode again")
    }
    precondition(again == image, "a PNG round trip changed the pixels")
}
