/// A JSON value, as the rule file and the judge's evidence use it.
///
/// The Teacher reads `rules.json` with its own small parser so that it can tell a
/// number from a boolean, reject duplicate keys, keep the order of keys, and name the
/// exact place of a problem; the same type carries the judge's evidence into `verdict.json`.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Keys in the order they appear in the file.
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value of `key` in an object, nil otherwise.
    public subscript(key: String) -> JSONValue? {
        if case .object(let kv) = self { return kv.first { $0.0 == key }?.1 }
        return nil
    }

    /// What kind of value this is, in words for error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Compact JSON text; numbers that are whole print without a fraction.
    public func serialized() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let x):
            if !x.isFinite { out += "null" }
            else if x == x.rounded() && abs(x) < 1e15 { out += String(Int64(x)) }
            else { out += String(x) }
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() { if i > 0 { out += ", " }; v.write(to: &out) }
            out += "]"
        case .object(let kv):
            out += "{"
            for (i, (k, v)) in kv.enumerated() {
                if i > 0 { out += ", " }
                JSONValue.writeString(k, to: &out); out += ": "; v.write(to: &out)
            }
            out += "}"
        }
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
                } else { out.unicodeScalars.append(u) }
            }
        }
        out += "\""
    }
}

/// Where and why JSON text could not be read.
public struct JSONSyntaxError: Error, Sendable, CustomStringConvertible {
    /// Line and column, counting from 1.
    public var line: Int
    public var column: Int
    public var message: String
    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A strict RFC 8259 parser over UTF-8 bytes. Nesting is limited to 64 levels.
public struct JSONParser {
    private let b: [UInt8]
    private var i = 0
    private var depth = 0

    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        var p = JSONParser(b: bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { p.i = 3 }
        p.skipSpace()
        let v = try p.value()
        p.skipSpace()
        if p.i != bytes.count { throw p.error("unexpected text after the end of the JSON value") }
        return v
    }

    private init(b: [UInt8]) { self.b = b }

    private func error(_ m: String) -> JSONSyntaxError {
        var line = 1, col = 1
        for k in 0..<min(i, b.count) { if b[k] == 10 { line += 1; col = 1 } else { col += 1 } }
        return JSONSyntaxError(line: line, column: col, message: m)
    }

    private mutating func skipSpace() {
        while i < b.count, b[i] == 32 || b[i] == 9 || b[i] == 10 || b[i] == 13 { i += 1 }
    }

    private mutating func value() throws(JSONSyntaxError) -> JSONValue {
        guard i < b.count else { throw error("the text ends where a value was expected") }
        switch b[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error("unexpected character '\(Character(Unicode.Scalar(b[i])))'")
        }
    }

    private mutating func literal(_ word: String) throws(JSONSyntaxError) {
        let w = Array(word.utf8)
        if i + w.count <= b.count && Array(b[i..<(i + w.count)]) == w { i += w.count; return }
        throw error("expected '\(word)'")
    }

    private mutating func object() throws(JSONSyntaxError) -> JSONValue {
        depth += 1
        if depth > 64 { throw error("nested more than 64 levels deep") }
        i += 1
        var kv: [(String, JSONValue)] = []
        skipSpace()
        if i < b.count && b[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return .object(kv) }
        while true {
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw error("expected a key in double quotes") }
            let k = try string()
            if kv.contains(where: { $0.0 == k }) { throw error("the key \"\(k)\" appears twice in one object") }
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw error("expected ':' after the key \"\(k)\"") }
            i += 1
            skipSpace()
            kv.append((k, try value()))
            skipSpace()
            guard i < b.count else { throw error("the text ends inside an object (missing '}')") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; depth -= 1; return .object(kv) }
            throw error("expected ',' or '}' in an object")
        }
    }

    private mutating func array() throws(JSONSyntaxError) -> JSONValue {
        depth += 1
        if depth > 64 { throw error("nested more than 64 levels deep") }
        i += 1
        var a: [JSONValue] = []
        skipSpace()
        if i < b.count && b[i] == UInt8(ascii: "]") { i += 1; depth -= 1; return .array(a) }
        while true {
            skipSpace()
            a.append(try value())
            skipSpace()
            guard i < b.count else { throw error("the text ends inside an array (missing ']')") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; depth -= 1; return .array(a) }
            throw error("expected ',' or ']' in an array")
        }
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard i + 4 <= b.count else { throw error("incomplete \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("bad hex digit in a \\u escape")
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }

    private mutating func string() throws(JSONSyntaxError) -> String {
        i += 1
        var bytes: [UInt8] = []
        while true {
            guard i < b.count else { throw error("the text ends inside a string (missing '\"')") }
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw error("a control character inside a string; escape it") }
            if c != UInt8(ascii: "\\") { bytes.append(c); i += 1; continue }
            i += 1
            guard i < b.count else { throw error("the text ends inside an escape") }
            let e = b[i]; i += 1
            switch e {
            case UInt8(ascii: "\""): bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C)
            case UInt8(ascii: "/"): bytes.append(0x2F)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var u = try hex4()
                if u >= 0xD800 && u < 0xDC00 {
                    guard i + 2 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                        throw error("a lone UTF-16 surrogate in a \\u escape")
                    }
                    i += 2
                    let lo = try hex4()
                    guard lo >= 0xDC00 && lo < 0xE000 else { throw error("a bad UTF-16 surrogate pair") }
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                } else if u >= 0xDC00 && u < 0xE000 {
                    throw error("a lone UTF-16 surrogate in a \\u escape")
                }
                bytes += Array(String(Character(Unicode.Scalar(u)!)).utf8)
            default: throw error("unknown escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw error("a string that is not valid UTF-8") }
        return s
    }

    private mutating func number() throws(JSONSyntaxError) -> Double {
        let start = i
        if b[i] == UInt8(ascii: "-") { i += 1 }
        func digits(_ p: inout JSONParser) -> Int {
            let s = p.i
            while p.i < p.b.count, p.b[p.i] >= 48, p.b[p.i] <= 57 { p.i += 1 }
            return p.i - s
        }
        guard i < b.count else { throw error("a number with no digits") }
        if b[i] == UInt8(ascii: "0") { i += 1 } else if digits(&self) == 0 { throw error("a number with no digits") }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            if digits(&self) == 0 { throw error("a number with no digits after '.'") }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            if digits(&self) == 0 { throw error("a number with no digits in its exponent") }
        }
        let text = String(decoding: b[start..<i], as: UTF8.self)
        guard let v = Double(text), v.isFinite else { throw error("the number \(text) is out of range") }
        return v
    }
}
