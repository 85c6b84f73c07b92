import Basics
import XCTest
@testable import Engine

/// A heap buffer of floats for tests, freed with the object.
final class Buf {
    let p: FloatPointer
    let n: Int
    init(_ n: Int, _ fill: Float = 0) {
        self.n = n
        p = FloatPointer.allocate(capacity: max(n, 1))
        p.initialize(repeating: fill, count: max(n, 1))
    }
    convenience init(random n: Int, _ rng: inout SplitMix64, scale: Float = 1) {
        self.init(n)
        for i in 0..<n { p[i] = rng.normal() * scale }
    }
    deinit { p.deallocate() }
    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: n)) }
    func zero() { p.update(repeating: 0, count: n) }
    func copy(from o: Buf) { p.update(from: o.p, count: n) }
}

/// `Σ out · weights` in Double: a scalar loss whose gradient with respect to `out` is `weights`.
func dot(_ out: FloatPointer, _ weights: FloatPointer, _ n: Int) -> Double {
    var s = 0.0
    for i in 0..<n { s += Double(out[i]) * Double(weights[i]) }
    return s
}

/// Checks an analytic gradient against central finite differences of `loss` at up to `samples`
/// coordinates of `x` (all of them when it is small). The error is measured relative to the
/// largest gradient entry, so float rounding in tiny entries does not fail the check, while a
/// wrong formula (an error of the size of the gradient itself) does.
func checkGradient(_ name: String, x: FloatPointer, analytic: FloatPointer, count: Int, eps: Float = 1e-2,
                   tolerance: Double = 1e-2, samples: Int = 24, seed: UInt64 = 99,
                   file: StaticString = #filePath, line: UInt = #line, loss: () -> Double) {
    var rng = SplitMix64(seed: seed)
    var scale = 1e-3
    for i in 0..<count { scale = max(scale, Double(abs(analytic[i]))) }
    let indices: [Int] = count <= samples ? Array(0..<count) : (0..<samples).map { _ in Int(rng.next() % UInt64(count)) }
    var worst = 0.0, worstIndex = -1, worstPair = (0.0, 0.0)
    for i in indices {
        let old = x[i]
        x[i] = old + eps
        let lp = loss()
        x[i] = old - eps
        let lm = loss()
        x[i] = old
        let numeric = (lp - lm) / (2 * Double(eps))
        let err = abs(numeric - Double(analytic[i])) / scale
        if err > worst { worst = err; worstIndex = i; worstPair = (Double(analytic[i]), numeric) }
    }
    XCTAssertLessThan(worst, tolerance,
                      "\(name): gradient differs from finite differences at index \(worstIndex): analytic \(worstPair.0), numeric \(worstPair.1) (scale \(scale))",
                      file: file, line: line)
}

func assertClose(_ a: FloatPointer, _ b: FloatPointer, _ n: Int, tol: Float, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    var worst: Float = 0, at = 0
    for i in 0..<n {
        let e = abs(a[i] - b[i]) / max(1, abs(b[i]))
        if e > worst || (e.isNaN && !worst.isNaN) { worst = e; at = i }  // a NaN is the worst
    }
    XCTAssertLessThanOrEqual(worst, tol, "\(what): largest difference \(worst) at index \(at) (\(a[at]) vs \(b[at]))",
                             file: file, line: line)
}
