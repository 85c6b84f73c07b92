import CInotify
import Foundation
import System
#if canImport(Glibc)
import Glibc
#endif

/// What happened in `incoming/`, as the daemon's loop needs to know it.
enum IncomingEvent: Equatable {
    /// A folder was renamed into incoming/ whole: ready at once.
    case renamedIn(String)
    /// Something was created or changed in or at this name.
    case changed(String)
    /// The name left incoming/ (claimed, moved away or deleted).
    case removed(String)
    /// The kernel dropped events: only a full rescan can say what is there.
    case overflow
    /// incoming/ itself was removed or moved away: a rescan creates it again and watches it.
    case incomingGone
}

/// Watches `incoming/` and each task folder in it with libinotifytools, on one thread of its
/// own: the library keeps global state, is not thread-safe, and hands out each event in a
/// static buffer that the next call overwrites, so everything about it lives on this thread
/// and events are copied into `IncomingEvent`s at once.
///
/// The daemon's loop receives the events through `take()`; a byte on `wakeFD` says there are
/// some. inotify is for speed only: the loop rescans periodically whatever this reports.
final class IncomingWatcher: @unchecked Sendable {
    private let incoming: String
    private let lock = NSLock()
    private var pending: [IncomingEvent] = []
    private var resyncRequested = false
    private var stopRequested = false
    /// The loop polls the read end; this thread writes a byte when events are pending.
    let wakeFD: Int32
    private let wakeWriteFD: Int32
    /// The main loop writes here to wake this thread (stop, resync).
    private let controlReadFD: Int32
    private let controlWriteFD: Int32
    private var thread: Thread?
    private let started = DispatchSemaphore(value: 0)
    private var startError: String?

    // Owned by the watcher thread only.
    private var incomingWD: Int32 = -1
    /// Task name -> watch descriptor of its folder.
    private var folderWD: [String: Int32] = [:]
    private var nameOfWD: [Int32: String] = [:]
    private var inotifyFD: Int32 = -1
    private var watchLimitLogged = false

    private static let incomingMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF
    private static let folderMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB

    init(incoming: String) {
        self.incoming = incoming
        let wake = ProcessControl.pipe(flags: O_CLOEXEC | O_NONBLOCK) ?? (-1, -1)
        wakeFD = wake.read; wakeWriteFD = wake.write
        let control = ProcessControl.pipe(flags: O_CLOEXEC | O_NONBLOCK) ?? (-1, -1)
        controlReadFD = control.read; controlWriteFD = control.write
    }

    deinit {
        for fd in [wakeFD, wakeWriteFD, controlReadFD, controlWriteFD] { close(fd) }
    }

    /// Starts the thread and returns once incoming/ and its folders are watched.
    func start() throws {
        let t = Thread { [unowned self] in self.run() }
        t.name = "tutor-inotify"
        thread = t
        t.start()
        started.wait()
        if let e = startError { throw SpoolError.watch(e) }
    }

    /// Asks the thread to stop; returns at once.
    func stop() {
        lock.lock(); stopRequested = true; lock.unlock()
        var b: UInt8 = 1
        _ = write(controlWriteFD, &b, 1)
    }

    /// Asks the thread to re-list incoming/ and watch any folder it missed.
    func requestResync() {
        lock.lock(); resyncRequested = true; lock.unlock()
        var b: UInt8 = 1
        _ = write(controlWriteFD, &b, 1)
    }

    /// The events since the last call, oldest first.
    func take() -> [IncomingEvent] {
        var drain = [UInt8](repeating: 0, count: 256)
        while read(wakeFD, &drain, drain.count) > 0 {}
        lock.lock(); defer { lock.unlock() }
        let out = pending
        pending.removeAll(keepingCapacity: true)
        return out
    }

    // MARK: the watcher thread

    private func post(_ events: [IncomingEvent]) {
        guard !events.isEmpty else { return }
        lock.lock(); pending += events; lock.unlock()
        var b: UInt8 = 1
        _ = write(wakeWriteFD, &b, 1)
    }

    private func run() {
        let before = Self.inotifyDescriptors()
        if inotifytools_initialize() == 0 {
            startError = "inotify could not be initialised: \(SystemError.text(inotifytools_error()))"
            started.signal(); return
        }
        // The library keeps its descriptor to itself and opens it without close-on-exec; find
        // it, so that this thread can poll it beside its control pipe and workers do not
        // inherit it.
        inotifyFD = Self.inotifyDescriptors().subtracting(before).first ?? -1
        if inotifyFD >= 0 { _ = fcntl(inotifyFD, F_SETFD, FD_CLOEXEC) }
        if inotifytools_watch_file(incoming + "/", Self.incomingMask) == 0 {
            startError = "cannot watch \(incoming): \(SystemError.text(inotifytools_error()))"
            inotifytools_cleanup()
            started.signal(); return
        }
        incomingWD = inotifytools_wd_from_filename(incoming + "/")
        syncWatches()
        started.signal()

        var fds = [pollfd(fd: controlReadFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0)]
        while true {
            lock.lock()
            let stopNow = stopRequested
            let resync = resyncRequested
            resyncRequested = false
            lock.unlock()
            if stopNow { break }
            if resync { syncWatches() }

            if inotifyFD >= 0 {
                fds[0].revents = 0; fds[1].revents = 0
                let r = poll(&fds, 2, -1)
                if r < 0 && errno != EINTR { break }
                if fds[0].revents != 0 {
                    var drain = [UInt8](repeating: 0, count: 64)
                    while read(controlReadFD, &drain, drain.count) > 0 {}
                }
                if fds[1].revents != 0 { drainEvents(timeout: 0) }
            } else {
                // Without the descriptor: block in the library for at most a second at a time.
                drainEvents(timeout: 1)
            }
        }
        inotifytools_cleanup()
    }

