/// A video of float RGB frames in [0, 1], the form the Reasoner renders and the
/// Teacher scores.
///
/// `pixels` is `[frames, height, width, 3]`, row-major.
public struct Video: Sendable, Equatable {
    public let frames: Int
    public let height: Int
    public let width: Int
    /// `[frames, height, width, 3]`
    public var pixels: [Float]

    public init(frames: Int, height: Int, width: Int, pixels: [Float]) {
        precondition(pixels.count == frames * height * width * 3,
                     "Video: \(pixels.count) floats for \(frames) x \(height) x \(width) x 3")
        self.frames = frames
        self.height = height
        self.width = width
        self.pixels = pixels
    }

    public init(frames: Int, height: Int, width: Int) {
        self.init(frames: frames, height: height, width: width,
                  pixels: [Float](repeating: 0, count: frames * height * width * 3))
    }

    /// One frame as floats; `image` must match the video's size.
    public init(images: [RGBImage]) {
        precondition(!images.isEmpty, "Video needs at least one frame")
        let w = images[0].width, h = images[0].height
        var p = [Float](); p.reserveCapacity(images.count * w * h * 3)
        for im in images {
            precondition(im.width == w && im.height == h, "Video: frames of different sizes")
            p += RGBImage.unitFloats(im.pixels)
        }
        self.init(frames: images.count, height: h, width: w, pixels: p)
    }

    public var frameSize: Int { height * width * 3 }

    /// Frame `t` rounded to 8-bit.
    public func image(_ t: Int) -> RGBImage {
        let base = t * frameSize
        var out = [UInt8](repeating: 0, count: frameSize)
        for i in 0..<frameSize {
            let v = pixels[base + i] * 255
            out[i] = UInt8(max(0, min(255, v.rounded())))
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    public var images: [RGBImage] { (0..<frames).map(image) }
}
