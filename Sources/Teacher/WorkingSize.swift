import Media

/// The size the teacher judges a task at, and the layer cut runs at: the first frame's aspect,
/// as small as the rule file's objects allow.
///
/// Judging costs in proportion to the pixels, so the working size is the smallest of a ladder
/// of long sides (64, 96, 128, 192, 256, 384, 512, and the frame's own when smaller; the
/// shorter side at least 64) at which
/// every object of the rule file keeps its shape: at least three quarters of the share of the
/// frame its colour covers at the reference size (the frame at a long side of at most 512),
/// and at least twice the speck size (0.1% of the frame) where the object is that large at the
/// reference. Thin lines that fade into their neighbours' colours when shrunk, and small dots
/// that would fall under the speck size, push the working size up; a picture of large flat
/// shapes is judged at 64 pixels a side. The project's own tasks (64 x 64 drawings) are judged
/// at 64, as the model was trained.
public struct WorkingSize: Sendable, Equatable {
    public var width: Int
    public var height: Int

    public static let longSides = [64, 96, 128, 192, 256, 384, 512]
    /// An object at least this many specks large at the reference must stay at least that large.
    static let speckMargin: Double = 2
    /// The share of the frame an object must keep against the reference.
    static let keptShare: Double = 0.75

    public init(width: Int, height: Int) { self.width = width; self.height = height }

    /// `width x height` scaled so that the longer side is `longSide`, never enlarged.
    public static func scaled(width: Int, height: Int, longSide: Int) -> WorkingSize {
        if max(width, height) <= longSide { return WorkingSize(width: width, height: height) }
        let s = Double(longSide) / Double(max(width, height))
        return WorkingSize(width: max(1, Int((Double(width) * s).rounded())), height: max(1, Int((Double(height) * s).rounded())))
    }

    /// The shorter side is at least this (or the frame's own): the Reasoner's view of the
    /// layers is 64 pixels a side, and a working frame narrower than that would be enlarged for
    /// it, blurring thin lines.
    public static let minShortSide = 64

    /// The candidate sizes, smallest first, the reference last.
    public static func candidates(width: Int, height: Int) -> [WorkingSize] {
        var out: [WorkingSize] = []
        for l in longSides where l < max(width, height) {
            let s = scaled(width: width, height: height, longSide: l)
            if min(s.width, s.height) >= min(minShortSide, min(width, height)) { out.append(s) }
        }
        if max(width, height) <= longSides.last! { out.append(WorkingSize(width: width, height: height)) }
        else if out.last != scaled(width: width, height: height, longSide: longSides.last!) {
            out.append(scaled(width: width, height: height, longSide: longSides.last!))
        }
        return out
    }

    /// Pixels of each object's colour in the first frame at `size`, in the rule file's order.
    /// One pass for all objects (`ColorMask.hardCounts`); at the frame's own size straight from
    /// its bytes, without a float copy.
    public static func objectPixels(_ rules: RuleFile, _ image: RGBImage, at size: WorkingSize) -> [Int] {
        if size.width == image.width && size.height == image.height {
            let colors = rules.objects.map(\.color), tolerances = rules.objects.map(\.tolerance)
            return image.pixels.withUnsafeBufferPointer {
                ColorMask.hardCounts(bytes: $0, count: image.pixels.count / 3, colors: colors, tolerances: tolerances)
            }
        }
        return objectPixels(rules, frame: image.resizedFloat(width: size.width, height: size.height))
    }

    /// The same for a frame already at the size (floats in [0, 1], `[h, w, 3]`).
    static func objectPixels(_ rules: RuleFile, frame: [Float]) -> [Int] {
        let colors = rules.objects.map(\.color), tolerances = rules.objects.map(\.tolerance)
        return frame.withUnsafeBufferPointer { ColorMask.hardCounts($0, count: frame.count / 3, colors: colors, tolerances: tolerances) { $0 } }
    }

    /// The working size for a task.
    public static func choose(rules: RuleFile, firstFrame image: RGBImage) -> WorkingSize {
        chooseWithFrame(rules: rules, firstFrame: image).size
    }

    /// The working size for a task, and the first frame at that size (floats in [0, 1],
    /// `[h, w, 3]`), which choosing computes on the way: for a caller that cuts the frame next.
    public static func chooseWithFrame(rules: RuleFile, firstFrame image: RGBImage) -> (size: WorkingSize, frame: [Float]) {
        let sizes = candidates(width: image.width, height: image.height)
        let reference = sizes.last!
        let refCounts = objectPixels(rules, image, at: reference)
        let refN = Double(reference.width * reference.height)
        for size in sizes.dropLast() {
            let n = Double(size.width * size.height), speck = 0.001 * n
            let frame = image.resizedFloat(width: size.width, height: size.height)
            let counts = objectPixels(rules, frame: frame)
            let ok = zip(counts, refCounts).allSatisfy { c, r in
                if r == 0 { return true }   // absent at every size: validation says so
                let share = Double(c) / n, refShare = Double(r) / refN
                if share < keptShare * refShare { return false }
                return refShare < speckMargin * 0.001 || Double(c) >= speckMargin * speck
            }
            if ok { return (size, frame) }
        }
        return (reference, image.resizedFloat(width: reference.width, height: reference.height))
    }
}
