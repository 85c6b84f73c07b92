import Basics
import System

/// JSON files of the spool (owner records, verdicts, progress), read with tutor's one parser.
extension Sys {
    /// The JSON value in a regular file of at most `limit` bytes; nil when the file is absent,
    /// not a regular file, too large or not JSON.
    static func readJSON(_ path: String, limit: Int = 1 << 20) -> JSONValue? {
        guard let bytes = Files.readSmall(path, limit: limit) else { return nil }
        return try? JSONParser.parse(bytes)
    }
}
