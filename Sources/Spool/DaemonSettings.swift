import Foundation

/// How a daemon serves its spool. The defaults suit a spool on local disk; the README and
/// systemd/tutor.env document each for operators.
public struct DaemonSettings: Sendable {
    /// Tasks run at the same time.
    public var workers = 1
    /// Drain what is in incoming/ and exit (`tutor daemon --once`).
    public var once = false
    /// A folder that was not renamed in whole and has no READY file is taken once nothing in
    /// it changed for this long.
    public var settleSeconds = 3.0
    /// incoming/ and active/ are listed this often whatever inotify says: network file systems
    /// send no events for other hosts' writes. Also the heartbeat of this daemon's claims.
    public var rescanSeconds = 30.0
    /// After SIGTERM, running tasks get this long to finish before they are killed and put
    /// back in incoming/.
    public var graceSeconds = 30.0
    /// A task claimed by a daemon on another host is taken back only when that daemon has not
    /// renewed its claim (touched `.tutor-owner`) for this long. Keep it well above
    /// `rescanSeconds` of every daemon on the spool.
    public var leaseSeconds = 600.0
    /// A task whose worker died without a verdict this many times goes to failed/.
    public var maxAttempts = 3
    /// A quiet folder that still lacks a required input is taken after this long anyway, so
    /// that its owner gets an error verdict saying what is missing.
    public var incompleteSeconds = 600.0
    /// A folder in active/ without an owner record (its claimer died between the rename and
    /// the record) is taken back after this long.
    public var unownedSeconds = 60.0
    /// A task still running after this long is stopped and goes to failed/ with an error
    /// verdict saying so; it is not retried (a task that hung once would hang again). 0: no limit.
    public var taskSeconds = 3600.0
    /// Where to write the daemon's metrics in the Prometheus text format (node_exporter's
    /// textfile collector reads `*.prom` files in its folder); nil: none.
    public var metricsPath: String?
    /// What runs each task.
    public var worker: WorkerCommand
    /// Run each task as a Slurm batch job instead of a local process; `workers` then counts
    /// the jobs submitted at once.
    public var slurm: SlurmSettings?

    public init(worker: WorkerCommand) { self.worker = worker }
}
