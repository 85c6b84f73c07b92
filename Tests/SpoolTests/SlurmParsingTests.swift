import Foundation
import XCTest
@testable import Spool

/// What the Slurm executor reads from Slurm's commands and writes for sbatch (no cluster
/// needed; the executor against a real Slurm is in EndToEndTests/SlurmTests).
final class SlurmParsingTests: XCTestCase {
    func testSqueueLinesGiveStatesAndEndedJobs() {
        let jobs = SlurmJobState.parseSqueue("12|RUNNING|None\n13|PENDING|Resources\n14|TIMEOUT|TimeLimit\nnot a line\n15|COMPLETING|None\n")
        XCTAssertEqual(jobs.count, 4)
        XCTAssertFalse(jobs["12"]!.hasEnded)
        XCTAssertFalse(jobs["15"]!.hasEnded)
        XCTAssertTrue(jobs["14"]!.hasEnded)
        XCTAssertEqual(jobs["14"]!.text, "TIMEOUT (reason: TimeLimit)")
        XCTAssertEqual(jobs["12"]!.text, "RUNNING")
        XCTAssertEqual(jobs["13"]!.text, "PENDING (reason: Resources)")
    }

    func testSacctLinesGiveTheFirstWordOfTheState() {
        let jobs = SlurmJobState.parseSacct("21|CANCELLED by 0|0:15\n22|OUT_OF_MEMORY|0:125\n")
        XCTAssertEqual(jobs["21"], SlurmJobState(state: "CANCELLED", reason: "exit code 0:15"))
        XCTAssertTrue(jobs["22"]!.hasEnded)
        XCTAssertEqual(SlurmJobState.parseSacct("23|FAILED|75:0\n")["23"]?.exitCode, 75)
    }

    /// The exit status comes from `75:0` forms only (a signal's `0:9` has none).
    func testExitCodesOfEndedJobs() {
        XCTAssertEqual(SlurmJobState.exitStatus("75:0"), 75)
        XCTAssertNil(SlurmJobState.exitStatus("0:9"))
        XCTAssertNil(SlurmJobState.exitStatus("x"))
        let line = "JobId=7 JobName=tutor:a UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=0 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=75:0 RunTime=00:00:01"
        XCTAssertEqual(SlurmJobState.parseScontrolExitCode(line), 75)
        XCTAssertNil(SlurmJobState.parseScontrolExitCode("slurm_load_jobs error: Invalid job id specified"))
    }

    func testSbatchOptionsTakeTheTasksRequestOverTheDaemons() {
        var s = SlurmSettings()
        s.cpus = 2; s.memoryMB = 1000; s.partition = "batch"; s.extraOptions = ["--qos=short"]
        var r = SlurmRequest()
        r.cpus = 8; r.account = "lab"
        let o = SlurmJobScript.options(task: "maze-1", folder: "/s/active/maze-1", spoolRoot: "/s", settings: s, request: r, taskSeconds: 3600)
        XCTAssertTrue(o.contains("--cpus-per-task=8"))
        XCTAssertTrue(o.contains("--mem=1000M"))
        XCTAssertTrue(o.contains("--time=60"))
        XCTAssertTrue(o.contains("--partition=batch"))
        XCTAssertTrue(o.contains("--account=lab"))
        XCTAssertTrue(o.contains("--no-requeue"))
        XCTAssertTrue(o.contains("--output=/s/active/maze-1/worker.log"))
        XCTAssertEqual(o.last, "--qos=short")
        // A % in the folder's name would be a pattern for sbatch: the script appends instead.
        let odd = SlurmJobScript.options(task: "a%j", folder: "/s/active/a%j", spoolRoot: "/s", settings: SlurmSettings(), request: SlurmRequest(), taskSeconds: 0)
        XCTAssertTrue(odd.contains("--output=/dev/null"))
        XCTAssertFalse(odd.contains { $0.hasPrefix("--time") })
        let script = SlurmJobScript.script(worker: ["/usr/bin/tutor", "run", "/s/active/it's"], log: "/s/active/a%j/worker.log")
        XCTAssertTrue(script.contains("exec >>'/s/active/a%j/worker.log' 2>&1\n"), script)
        XCTAssertTrue(script.hasSuffix("exec '/usr/bin/tutor' 'run' '/s/active/it'\\''s'\n"), script)
    }

    func testTaskRequestIsReadFromJobJSON() throws {
        let dir = NSTemporaryDirectory() + "tutor-slurm-request-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(#"{"strategy": "base", "slurm": {"cpus": 4, "memory_mb": 2000, "partition": "bad name", "time_minutes": 0}}"#.utf8)
            .write(to: URL(fileURLWithPath: dir + "/job.json"))
        let r = SlurmRequest.read(task: dir)
        XCTAssertEqual(r.cpus, 4)
        XCTAssertEqual(r.memoryMB, 2000)
        XCTAssertNil(r.partition)  // tutor run reports it; the daemon does not pass it on
        XCTAssertNil(r.timeMinutes)
    }
}
