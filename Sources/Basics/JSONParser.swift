/// Why JSON text could not be read: where (line and column, counting from 1, and the byte
/// offset) and what is wrong, in words that say what to fix.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    /// In characters (UTF-8 sequences), counting from 1.
    public var column: Int
    /// Bytes from the start of the text.
    public var offset: Int
    public var message: String
    /// The key, when the problem is a key given twice in one object.
    public var duplicateKey: String?

    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A strict RFC 8259 parser over UTF-8 bytes.
///
/// Strict means: one value filling the text (whitespace around it allowed), no trailing
/// commas, no comments, no single quotes, no leading zeros, no NaN; strings must be valid
/// UTF-8 with every control character escaped and every `\u` surrogate paired. A UTF-8 byte
/// order mark at the start is skipped (RFC 8259 section 8.1 allows a parser to); text in
/// UTF-16 or UTF-32 is refused with a message saying so. Nesting is limited to `maxDepth`
/// levels, so no input can exhaust the stack.
///
/// Time is linear in the input: a repeated key is found with a hash set per object, and the
/// line and column are counted only once, for the error thrown.
public struct JSONParser {
    /// Objects and arrays nested deeper than this are refused.
    public static let maxDepth = 64

    private let b: UnsafeBufferPointer<UInt8>
    private var i = 0

