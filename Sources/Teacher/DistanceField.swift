/// Distances on the pixel grid, computed once per task from the first frame.
///
/// Shortest paths over 8-connected pixel centres (steps of 1 and sqrt 2), with a binary
/// heap: exact for that graph, and within 8% of the Euclidean distance in open space.
enum DistanceField {
    /// Distance from the nearest source pixel, moving only through passable pixels.
    ///
    /// - Parameters:
    ///   - sources: `[h * w]`, nonzero where the distance is 0.
    ///   - passable: `[h * w]`, nonzero where a path may go; nil means everywhere.
    /// - Returns: `[h * w]`, in pixels; `.infinity` where no source is reachable.
    static func distances(sources: [UInt8], passable: [UInt8]?, width w: Int, height h: Int) -> [Float] {
        let n = w * h
        var dist = [Float](repeating: .infinity, count: n)
        var heap = MinHeap()
        for i in 0..<n where sources[i] != 0 { dist[i] = 0; heap.push(0, i) }
        let diag = Float(2).squareRoot()
        while let (d, p) = heap.pop() {
            if d > dist[p] { continue }
            let x = p % w, y = p / w
            for dy in -1...1 {
                for dx in -1...1 where dx != 0 || dy != 0 {
                    let nx = x + dx, ny = y + dy
                    if nx < 0 || ny < 0 || nx >= w || ny >= h { continue }
                    let q = ny * w + nx
                    if let pass = passable, pass[q] == 0 { continue }
                    let nd = d + (dx != 0 && dy != 0 ? diag : 1)
                    if nd < dist[q] { dist[q] = nd; heap.push(nd, q) }
                }
            }
        }
        return dist
    }

    /// Signed distance to a region, in pixels: negative inside (minus the distance to the
    /// nearest outside pixel centre, plus one half), positive outside (the distance to the
    /// nearest inside pixel centre, minus one half). Zero lies on the region's edge.
    static func signed(region: [UInt8], width w: Int, height h: Int) -> [Float] {
        let outside = region.map { $0 == 0 ? UInt8(1) : 0 }
        let toInside = distances(sources: region, passable: nil, width: w, height: h)
        let toOutside = distances(sources: outside, passable: nil, width: w, height: h)
        var sd = [Float](repeating: 0, count: w * h)
        let big = Float(w + h)
        for i in 0..<(w * h) {
            sd[i] = region[i] != 0 ? -(min(toOutside[i], big) - 0.5) : min(toInside[i], big) - 0.5
        }
        return sd
    }
}

/// A binary min-heap of (key, value) pairs.
struct MinHeap {
    private var keys: [Float] = []
    private var values: [Int] = []

    mutating func push(_ k: Float, _ v: Int) {
        keys.append(k); values.append(v)
        var i = keys.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if keys[parent] <= keys[i] { break }
            keys.swapAt(parent, i); values.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> (Float, Int)? {
        guard let k0 = keys.first else { return nil }
        let v0 = values[0]
        let lastK = keys.removeLast(), lastV = values.removeLast()
        if !keys.isEmpty {
            keys[0] = lastK; values[0] = lastV
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < keys.count && keys[l] < keys[m] { m = l }
                if r < keys.count && keys[r] < keys[m] { m = r }
                if m == i { break }
                keys.swapAt(m, i); values.swapAt(m, i)
                i = m
            }
        }
        return (k0, v0)
    }
}
