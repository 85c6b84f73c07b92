import Foundation

extension ReasonerConfig {
    /// Why a `config.json` cannot be used, in plain words naming the key.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    /// Reads `config.json`: one JSON object; every key below present with a value of its type
    /// (`prediction` and `name` may be absent: "v" and "tutor-reasoner", the defaults of the
    /// first checkpoints); other keys are ignored; `max_layers` is raised to this build's slots
    /// (`slots(forCheckpoint:)`); then every value checked against `Limits`.
    public static func parse(_ bytes: [UInt8]) throws(Problem) -> ReasonerConfig {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else {
            throw Problem(reason: "not valid JSON")
        }
        guard let d = object as? [String: Any] else {
            let kind = object is [Any] ? "an array" : object is String ? "a string" : object is NSNumber ? "a number" : "null"
            throw Problem(reason: "it must be a JSON object of the model's settings (width, depth, heads, ...), not \(kind)")
        }
        func number(_ key: String, _ what: String = "a number") throws(Problem) -> NSNumber {
            guard let v = d[key] else { throw Problem(reason: "missing \"\(key)\"") }
            guard let n = v as? NSNumber, type(of: n) != type(of: NSNumber(value: true)) else {
                throw Problem(reason: "\"\(key)\" must be \(what)")
            }
            return n
        }
        func int(_ key: String) throws(Problem) -> Int {
            let n = try number(key, "a whole number")
            if let i = n as? Int { return i }
            throw Problem(reason: "\"\(key)\" is \(n), not a whole number in range")
        }
        func string(_ key: String, default value: String) throws(Problem) -> String {
            guard let v = d[key] else { return value }
            guard let s = v as? String else { throw Problem(reason: "\"\(key)\" must be a string") }
            return s
        }
        let scale = try number(CodingKeys.trajectoryScale.rawValue).doubleValue
        let config = ReasonerConfig(
            width: try int("width"), depth: try int("depth"), heads: try int("heads"),
            mlpRatio: try int(CodingKeys.mlpRatio.rawValue), timeEmbedding: try int(CodingKeys.timeEmbedding.rawValue),
            maxLayers: slots(forCheckpoint: try int(CodingKeys.maxLayers.rawValue)), frames: try int("frames"),
            maxPromptTokens: try int(CodingKeys.maxPromptTokens.rawValue), vocabulary: try int("vocabulary"),
            trajectoryScale: Float(scale), prediction: try string("prediction", default: "v"),
            name: try string("name", default: "tutor-reasoner"))
        if let problem = config.validationProblem { throw Problem(reason: problem) }
        return config
    }
}
