import ArgumentParser
import Engine
import Foundation
import System

/// The `tutor` command line. Each command lives in its own file under Commands/.
struct Tutor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tutor",
        abstract: "Teacher-guided test-time adaptation of a small video model, served from a spool of task folders.",
        discussion: """
        A task folder holds prompt.txt, rules.json and first_frame.jpg or .png (and optionally job.json). \
        tutor proposes a video with its Reasoner, scores it against the rules with its Teacher, \
        adapts a LoRA on the Reasoner when the Teacher is not satisfied, and writes frames/, a \
        contact sheet, the adapter and verdict.json back into the folder.

        Start with `tutor make-task maze --seed 1000001 --out /tmp/maze` and `tutor run /tmp/maze`, \
        or serve a spool with `tutor daemon --spool DIR`.

        Exit status: 0 success, 1 a task or check failed, 2 usage error, 75 (tutor run) the disk \
        is full and not even an error verdict could be written.
        """,
        subcommands: Tutor.commands
    )
}

/// Usage errors exit with 2 (not ArgumentParser's 64), as docs/FORMAT.md, section 6 fixes. Messages go
/// out through `StandardError`, which never traps when standard error cannot be written.
@main
enum Main {
    static func main() {
        // First of all: OpenBLAS's kernel set is fixed when the library loads, so a better one
        // means executing again, before anything else has run (Engine/BLASKernels.swift).
        BLASKernels.ensureBest()
        Memory.keepFreedMemory()
        do {
            var command = try Tutor.parseAsRoot()
            try command.run()
        } catch {
            let code = Tutor.exitCode(for: error)
            if code == .validationFailure {
                StandardError.line(Tutor.fullMessage(for: error))
                StandardError.write("Run 'tutor --help' for usage.\n")
                exit(2)
            }
            // A Foundation error that escaped a command prints as `Error Domain=NSCocoaErrorDomain
            // Code=513 "(null)"`: say it in plain words, with the file it concerns.
            let e = error as NSError
            if ErrorText.errno(of: error) != nil || e.domain == NSCocoaErrorDomain {
                let path = (e.userInfo[NSFilePathErrorKey] as? String).map { "\($0): " } ?? ""
                StandardError.line("error: \(path)\(ErrorText.describe(error))")
                exit(1)
            }
            let message = Tutor.fullMessage(for: error)
            if !message.isEmpty {
                // Help and version text (exit 0) go to standard output, errors to standard error.
                if code == .success { print(message) } else { StandardError.line(message) }
            }
            exit(code.rawValue)
        }
    }
}
