import Foundation
import Media
import Reasoner
import Teacher

/// What a user will look at: a video's frames as written to disk (JPEG, quality 95, 4:4:4)
/// and decoded back. Every judgment tutor makes, inside a strategy and in the verdict, is
/// made on this, so that a strategy never keeps a video whose written frames would fail.
public enum AsWritten {
    public static let quality = 95

    /// Encodes every frame as `frames/NN.jpg` would be and decodes it back.
    public static func roundTrip(_ video: Video) -> Video {
        var images: [RGBImage] = []
        images.reserveCapacity(video.frames)
        for t in 0..<video.frames {
            // Encoding an in-memory image and decoding what we encoded cannot fail
            // short of memory exhaustion.
            let bytes = try! JPEG.encode(video.image(t), quality: quality, subsample444: true)
            images.append(try! JPEG.decode(bytes))
        }
        return Video(images: images)
    }
}

/// One judged video: the hard judgment and the teacher's loss on the frames as written.
public struct JudgedVideo: Sendable {
    /// The final trajectory the video was drawn from (nil for a video given as pixels).
    public var trajectory: Trajectory?
    /// The video as rendered at the teacher's working size, `[frames, h, w, 3]`.
    public var rendered: Video
    /// The frames through JPEG (encoded and decoded back), `[frames, h, w, 3]`.
    public var video: Video
    public var judgment: Judgment
    /// The teacher's loss on `video` (the full rule file, whatever loss the strategy optimised).
    public var loss: Float

    public var passed: Bool { judgment.passed }

    /// Round-trips a rendered video through JPEG and judges the result.
    public init(teacher: Teacher, video rendered: Video, trajectory: Trajectory? = nil) {
        self.trajectory = trajectory
        self.rendered = rendered
        video = AsWritten.roundTrip(rendered)
        judgment = teacher.judge(video)
        loss = teacher.score(video, gradient: nil).loss
    }

    /// Better for keeping: passing beats failing, then the lower loss.
    public func isBetter(than other: JudgedVideo) -> Bool {
        if passed != other.passed { return passed }
        return loss < other.loss
    }
}
