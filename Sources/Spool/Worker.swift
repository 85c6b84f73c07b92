import Foundation
import System
#if canImport(Glibc)
import Glibc
#endif

/// Errors of the spool whose messages say what to fix.
public enum SpoolError: Error, CustomStringConvertible {
    case notASpool(String)
    case watch(String)
    case spawn(String)
    case submit(String)
    case system(String)

    public var description: String {
        switch self {
        case .notASpool(let s), .watch(let s), .spawn(let s), .submit(let s), .system(let s): return s
        }
    }
}

/// How the daemon starts a worker for a claimed task.
///
/// The worker is `runner + [folder] + runnerOptions`, started through `wrapper` (when given),
/// a tiny program that asks the kernel to SIGKILL it when the daemon dies and then execs the
/// runner: a worker never outlives its daemon, so a restarted daemon can safely hand the
/// task to another worker.
public struct WorkerCommand: Sendable {
    /// The program and its first arguments, e.g. `["/proc/self/exe", "run"]` or `["/usr/local/bin/srun-tutor"]`.
    public var runner: [String]
    /// Arguments after the folder, e.g. `["--model", "/var/lib/tutor/model"]`.
    public var runnerOptions: [String]
    /// The program and arguments put before the runner's, e.g.
    /// `["/proc/self/exe", "spool-exec", "--parent", "<pid>", "--"]`; empty for none.
    public var wrapper: [String]
    /// Extra environment for the worker.
    public var environment: [String: String]

    public init(runner: [String], runnerOptions: [String] = [], wrapper: [String] = [], environment: [String: String] = [:]) {
        self.runner = runner; self.runnerOptions = runnerOptions; self.wrapper = wrapper; self.environment = environment
    }

    func arguments(folder: String) -> [String] { wrapper + runner + [folder] + runnerOptions }
}

/// What every child of the daemon starts with: an empty signal mask and default dispositions
/// for the signals the daemon handles itself, optionally a process group of its own, and the
/// daemon's environment without systemd's variables (a child is not the service: it must not
/// talk to systemd in the daemon's name).
enum ChildStart {
    static func attributes(newProcessGroup: Bool) -> UnsafeMutablePointer<posix_spawnattr_t> {
        let attr = UnsafeMutablePointer<posix_spawnattr_t>.allocate(capacity: 1)
        attr.initialize(to: posix_spawnattr_t())
        posix_spawnattr_init(attr)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(attr, &defaults)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            posix_spawnattr_setpgroup(attr, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(attr, Int16(flags))
        return attr
    }

    static func release(_ attr: UnsafeMutablePointer<posix_spawnattr_t>) {
        posix_spawnattr_destroy(attr)
        attr.deallocate()
    }

    /// Starts `argv` (looked up on PATH when `searchPath`) with `actions` applied; returns
    /// posix_spawn's status (0 on success) and the child's pid.
    static func spawn(_ argv: [String], actions: UnsafePointer<posix_spawn_file_actions_t>, newProcessGroup: Bool,
                      searchPath: Bool = false, environment extra: [String: String]) -> (status: Int32, pid: pid_t) {
        let attr = attributes(newProcessGroup: newProcessGroup)
        defer { release(attr) }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment(adding: extra).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in cArgs { free(p) }; for p in cEnv { free(p) } }
        var pid: pid_t = 0
        let rc = searchPath ? posix_spawnp(&pid, argv[0], actions, attr, cArgs, cEnv)
                            : posix_spawn(&pid, argv[0], actions, attr, cArgs, cEnv)
        return (rc, pid)
    }

    static func environment(adding extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID"] { env.removeValue(forKey: k) }
        for (k, v) in extra { env[k] = v }
        return env
    }
}

/// A started worker process.
struct WorkerProcess {
    let pid: pid_t

    /// Starts `argv` in its own process group with standard input from /dev/null and
    /// standard output and error appended to `log`. Called from the daemon's main thread:
    /// the parent-death signal is tied to the thread that started the child.
    static func spawn(_ argv: [String], environment: [String: String], log: String) throws -> WorkerProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let (rc, pid) = ChildStart.spawn(argv, actions: &actions, newProcessGroup: true, environment: environment)
        if rc != 0 { throw SpoolError.spawn("cannot start \(argv[0]): \(SystemError.text(rc))") }
        return WorkerProcess(pid: pid)
    }

    /// How a reaped worker ended.
    enum Exit: Equatable {
        case exited(Int32)
        case signaled(Int32)

        init(waitStatus s: Int32) {
            if s & 0x7f == 0 { self = .exited((s >> 8) & 0xff) } else { self = .signaled(s & 0x7f) }
        }

        var description: String {
            switch self {
            case .exited(let c): return "exited with status \(c)"
            case .signaled(let s): return "was killed by \(Sys.signalName(s))"
            }
        }
    }

    /// Reaps the worker if it has ended; nil while it runs.
    func poll() -> Exit? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return Exit(waitStatus: status) }
            if r == 0 { return nil }
            if errno == EINTR { continue }
            return .signaled(SIGKILL)  // ECHILD: already gone and reaped elsewhere
        }
    }

    /// Kills the worker's whole process group.
    func kill(_ sig: Int32 = SIGKILL) {
        _ = Glibc.kill(-pid, sig)
        _ = Glibc.kill(pid, sig)
    }

    /// Kills the worker's process group with SIGKILL and reaps the worker.
    func killAndReap() {
        kill(SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}

/// The worker wrapper: the first thing a worker process runs.
public enum WorkerExec {
    /// Arranges for SIGKILL when the daemon (`parent`) dies, closes every inherited
    /// descriptor above standard error, and replaces this process with `argv`. Never returns.
    public static func exec(parent: Int32, argv: [String]) -> Never {
        ProcessControl.setParentDeathSignal(SIGKILL)
        // The daemon may have died before the line above: then no signal will come.
        if getppid() != parent { _exit(125) }
        ProcessControl.closeDescriptors(from: 3)
        guard !argv.isEmpty else { _exit(125) }
        let cArgs = argv.map { strdup($0) } + [nil]
        execv(argv[0], cArgs)
        StandardError.line("tutor spool-exec: cannot run \(argv[0]): \(SystemError.text(errno))")
        _exit(127)
    }
}
