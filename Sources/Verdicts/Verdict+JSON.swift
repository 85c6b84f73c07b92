import Basics

/// `verdict.json`'s text: the keys every verdict has (docs/VERDICT.md) in that order, then
/// those written only when set. The same verdict always gives the same bytes.
extension Verdict {
    public var json: JSONValue {
        var o: [(String, JSONValue)] = [
            ("version", .int(Verdict.formatVersion)),
            ("task", .string(task)),
            ("status", .string(status.rawValue)),
            ("passed", .bool(passed)),
            ("strategy", .optional(strategy.map(JSONValue.string))),
            ("seed", .optional(seed.map(JSONValue.int))),
            ("goal", .optional(goal?.json)),
            ("process", .array(process.map(\.json))),
            ("optimization", .optional(optimization?.json)),
            ("cost", .optional(cost?.json)),
            ("outputs", outputs?.json ?? .object([])),
            ("model", .optional(model?.json)),
            ("error", .optional(error.map { .object([("code", .string($0.code.rawValue)), ("message", .string($0.message))]) })),
        ]
        if let loss { o.append(("loss", .double(loss))) }
        if let base { o.append(("base", base.json)) }
        if let samples {
            o.append(("samples", .array(samples.map {
                .object([("noise", .int($0.noise)), ("loss", .double($0.loss)), ("passed", .bool($0.passed))])
            })))
        }
        if let settings { o.append(("settings", settings.json)) }
        if let workingSize { o.append(("working_size", .array(workingSize.map(JSONValue.int)))) }
        if let frameSize { o.append(("frame_size", .array(frameSize.map(JSONValue.int)))) }
        if let writtenBy { o.append(("written_by", .string(writtenBy))) }
        if let attempts { o.append(("attempts", .int(attempts))) }
        return .object(o)
    }

    /// The file's bytes: indented JSON and a final newline.
    public func jsonBytes() -> [UInt8] { json.prettyBytes() }
}

extension Verdict.Answer {
    public var json: JSONValue {
        .object([("question", .string(question)), ("type", .string(type)), ("satisfied", .bool(satisfied)),
                 ("p_yes", .double(pYes)), ("evidence", evidence)])
    }
}

extension Verdict.Answers {
    public var json: JSONValue {
        .object([("passed", .bool(passed)), ("goal", goal.json), ("process", .array(process.map(\.json)))])
    }
}

extension Verdict.Optimization {
    public var json: JSONValue {
        .object([("steps", .int(steps)), ("stopped", .string(stopped)), ("loss", .array(loss.map(JSONValue.double))),
                 ("final_checks", .int(finalChecks)), ("noise", .int(noise)), ("gradient", .string(gradient)),
                 ("loss_terms", .string(lossTerms)), ("learning_rate", .double(learningRate))])
    }
}

extension Verdict.Cost {
    public var json: JSONValue {
        .object([("model_evaluations", .int(modelEvaluations)), ("seconds", .double(seconds)),
                 ("peak_rss_bytes", .int(peakRSSBytes))])
    }
}

extension Verdict.Outputs {
    public var json: JSONValue {
        .object([("frames", .array(frames.map(JSONValue.string))), ("contact_sheet", .string(contactSheet)),
                 ("adapter", .optional(adapter.map(JSONValue.string)))])
    }
}

extension Verdict.Model {
    public var json: JSONValue {
        .object([("name", .string(name)), ("sha256", .string(sha256)), ("parameters", .int(parameters))])
    }
}

extension Verdict.Settings {
    public var json: JSONValue {
        .object([("max_steps", .int(maxSteps)), ("stop_loss", .double(stopLoss)), ("learning_rate", .double(learningRate)),
                 ("rank", .int(rank)), ("alpha", .double(alpha)), ("samples", .int(samples)),
                 ("sample_steps", .int(sampleSteps)), ("restarts", .int(restarts)), ("gradient", .string(gradient))])
    }
}
