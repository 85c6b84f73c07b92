/// JSON text from a value: compact on one line (`serialized`) or indented for files people
/// read (`prettyBytes`). Keys keep their order, so the same value always gives the same bytes.
extension JSONValue {
    /// Compact JSON on one line, `{"a": 1, "b": [true, null]}`.
    public func serialized() -> String {
        var out = ""
        write(to: &out, indent: nil)
        return out
    }

    /// JSON indented by two spaces per level, ending with a newline: what tutor writes to files.
    public func prettyBytes() -> [UInt8] {
        var out = ""
        write(to: &out, indent: 0)
        out += "\n"
        return Array(out.utf8)
    }

    /// `indent` nil writes on one line; otherwise the current level.
    private func write(to out: inout String, indent: Int?) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let x): out += String(x)
        case .number(let x): JSONValue.writeNumber(x, to: &out)
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            for (k, v) in a.enumerated() {
                out += k > 0 ? "," : ""
                JSONValue.newline(&out, indent.map { $0 + 1 }, first: k == 0)
                v.write(to: &out, indent: indent.map { $0 + 1 })
            }
            if let indent { out += "\n" + String(repeating: "  ", count: indent) }
            out += "]"
        case .object(let kv):
            if kv.isEmpty { out += "{}"; return }
            out += "{"
            for (k, (key, v)) in kv.enumerated() {
                out += k > 0 ? "," : ""
                JSONValue.newline(&out, indent.map { $0 + 1 }, first: k == 0)
                JSONValue.writeString(key, to: &out)
                out += ": "
                v.write(to: &out, indent: indent.map { $0 + 1 })
            }
            if let indent { out += "\n" + String(repeating: "  ", count: indent) }
            out += "}"
        }
    }

    /// Between items: a new line at `indent` when indenting, one space otherwise.
    private static func newline(_ out: inout String, _ indent: Int?, first: Bool) {
        if let indent { out += "\n" + String(repeating: "  ", count: indent) }
        else if !first { out += " " }
    }

    /// Whole numbers below 10^15 print without a fraction; other numbers in Swift's shortest
    /// form that reads back to the same Double (`0.1`, `1e-05`). JSON has no NaN or infinity:
    /// those print as null.
    private static func writeNumber(_ x: Double, to out: inout String) {
        if !x.isFinite { out += "null" }
        else if x == x.rounded() && abs(x) < 1e15 { out += String(Int64(x)) }
        else { out += String(x) }
    }

    /// `s` as a JSON string, quotes included: what the safetensors writer, which lays out its
    /// header compactly by hand, puts around names.
    public static func quoted(_ s: String) -> String {
        var out = ""
        writeString(s, to: &out)
        return out
    }

    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