    private init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    /// Parses one JSON value filling the whole buffer.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONError) -> JSONValue {
        var p = JSONParser(bytes)
        try p.checkEncoding()
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { p.i = 3 }
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.i != bytes.count { throw p.error("unexpected text after the end of the JSON value") }
        return v
    }

    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONError) -> JSONValue in try parse(buffer) }
    }

    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    // MARK: errors

    /// An error at the current position (or at `at`), with its line and column.
    private func error(_ message: String, at position: Int? = nil, duplicateKey: String? = nil) -> JSONError {
        let end = min(position ?? i, b.count)
        var line = 1, column = 1
        for k in 0..<end {
            let c = b[k]
            if c == 0x0A { line += 1; column = 1 }
            else if c & 0xC0 != 0x80 { column += 1 } // a continuation byte is part of the character before
        }
        return JSONError(line: line, column: column, offset: end, message: message, duplicateKey: duplicateKey)
    }

    /// UTF-16 and UTF-32 text has a zero byte in its first four bytes (RFC 4627 section 3) or
    /// starts with a UTF-16 byte order mark; say so rather than report a stray character.
    private func checkEncoding() throws(JSONError) {
        if b.starts(with: [0xFE, 0xFF]) || b.starts(with: [0xFF, 0xFE]) {
            throw error("the text is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8")
        }
        if b.prefix(4).contains(0) {
            throw error("the text is UTF-16 or UTF-32 (it has zero bytes); save it as UTF-8")
        }
    }

    // MARK: grammar

    private mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    private mutating func value(depth: Int) throws(JSONError) -> JSONValue {
        guard i < b.count else { throw error("the text ends where a value was expected") }
        switch b[i] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected \(describe(b[i])) where a value was expected")
        }
    }

    /// A byte in words: the character when it is printable ASCII, its hex value otherwise.
    private func describe(_ c: UInt8) -> String {
        if c >= 0x21 && c < 0x7F { return "character '\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x" + String(c, radix: 16, uppercase: true)
    }

    private mutating func literal(_ word: StaticString) throws(JSONError) {
        let w = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard i + w.count <= b.count, b[i..<(i + w.count)].elementsEqual(w) else { throw error("expected '\(word)'") }
        i += w.count
    }

    private mutating func object(depth: Int) throws(JSONError) -> JSONValue {
        if depth > JSONParser.maxDepth { throw error("nested more than \(JSONParser.maxDepth) levels deep") }
        i += 1 // {
        var members: [(String, JSONValue)] = []
        var seen = Set<String>()
        skipSpace()
        if i < b.count && b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
        while true {
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "\"") else {
                if i < b.count && b[i] == UInt8(ascii: "}") && !members.isEmpty {
                    throw error("a trailing comma before '}'; remove it")
                }
                throw error("expected a key in double quotes")
            }
            let keyStart = i
            let key = try string()
            if !seen.insert(key).inserted {
                throw error("the key \"\(key)\" appears twice in one object", at: keyStart, duplicateKey: key)
            }
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw error("expected ':' after the key \"\(key)\"") }
            i += 1
            skipSpace()
            members.append((key, try value(depth: depth)))
            skipSpace()
            guard i < b.count else { throw error("the text ends inside an object (missing '}')") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            throw error("expected ',' or '}' in an object")
        }
    }

    private mutating func array(depth: Int) throws(JSONError) -> JSONValue {
        if depth > JSONParser.maxDepth { throw error("nested more than \(JSONParser.maxDepth) levels deep") }
        i += 1 // [
        var items: [JSONValue] = []
        skipSpace()
        if i < b.count && b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipSpace()
            if i < b.count && b[i] == UInt8(ascii: "]") && !items.isEmpty {
                throw error("a trailing comma before ']'; remove it")
            }
            items.append(try value(depth: depth))
            skipSpace()
            guard i < b.count else { throw error("the text ends inside an array (missing ']')") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw error("expected ',' or ']' in an array")
        }
    }

    private mutating func hex4() throws(JSONError) -> UInt32 {
        guard i + 4 <= b.count else { throw error("an incomplete \\u escape (it needs four hex digits)") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = hexDigit(b[i]) else { throw error("a \\u escape needs four hex digits") }
            v = v * 16 + UInt32(d)
            i += 1
        }
        return v
    }

    private mutating func string() throws(JSONError) -> String {
        let start = i
        i += 1 // opening quote
        // Most strings have no escape: take the bytes as they are.
        let plainStart = i
        while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\"), b[i] >= 0x20 { i += 1 }
        if i < b.count, b[i] == UInt8(ascii: "\"") {
            defer { i += 1 }
            return try utf8(UnsafeBufferPointer(rebasing: b[plainStart..<i]), start: start)
        }
        var out = Array(b[plainStart..<i])
        while true {
            guard i < b.count else { throw error("the text ends inside a string (missing '\"')", at: start) }
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw error("a control character (\(describe(c))) inside a string; escape it") }
            if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
            i += 1
            guard i < b.count else { throw error("the text ends inside an escape") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var u = try hex4()
                if (0xD800..<0xDC00).contains(u) {
                    guard i + 2 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                        throw error("a lone UTF-16 surrogate in a \\u escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("a bad UTF-16 surrogate pair in a \\u escape") }
                    u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(u) {
                    throw error("a lone UTF-16 surrogate in a \\u escape")
                }
                out.append(contentsOf: String(Character(Unicode.Scalar(u)!)).utf8)
            default:
                i -= 1
                throw error("an unknown escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        return try out.withUnsafeBufferPointer { (o) throws(JSONError) -> String in try utf8(o, start: start) }
    }

    private func utf8(_ bytes: UnsafeBufferPointer<UInt8>, start: Int) throws(JSONError) -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw error("a string that is not valid UTF-8; save the file as UTF-8", at: start)
        }
        return s
    }

    private mutating func number() throws(JSONError) -> JSONValue {
        let start = i
        var integral = true
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count, isDigit(b[i]) else { throw error("a number with no digits") }
        if b[i] == UInt8(ascii: "0") {
            i += 1
            if i < b.count, isDigit(b[i]) { throw error("a number with a leading zero") }
        } else {
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard i < b.count, isDigit(b[i]) else { throw error("a number with no digits after '.'") }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            integral = false
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, isDigit(b[i]) else { throw error("a number with no digits in its exponent") }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        if integral, let v = Int64(text) { return .integer(v) }
        guard let d = Double(text), d.isFinite else { throw error("the number \(text) is out of range", at: start) }
        return .number(d)
    }

    private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}

/// The value of one hex digit (0-9, a-f, A-F), nil for any other byte: no sign, no prefix.
/// Swift's `UInt8(_:radix:)` accepts a leading `+` or `-`, which a colour or an escape must not have.
public func hexDigit(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}
