import ArgumentParser
import Foundation
import TaskFolder

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a task folder's inputs and print every problem.",
        discussion: """
        Checks that prompt.txt, rules.json and the first frame (first_frame.jpg or first_frame.png,
        exactly one) exist and are regular files (a symbolic link, device, FIFO or folder is an error
        and is never followed), that the first frame decodes within the size limit, that the prompt
        is non-empty UTF-8, that rules.json is a valid rule file and that job.json, if present, has only known keys with values in range. Warnings (for example an
        object of the rules with no pixel of its colour in the first frame) are printed but do not fail.
        Exits 0 when the folder is valid, 1 when it is not.
        """
    )

    @Argument(help: "The task folder to check.")
    var folder: String

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let report = TaskInputs.validate(folder: URL(fileURLWithPath: folder))
        if json {
            print(report.jsonString)
        } else {
            for p in report.problems { print("error: \(p)") }
            for w in report.warnings { print("warning: \(w)") }
            if report.problems.isEmpty { print("\(folder): valid") }
        }
        if !report.problems.isEmpty { throw ExitCode(1) }
    }
}
