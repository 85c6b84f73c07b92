import ArgumentParser
import Engine
import Foundation

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

        Exit status: 0 success, 1 a task or check failed, 2 usage error.
        """,
        subcommands: Tutor.commands
    )
}

/// Usage errors exit with 2 (not ArgumentParser's 64), as SPEC section 6 fixes.
@main
enum Main {
    static func main() {
        // First of all: OpenBLAS's kernel set is fixed when the library loads, so a better one
        // means executing again, before anything else has run (Engine/BLASKernels.swift).
        BLASKernels.ensureBest()
        do {
            var command = try Tutor.parseAsRoot()
            try command.run()
        } catch {
            let code = Tutor.exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((Tutor.fullMessage(for: error) + "\n").utf8))
                FileHandle.standardError.write(Data("Run 'tutor --help' for usage.\n".utf8))
                exit(2)
            }
            Tutor.exit(withError: error)
        }
    }
}
