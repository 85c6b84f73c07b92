import ArgumentParser
import Foundation
import Spool
import System
import TaskFolder
import Teacher

struct Submit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a task folder and submit a copy of it to a spool atomically.",
        discussion: """
        Checks the folder as `tutor validate` does and refuses it on any problem. Then copies it \
        (regular files and folders only; a symbolic link anywhere refuses the submission) under a \
        dot-name in SPOOL/incoming/, which daemons ignore, and renames the copy into place, so a \
        daemon takes it at once and never sees half of it. Prints the task's name; the result \
        appears as SPOOL/done/NAME/verdict.json (or under failed/). Exits 1 when the folder is \
        refused.
        """
    )

    @Argument(help: "The task folder to submit.")
    var folder: String

    @Option(help: "The spool folder. Env: TUTOR_SPOOL.")
    var spool: String?

    func validate() throws {
        if spool == nil && (ProcessInfo.processInfo.environment["TUTOR_SPOOL"] ?? "").isEmpty {
            throw ValidationError("give the spool folder: --spool DIR (or TUTOR_SPOOL)")
        }
    }

    func run() throws {
        let spoolPath = spool ?? ProcessInfo.processInfo.environment["TUTOR_SPOOL"]!
        // The same checks as `tutor run` makes first, the rule file's included.
        let report = TaskInputs.validate(folder: URL(fileURLWithPath: folder))
        if !report.ok {
            for p in report.problems { StandardError.write("error: \(p)\n") }
            StandardError.write("\(folder): not submitted\n")
            throw ExitCode(1)
        }
        for w in report.warnings { StandardError.write("warning: \(w)\n") }
        do {
            print(try SpoolSubmit.submit(folder: folder, spool: spoolPath))
        } catch let e as SpoolError {
            StandardError.write("error: \(e)\n")
            throw ExitCode(1)
        }
    }
}