    /// Reads every queued event (the first one waiting up to `timeout` whole seconds).
    private func drainEvents(timeout: Int) {
        var out: [IncomingEvent] = []
        var wait = timeout
        while let e = inotifytools_next_events(wait, 1) {
            wait = 0
            // Copy at once: the library reuses its buffer on the next call.
            let wd = e.pointee.wd
            let mask = e.pointee.mask
            let len = Int(e.pointee.len)
            var name = ""
            if len > 0 {
                let base = UnsafeRawPointer(e) + MemoryLayout<inotify_event>.size
                name = String(cString: base.assumingMemoryBound(to: CChar.self))
            }
            handle(wd: wd, mask: mask, name: name, into: &out)
            if out.count >= 4096 { post(out); out.removeAll() }
        }
        post(out)
    }

    private func handle(wd: Int32, mask: UInt32, name: String, into out: inout [IncomingEvent]) {
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            out.append(.overflow)
            syncWatches()
            return
        }
        if wd == incomingWD && wd >= 0 && mask & UInt32(IN_IGNORED | IN_MOVE_SELF | IN_DELETE_SELF) != 0 {
            // incoming/ itself was removed or moved away: its watch and its folders' are gone
            // (or follow the old folder). The daemon's rescan creates incoming/ again and the
            // resync after it watches the new one.
            if mask & UInt32(IN_MOVE_SELF) != 0 { inotifytools_remove_watch_by_wd(wd) }
            incomingWD = -1
            for (_, w) in folderWD { inotifytools_remove_watch_by_wd(w) }
            folderWD.removeAll(); nameOfWD.removeAll()
            out.append(.incomingGone)
            return
        }
        if mask & UInt32(IN_IGNORED) != 0 {
            if let task = nameOfWD.removeValue(forKey: wd) { folderWD.removeValue(forKey: task) }
            return
        }
        let isFolder = mask & UInt32(IN_ISDIR) != 0
        if wd == incomingWD {
            if name.isEmpty || name.hasPrefix(".") { return }
            if mask & UInt32(IN_MOVED_FROM | IN_DELETE) != 0 {
                unwatch(name)
                out.append(.removed(name))
            } else if mask & UInt32(IN_MOVED_TO) != 0 {
                if isFolder { watch(name); out.append(.renamedIn(name)) } else { out.append(.changed(name)) }
            } else if mask & UInt32(IN_CREATE) != 0 {
                // The folder's first files can arrive before its watch: the loop looks at the
                // whole folder when it decides, so a change event is all it needs.
                if isFolder { watch(name) }
                out.append(.changed(name))
            } else {
                out.append(.changed(name))
            }
        } else if let task = nameOfWD[wd] {
            out.append(.changed(task))
        }
    }

    private func watch(_ name: String) {
        if let old = folderWD[name] {
            // A new folder under a name whose old watch is still registered.
            inotifytools_remove_watch_by_wd(old)
            nameOfWD.removeValue(forKey: old); folderWD.removeValue(forKey: name)
        }
        let path = incoming + "/" + name + "/"
        if inotifytools_watch_file(path, Self.folderMask) == 0 {
            let e = inotifytools_error()
            if e == ENOSPC && !watchLimitLogged {
                watchLimitLogged = true
                SpoolLog.line("inotify watch limit reached (fs.inotify.max_user_watches): folders in incoming/ are found by rescans only")
            }
            return
        }
        let wd = inotifytools_wd_from_filename(path)
        if wd >= 0 { folderWD[name] = wd; nameOfWD[wd] = name }
    }

    private func unwatch(_ name: String) {
        guard let wd = folderWD.removeValue(forKey: name) else { return }
        nameOfWD.removeValue(forKey: wd)
        inotifytools_remove_watch_by_wd(wd)
    }

    /// Makes the watches match the folders now in incoming/. It reports nothing: the loop
    /// lists incoming/ itself, and a listing is not a change (it must not restart a
    /// folder's settle time).
    private func syncWatches() {
        if incomingWD < 0 {
            // The kernel's own answer: the library can keep the old folder's record under the
            // same name, and would give its stale descriptor.
            let wd = inotifyFD >= 0 ? inotify_add_watch(inotifyFD, incoming + "/", UInt32(Self.incomingMask)) : -1
            guard wd >= 0 else { return }
            incomingWD = wd
            SpoolLog.line("watching incoming/ again")
        }
        let names = (Files.names(in: incoming) ?? []).filter { !$0.hasPrefix(".") }
        var present = Set<String>()
        for n in names where FileEntry(incoming + "/" + n)?.kind == .folder {
            present.insert(n)
            if folderWD[n] == nil { watch(n) }
        }
        for n in Array(folderWD.keys) where !present.contains(n) { unwatch(n) }
    }

    /// The descriptors of this process that are inotify instances.
    private static func inotifyDescriptors() -> Set<Int32> {
        var out = Set<Int32>()
        for n in Files.names(in: "/proc/self/fd") ?? [] {
            guard let fd = Int32(n) else { continue }
            var buf = [CChar](repeating: 0, count: 64)
            let k = readlink("/proc/self/fd/\(n)", &buf, buf.count - 1)
            if k > 0 && Sys.string(buf) == "anon_inode:inotify" {
                out.insert(fd)
            }
        }
        return out
    }
}
