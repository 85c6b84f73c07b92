import CBLAS
import Dispatch
import Foundation

/// The engine's thread count. Every op runs its parallel part on the engine's own threads
/// (`parallelFor`); OpenBLAS is kept single-threaded and runs inside those threads (see Gemm.swift
/// for why), so there is one pool and no nesting.
///
/// Work is split into `count` contiguous chunks that do not depend on how the system
/// schedules them, and no chunk adds into another's output, so a result depends only on
/// `count`, never on timing.
public enum Threads {
    nonisolated(unsafe) private static var configured = 1
    nonisolated(unsafe) private static var blasThreads = -1

    /// The number of threads every op uses.
    public static var count: Int { configured }

    /// Sets the thread count for every later op (1 or more).
    public static func set(_ n: Int) {
        precondition(n >= 1, "Threads.set: thread count must be at least 1, got \(n)")
        configured = n
        blasThreads = -1  // re-apply on the next product, in case someone else changed it
    }

    /// Before OpenBLAS is called from the engine's threads: OpenBLAS itself runs single-threaded.
    @inline(__always) static func blasSerial() { setBLAS(1) }

    @inline(__always) private static func setBLAS(_ n: Int) {
        if blasThreads != n {
            openblas_set_num_threads(Int32(n))
            blasThreads = n
        }
    }
}

/// Runs `body` over `0..<n` split into at most `Threads.count` contiguous ranges, one per
/// thread; small loops (under `grain` items per thread) run inline on the calling thread.
@inline(__always)
func parallelFor(_ n: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = min(Threads.count, max(1, n / max(grain, 1)))
    if threads <= 1 || n <= 1 {
        if n > 0 { body(0..<n) }
        return
    }
    // The chunks write disjoint outputs through raw pointers; the closure is only shared for
    // the duration of this call.
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = n * t / threads
            let hi = n * (t + 1) / threads
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Runs `body(i)` for every i in `0..<n` on up to `Threads.count` threads, each taking the next
/// item as it becomes free, so a thread slowed down by other processes holds up less. Items must
/// write disjoint outputs; each item's arithmetic does not depend on which thread runs it, so the
/// results are the same on every run.
func parallelItems(_ n: Int, _ body: (Int) -> Void) {
    let threads = min(Threads.count, n)
    if threads <= 1 {
        for i in 0..<n { body(i) }
        return
    }
    let lock = NSLock()
    nonisolated(unsafe) var next = 0
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            while true {
                lock.lock()
                let i = next
                next += 1
                lock.unlock()
                if i >= n { return }
                body(i)
            }
        }
    }
}
