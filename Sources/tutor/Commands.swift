import Adaptation
import ArgumentParser
import Tasks

// Adaptation's switches, as `tutor run` and `tutor bench strategies` take them.
extension GradientPath: ExpressibleByArgument {}
extension LossTerms: ExpressibleByArgument {}
// The generated task families, as `tutor train` and `tutor bench strategies` take them.
extension Family: ExpressibleByArgument {}
// The look splits, as make-task, train and the benchmarks take them.
extension LookSplit: ExpressibleByArgument {}

extension Tutor {
    /// Every subcommand, in the order `--help` lists them.
    static let commands: [ParsableCommand.Type] = [
        Run.self,
        Validate.self,
        Daemon.self,
        Submit.self,
        Status.self,
        SpoolExec.self,
        MakeTask.self,
        Train.self,
        Bench.self,
    ]
}

/// `tutor bench ...`: one subcommand per benchmark.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a benchmark and print its table.",
        subcommands: Bench.benchmarks
    )

    /// Every benchmark, in the order `--help` lists them.
    static let benchmarks: [ParsableCommand.Type] = [
        BenchEngine.self,
        BenchTeacher.self,
        BenchSpool.self,
        BenchExecutors.self,
        BenchReasoner.self,
        BenchStrategies.self,
        BenchReading.self,
    ]
}
