import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The sd_notify protocol, natively: one datagram per message to the AF_UNIX socket named
/// by `$NOTIFY_SOCKET` (a path, or `@name` for an abstract socket), as systemd's
/// `Type=notify` services use it. Without `$NOTIFY_SOCKET` every call does nothing.
public final class SystemdNotify {
    private let fd: Int32
    private var address = sockaddr_un()
    private var addressLength = socklen_t(0)
    /// Half of `$WATCHDOG_USEC` in seconds, when systemd asks for watchdog pings.
    public let watchdogInterval: Double?

    public var enabled: Bool { fd >= 0 }

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        var interval: Double? = nil
        if let usec = environment["WATCHDOG_USEC"].flatMap(Double.init), usec > 0 {
            // WATCHDOG_PID, when set, names the process the watchdog is for.
            if let p = environment["WATCHDOG_PID"].flatMap(Int32.init), p != getpid() {} else {
                interval = usec / 2e6
            }
        }
        watchdogInterval = interval
        guard let path = environment["NOTIFY_SOCKET"], path.count > 1,
              path.hasPrefix("/") || path.hasPrefix("@") else { fd = -1; return }
        var bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { fd = -1; return }
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace: a leading NUL
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        // An abstract name's length counts exactly its bytes; a path's includes its NUL.
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        addressLength = socklen_t(pathOffset + bytes.count + (bytes[0] == 0 ? 0 : 1))
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Sends one message such as "READY=1" or "STATUS=...". Returns false when it could not
    /// be sent (or there is no socket); the daemon goes on either way. Never blocks: a
    /// listener that stopped reading loses status lines rather than stalling the daemon.
    @discardableResult
    public func send(_ message: String) -> Bool {
        guard fd >= 0 else { return false }
        let bytes = Array(message.utf8)
        let n = withUnsafePointer(to: &address) { ap in
            ap.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT), sa, addressLength) }
            }
        }
        return n == bytes.count
    }
}
