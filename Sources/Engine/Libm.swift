import System
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// libc and libm in one place, for the reference kernels and the few scalar paths.
@inline(__always) func _tanh(_ x: Double) -> Double { tanh(x) }
@inline(__always) func _exp(_ x: Double) -> Double { exp(x) }
@inline(__always) func _log(_ x: Double) -> Double { log(x) }
@inline(__always) func _sin(_ x: Double) -> Double { sin(x) }
@inline(__always) func _cos(_ x: Double) -> Double { cos(x) }

/// Monotonic clock in seconds (System's `Clock`, under the name the engine's timing uses).
@inline(__always) public func monotonicSeconds() -> Double { Clock.monotonicSeconds() }
