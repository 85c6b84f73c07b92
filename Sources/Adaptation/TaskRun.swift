import Foundation
import Media
import TaskFolder

/// Runs one task folder in place: validate, run the strategy, write the outputs, verdict last.
///
/// Input problems never throw out of here: they end as an `error` verdict whose message
/// says what to fix, and the inputs are left untouched.
public struct TaskRun {
    public var folder: URL
    public var modelDirectory: URL?
    public var quiet: Bool

    public init(folder: URL, modelDirectory: URL? = nil, quiet: Bool = false) {
        self.folder = folder
        self.modelDirectory = modelDirectory
        self.quiet = quiet
    }

    /// Validates the folder; on problems writes an `error` verdict (when the folder itself is
    /// usable) and returns nil.
    public func loadInputs(ruleCheck: (([UInt8], RGBImage?) -> ([String], [String]))?) -> (TaskInputs?, Verdict?) {
        let report = TaskInputs.validate(folder: folder, ruleCheck: ruleCheck)
        if let inputs = report.inputs { return (inputs, nil) }
        let name = folder.lastPathComponent
        let message = report.problems.joined(separator: "; ")
        let v = Verdict.failure(task: name, strategy: JobSettings.defaultStrategy.rawValue, seed: 0,
                                code: "invalid-input", message: message)
        return (nil, v)
    }

    /// Writes `verdict` if the folder is a real folder (never through a link).
    public func writeVerdictIfPossible(_ verdict: Verdict) {
        guard SafeFile.kind(at: folder) == "folder" else { return }
        try? Outputs(folder: folder).writeVerdict(verdict)
    }
}
