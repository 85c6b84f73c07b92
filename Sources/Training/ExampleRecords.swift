import Foundation
import ModelFiles
import Reasoner
#if canImport(Glibc)
import Glibc
#endif

/// Tracked examples on disk, one fixed-size record each, so that a training set of any size
/// is read a batch at a time and never held in memory.
///
/// A record: layer count, token count and `PromptTokenizer.maxTokens` token ids (Int32), the
/// patch inputs as bytes (pixel value x 255: the model's view is 8-bit pictures), the layer
/// inputs and the trajectory in view pixels (Float32), the pixel scale and a flag for
/// interpolated motion (Float32). About 26 KB.
public enum ExampleRecords {
    static let ints = 2 + PromptTokenizer.maxTokens
    static let patchBytes = Scene.patches * Scene.patchFeatures
    static let floats = Trajectory.maxLayers * Scene.layerFeatures + Trajectory.count + 2
    public static let recordBytes = ints * 4 + patchBytes + floats * 4

    public static func encode(_ e: TrackedExample) -> [UInt8] {
        var out = [UInt8](); out.reserveCapacity(recordBytes)
        func put32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        let toks = Array(e.scene.tokens.prefix(PromptTokenizer.maxTokens))
        put32(UInt32(e.scene.layerCount)); put32(UInt32(toks.count))
        for j in 0..<PromptTokenizer.maxTokens { put32(UInt32(truncatingIfNeeded: j < toks.count ? toks[j] : 0)) }
        for v in e.scene.patchInputs { out.append(UInt8(min(255, max(0, ((v + 0.5) * 255).rounded())))) }
        for v in e.scene.layerInputs { put32(v.bitPattern) }
        for v in e.trajectory.offsets { put32(v.bitPattern) }
        put32(e.pixelScale.bitPattern); put32((e.interpolated ? Float(1) : 0).bitPattern)
        precondition(out.count == recordBytes)
        return out
    }

    public static func decode(_ b: UnsafeRawBufferPointer) -> TrackedExample {
        func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
        let layers = Int(u32(0)), nt = Int(u32(4))
        let tokens = (0..<nt).map { Int(Int32(bitPattern: u32(8 + 4 * $0))) }
        var o = ints * 4
        let patch = (0..<patchBytes).map { Float(b[o + $0]) / 255 - 0.5 }
        o += patchBytes
        let lf = Trajectory.maxLayers * Scene.layerFeatures
        let layerIn = (0..<lf).map { Float(bitPattern: u32(o + 4 * $0)) }
        o += 4 * lf
        let traj = (0..<Trajectory.count).map { Float(bitPattern: u32(o + 4 * $0)) }
        o += 4 * Trajectory.count
        let scale = Float(bitPattern: u32(o)), interp = Float(bitPattern: u32(o + 4)) != 0
        let scene = Scene(prompt: "", tokens: tokens, patchInputs: patch, layerInputs: layerIn, layerCount: layers)
        var moving = 0
        for l in 0..<layers {
            let i = (l * Trajectory.frames + Trajectory.frames - 1) * 2
            if traj[i] * traj[i] + traj[i + 1] * traj[i + 1] > 1 { moving += 1 }
        }
        return TrackedExample(scene: scene, trajectory: Trajectory(offsets: traj), pixelScale: scale, interpolated: interp, movingLayers: moving)
    }

    /// Appends records to a file written under a temporary name and renamed when finished.
    public final class Writer {
        let path: String, temp: String
        let handle: FileHandle
        public private(set) var count = 0
        public init(path: String) throws {
            self.path = path; temp = path + ".partial"
            _ = FileManager.default.createFile(atPath: temp, contents: nil)
            guard let h = FileHandle(forWritingAtPath: temp) else { throw ReasonerError.file("\(temp) cannot be created") }
            handle = h
        }
        public func append(_ e: TrackedExample) throws {
            try handle.write(contentsOf: ExampleRecords.encode(e))
            count += 1
        }
        public func finish() throws {
            try handle.synchronize(); try handle.close()
            if rename(temp, path) != 0 { throw ReasonerError.file("\(path): \(String(cString: strerror(errno)))") }
        }
    }

    /// Reads records by index (one `pread` each).
    public final class Reader: @unchecked Sendable {
        let fd: Int32
        public let count: Int
        public init(path: String) throws {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw ReasonerError.file("\(path): \(String(cString: strerror(errno)))") }
            var st = stat()
            fstat(fd, &st)
            if Int(st.st_size) % ExampleRecords.recordBytes != 0 {
                close(fd)
                throw ReasonerError.file("\(path) is \(st.st_size) bytes, not a whole number of \(ExampleRecords.recordBytes)-byte records")
            }
            count = Int(st.st_size) / ExampleRecords.recordBytes
        }
        deinit { close(fd) }
        public func read(_ i: Int) -> TrackedExample {
            precondition(i >= 0 && i < count, "ExampleRecords: record \(i) of \(count)")
            var buf = [UInt8](repeating: 0, count: ExampleRecords.recordBytes)
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, ExampleRecords.recordBytes, off_t(i * ExampleRecords.recordBytes)) }
            precondition(n == ExampleRecords.recordBytes, "ExampleRecords: short read of record \(i)")
            return buf.withUnsafeBytes { ExampleRecords.decode($0) }
        }
    }
}
