import Foundation
import System
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM, SIGINT, SIGHUP and SIGCHLD reach the loop as bytes on a pipe (the self-pipe
/// trick): the handler only writes, which is async-signal-safe.
enum SignalPipe {
    nonisolated(unsafe) static var readFD: Int32 = -1
    nonisolated(unsafe) static var writeFD: Int32 = -1

    static func install() {
        if readFD >= 0 { return }
        guard let p = ProcessControl.pipe(flags: O_CLOEXEC | O_NONBLOCK) else { return }
        readFD = p.read; writeFD = p.write
        for s in [SIGTERM, SIGINT, SIGHUP, SIGCHLD] {
            signal(s) { sig in
                var b = UInt8(truncatingIfNeeded: sig)
                _ = write(SignalPipe.writeFD, &b, 1)
            }
        }
        signal(SIGPIPE, SIG_IGN)
    }

    static func take() -> [Int32] {
        var buf = [UInt8](repeating: 0, count: 64)
        var out: [Int32] = []
        while true {
            let n = read(readFD, &buf, buf.count)
            if n <= 0 { break }
            out += buf[..<n].map { Int32($0) }
        }
        return out
    }
}
