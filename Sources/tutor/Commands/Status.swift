import ArgumentParser
import Foundation
import Spool
import System

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the tasks of a spool in each state, with the progress of running ones.",
        discussion: """
        Reads the spool's folders only, so it works from any host that sees the spool: counts per \
        state (incoming, active, done, failed); for each running task its daemon, attempt, time \
        and the step and loss of its progress.json; tasks waiting again after worker crashes; and \
        the latest failed tasks with their error codes and messages.
        """
    )

    @Option(help: "The spool folder. Env: TUTOR_SPOOL.")
    var spool: String?

    @Flag(help: "Print the report as JSON.")
    var json = false

    func validate() throws {
        if spool == nil && (ProcessInfo.processInfo.environment["TUTOR_SPOOL"] ?? "").isEmpty {
            throw ValidationError("give the spool folder: --spool DIR (or TUTOR_SPOOL)")
        }
    }

    func run() throws {
        let spoolPath = spool ?? ProcessInfo.processInfo.environment["TUTOR_SPOOL"]!
        do {
            let s = try SpoolStatus.read(spool: spoolPath)
            print(json ? s.json : s.text, terminator: json ? "" : "\n")
        } catch let e as SpoolError {
            StandardError.write("error: \(e)\n")
            throw ExitCode(1)
        }
    }
}
