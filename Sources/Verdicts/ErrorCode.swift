/// Why a task could not be run: `error.code` of an `error` verdict (docs/VERDICT.md).
///
/// Every code tutor writes is listed here, once; `tutor run` writes the first three, the
/// daemon the others (for a task whose worker never wrote a verdict of its own).
public enum ErrorCode: String, Sendable, CaseIterable {
    /// An input file is missing, unreadable or wrong (prompt, rule file, first frame, job.json).
    case invalidInput = "invalid-input"
    /// The model could not be found or loaded.
    case modelUnavailable = "model-unavailable"
    /// The video was made but an output (frames, contact sheet, adapter) could not be written.
    case outputNotWritten = "output-not-written"
    /// Something other than a folder was put into the spool's `incoming/`.
    case notAFolder = "not-a-folder"
    /// A task of the same name is already in `done/`; the new one went to `failed/` under a unique name.
    case nameTaken = "name-taken"
    /// The daemon could not start the worker process.
    case workerNotStarted = "worker-not-started"
    /// The task ran longer than the daemon's task time limit and was stopped.
    case timedOut = "timed-out"
    /// The worker left a `verdict.json` that is not a verdict.
    case badVerdict = "bad-verdict"
    /// The worker died without a verdict on every attempt allowed.
    case workerCrashed = "worker-crashed"
    /// The task's Slurm job ended without a verdict (cancelled, over its time limit, out of
    /// memory, node failure, preempted) on every attempt allowed; the message names Slurm's
    /// state and reason.
    case jobFailed = "job-failed"
    /// Slurm refused the task's batch job (sbatch failed: a partition, account or resource
    /// request the cluster does not allow); the message holds sbatch's words.
    case jobRejected = "job-rejected"
}
