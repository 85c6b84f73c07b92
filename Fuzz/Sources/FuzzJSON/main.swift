import Basics
import Foundation
import FuzzSupport

// The one JSON parser every JSON file goes through (rules.json, job.json, a safetensors
// header, the spool's records). Checked for each input:
// - a refusal points inside the text (offset, line and column);
// - a value written back, compact or pretty, parses to the same value (the writer and the
//   parser agree on escapes, numbers and nesting);
// - what tutor accepts, Foundation's JSONSerialization accepts too (tutor is the stricter:
//   it refuses repeated keys, deep nesting, lone surrogates and numbers out of range).
fuzz { bytes in
    let value: JSONValue
    do throws(JSONError) {
        value = try JSONParser.parse(bytes)
    } catch {
        precondition(error.offset >= 0 && error.offset <= bytes.count, "error offset \(error.offset) outside the text")
        precondition(error.line >= 1 && error.column >= 1, "error line or column below 1")
        return
    }
    let compact = value.serialized()
    precondition((try? JSONParser.parse(compact)) == value, "the compact text does not read back: \(compact)")
    let pretty = value.prettyBytes()
    precondition((try? JSONParser.parse(pretty)) == value, "the pretty text does not read back")
    precondition((try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil,
                  "tutor accepts a text that JSONSerialization refuses")
}
