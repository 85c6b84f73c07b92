import ArgumentParser

extension Tutor {
    /// Every subcommand, in the order `--help` lists them.
    static let commands: [ParsableCommand.Type] = [
        Validate.self,
        Daemon.self,
        SpoolExec.self,
    ]
}
