import Media
import Reasoner

// Helpers shared by the test targets (a library target: it is linked into tests only).

/// A small scene drawn directly at 64 x 64: white background, a black wall, a red target and a
/// yellow ball at (bx, by).
public func smallScene(bx: Int = 10, by: Int = 30, prompt: String = "Move the yellow ball to the red square.") -> Scene {
    var img = RGBImage(width: 64, height: 64, fill: (255, 255, 255))
    func rect(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: (UInt8, UInt8, UInt8)) {
        for y in y0..<y1 { for x in x0..<x1 { let i = (y * 64 + x) * 3; img.pixels[i] = c.0; img.pixels[i + 1] = c.1; img.pixels[i + 2] = c.2 } }
    }
    rect(20, 8, 23, 50, (32, 32, 32))
    rect(48, 10, 56, 18, (208, 32, 32))
    rect(bx - 2, by - 2, bx + 3, by + 3, (242, 194, 0))
    return Scene(prompt: prompt, firstFrame: img)
}
