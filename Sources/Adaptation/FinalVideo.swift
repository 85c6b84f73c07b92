import Media
import Reasoner
import Teacher

/// The final video as the user gets it: drawn at the first frame's size (`FullFrames`, capped
/// by `frame_long_side`), written as JPEG, and judged on those frames decoded back and
/// area-averaged to the teacher's working size.
public enum FinalVideo {
    /// A contact sheet tile's longer side, about: small frames are enlarged to it by pixel
    /// replication, large ones shrunk to it, so the sheet stays readable and of a sensible size.
    public static let sheetTile = 256

    /// The frames of a task's final video, one at a time.
    public static func renderer(firstFrame: RGBImage, scene: Scene, trajectory: Trajectory, longSide: Int) -> FullFrames.Renderer {
        let size = FullFrames.outputSize(width: firstFrame.width, height: firstFrame.height, longSide: longSide)
        return FullFrames.Renderer(firstFrame: firstFrame, working: scene.working, trajectory: trajectory, size: size)
    }

    /// One written frame as the teacher sees it: `[h, w, 3]` at the working size.
    public static func judgeable(_ image: RGBImage, working: LayeredFrame) -> [Float] {
        image.width == working.width && image.height == working.height
            ? image.pixels.map { Float($0) / 255 } : image.resizedFloat(width: working.width, height: working.height)
    }

    /// A frame as a contact sheet tile: shrunk to `sheetTile` when larger (area averaging).
    public static func sheetTile(_ image: RGBImage) -> RGBImage {
        if max(image.width, image.height) <= sheetTile { return image }
        let s = Picture.scaled(width: image.width, height: image.height, longSide: sheetTile)
        return image.resized(width: s.width, height: s.height)
    }

    /// The contact sheet of tiles made by `sheetTile`: small frames enlarged by whole pixels.
    public static func contactSheet(_ tiles: [RGBImage]) -> RGBImage {
        let long = max(tiles[0].width, tiles[0].height)
        return ContactSheet.render(frames: tiles, style: ContactSheet.Style(scale: max(1, sheetTile / long)))
    }

    /// Draws the final video, through JPEG in memory as `frames/NN.jpg` would be written, and
    /// judges it as the verdict does (what `tutor bench strategies` counts).
    public static func judge(_ teacher: Teacher, firstFrame: RGBImage, scene: Scene, trajectory: Trajectory, longSide: Int) -> Judgment {
        let r = renderer(firstFrame: firstFrame, scene: scene, trajectory: trajectory, longSide: longSide)
        var pixels: [Float] = []
        for f in 0..<Trajectory.frames {
            let bytes = try! JPEG.encode(r.frame(f), quality: AsWritten.quality, subsample444: true)
            pixels += judgeable(try! JPEG.decode(bytes, maxSide: 1 << 16), working: scene.working)
        }
        return teacher.judge(Video(frames: Trajectory.frames, height: scene.working.height, width: scene.working.width, pixels: pixels))
    }
}
