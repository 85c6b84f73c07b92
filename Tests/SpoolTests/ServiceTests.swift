import Foundation
import TestSupport
import XCTest
@testable import Spool
import System
#if canImport(Glibc)
import Glibc
#endif

/// The daemon as a systemd service: sd_notify on a real socket, and the unit file checked by
/// systemd's own tools.
final class ServiceTests: XCTestCase {
    /// A datagram socket standing in for systemd's notify socket.
    final class NotifyListener {
        let fd: Int32
        let name: String

        /// `abstract`: bind `@name` in the abstract namespace instead of a path.
        init(path: String, abstract: Bool) throws {
            let sock = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            fd = sock
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            var bytes = Array(path.utf8)
            if abstract { bytes.insert(0, at: 0) }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
            let len = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count + (abstract ? 0 : 1))
            let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, len) } }
            if rc != 0 { throw XCTSkip("cannot bind a unix socket: \(String(cString: strerror(errno)))") }
            name = abstract ? "@" + path : path
        }

        deinit { close(fd) }

        /// Every message received within `timeout` seconds, until `stop` says enough.
        func receive(timeout: Double, until stop: ([String]) -> Bool) -> [String] {
            var out: [String] = []
            let end = Date().addingTimeInterval(timeout)
            var buf = [UInt8](repeating: 0, count: 4096)
            while Date() < end && !stop(out) {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 100) > 0 {
                    let n = recv(fd, &buf, buf.count, 0)
                    if n > 0 { out += String(decoding: buf[..<n], as: UTF8.self).split(separator: "\n").map(String.init) }
                }
            }
            return out
        }
    }

    private func checkNotify(abstract: Bool) throws {
        let tutor = try tutorExecutable()
        let t = try TempFolder("notify")
        let listener = try NotifyListener(path: abstract ? "tutor-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" : t.path + "/notify.sock", abstract: abstract)
        let runner = try t.verdictRunner()
        let d = try DaemonProcess(tutor: tutor, spool: t.spool, arguments: ["--runner", runner, "--settle", "30", "--rescan", "60"],
                                  environment: ["NOTIFY_SOCKET": listener.name, "WATCHDOG_USEC": "300000"],
                                  log: t.path + "/daemon.log")
        var got = listener.receive(timeout: 10) { m in
            m.contains("READY=1") && m.contains { $0.hasPrefix("STATUS=") } && m.filter { $0 == "WATCHDOG=1" }.count >= 2
        }
        XCTAssertTrue(got.contains("READY=1"), "\(got)\n\(d.log)")
        XCTAssertTrue(got.contains { $0.hasPrefix("STATUS=") && $0.contains("running") }, "\(got)")
        XCTAssertGreaterThanOrEqual(got.filter { $0 == "WATCHDOG=1" }.count, 2, "\(got)")
        // A finished task shows in STATUS=.
        XCTAssertEqual(rename(try t.makeTask("one"), t.state("incoming", "one")), 0)
        got = listener.receive(timeout: 10) { m in m.contains { $0.hasPrefix("STATUS=") && $0.contains("1 done") } }
        XCTAssertTrue(got.contains { $0.hasPrefix("STATUS=") && $0.contains("1 done") }, "\(got)")
        d.signal(SIGTERM)
        got = listener.receive(timeout: 10) { $0.contains("STOPPING=1") }
        XCTAssertTrue(got.contains("STOPPING=1"), "\(got)")
        XCTAssertEqual(d.waitExit(), 0)
    }

    func testNotifySocketPath() throws { try checkNotify(abstract: false) }

    func testNotifySocketAbstract() throws { try checkNotify(abstract: true) }

    /// The owner record survives a write and a read, and names this process as alive.
    func testOwnerRecordNamesALiveProcess() throws {
        let t = try TempFolder("owner")
        let me = DaemonIdentity.current()
        XCTAssertGreaterThan(me.startTicks, 0)
        var o = OwnerRecord.mine(attempt: 2, identity: me)
        o.workerPID = 4242
        try o.write(task: t.path)
        XCTAssertEqual(OwnerRecord.read(task: t.path), o)
        XCTAssertEqual(Sys.processStartTicks(me.pid), o.startTicks)
        // A pid with another start time is another process.
        XCTAssertNotEqual(Sys.processStartTicks(1), o.startTicks)
    }

    /// A rename never replaces an existing folder, even an empty one.
    func testRenameNeverReplaces() throws {
        let t = try TempFolder("rename")
        XCTAssertEqual(mkdir(t.path + "/a", 0o755), 0)
        XCTAssertEqual(mkdir(t.path + "/b", 0o755), 0)
        XCTAssertEqual(Files.renameNoReplace(t.path + "/a", t.path + "/b"), EEXIST)
        XCTAssertEqual(try Sys.moveUnique(t.path + "/a", into: t.path, name: "b"), "b~2")
        XCTAssertTrue(exists(t.path + "/b") && exists(t.path + "/b~2") && !exists(t.path + "/a"))
    }

    /// systemd/tutor.service passes `systemd-analyze verify` and scores an exposure of at
    /// most 2.0 in `systemd-analyze security --offline=yes`.
    func testUnitFileVerifiesAndIsHardened() throws {
        let candidates: [String] = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        guard let analyze = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw XCTSkip("systemd-analyze is not installed (Debian package systemd): the unit file is not checked")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let t = try TempFolder("unit")
        // verify needs the ExecStart binary to exist: check a copy of the unit that points at
        // a stand-in executable, everything else unchanged.
        let unitText = try String(contentsOfFile: root + "/systemd/tutor.service", encoding: .utf8)
        let fakeTutor = try t.script("tutor", "exit 0\n")
        let unit = t.path + "/tutor.service"
        try Data(unitText.replacingOccurrences(of: "/usr/local/bin/tutor", with: fakeTutor).utf8).write(to: URL(fileURLWithPath: unit))

        let verify = try run(analyze, ["verify", unit])
        // verify also reports on units the host lacks; only lines about our unit count.
        let ours = verify.output.split(separator: "\n").filter { $0.contains("tutor.service") }
        XCTAssertEqual(verify.status, 0, verify.output)
        XCTAssertTrue(ours.isEmpty, verify.output)

        let sec = try run(analyze, ["security", "--offline=yes", unit])
        let line = sec.output.split(separator: "\n").first { $0.contains("Overall exposure level") } ?? ""
        let score = line.split(separator: " ").compactMap { Double($0) }.first
        XCTAssertNotNil(score, sec.output)
        XCTAssertLessThanOrEqual(score ?? 99, 2.0, String(line))
    }

    private func run(_ exe: String, _ args: [String]) throws -> (status: Int32, output: String) {
        let r = try runProgram(exe, args, mergeOutput: true)
        return (r.status, r.stdout)
    }
}
