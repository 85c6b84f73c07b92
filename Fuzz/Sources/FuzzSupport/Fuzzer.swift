import CFuzzDriver
#if canImport(Glibc)
import Glibc
#endif

/// Runs libFuzzer with this program's arguments (`-runs=N`, a corpus folder, ...), calling
/// `body` with each input; exits with libFuzzer's status. A crash or a failed precondition in
/// `body` is a finding: libFuzzer writes the input that caused it.
public func fuzz(_ body: @escaping ([UInt8]) -> Void) -> Never {
    target = body
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        target!(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    })
}

nonisolated(unsafe) private var target: (([UInt8]) -> Void)?
