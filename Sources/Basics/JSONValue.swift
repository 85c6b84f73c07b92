/// A JSON value: the one tutor reads every JSON file into and writes every JSON file from
/// (the rule file, `job.json`, a safetensors header, `progress.json`, the verdict, the spool's
/// owner records).
///
/// Objects keep their keys in file order and never hold a key twice (the parser refuses a
/// repeat, naming it); an integer written without fraction or exponent stays exact
/// (safetensors data offsets reach beyond 2^53, a seed must be the seed written).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits 64 bits, exact.
    case integer(Int64)
    /// Any other number (always finite).
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Members in file order; keys are unique.
    case object([(String, JSONValue)])

    /// Numbers compare by value (`1` equals `1.0`); objects compare in order.
    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.integer(x), .number(y)), let (.number(y), .integer(x)): return Double(exactly: x) == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value of `key` in an object, nil otherwise (or when the key is absent).
    public subscript(key: String) -> JSONValue? {
        if case .object(let kv) = self { return kv.first { $0.0 == key }?.1 }
        return nil
    }

    /// The number as a Double, exact integers included; nil for anything else.
    public var doubleValue: Double? {
        switch self {
        case .integer(let x): return Double(x)
        case .number(let x): return x
        default: return nil
        }
    }

    /// The number when it is a whole number that fits 64 bits (`7`, `7.0`, `7e0`); nil otherwise.
    public var integerValue: Int64? {
        switch self {
        case .integer(let x): return x
        case .number(let x): return x == x.rounded() && abs(x) < 9.2e18 ? Int64(x) : nil
        default: return nil
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [(String, JSONValue)]? {
        if case .object(let kv) = self { return kv }
        return nil
    }

    /// What kind of value this is, in words for error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral s: String) { self = .string(s) }
    public init(integerLiteral x: Int64) { self = .integer(x) }
    public init(floatLiteral x: Double) { self = .number(x) }
    public init(booleanLiteral b: Bool) { self = .bool(b) }
    public init(arrayLiteral items: JSONValue...) { self = .array(items) }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// A whole number, exact.
    public static func int<I: BinaryInteger>(_ x: I) -> JSONValue { .integer(Int64(x)) }
    /// A number; not finite becomes null (JSON has no NaN or infinity).
    public static func double(_ x: Double) -> JSONValue { x.isFinite ? .number(x) : .null }
    /// The value, or null when nil.
    public static func optional(_ v: JSONValue?) -> JSONValue { v ?? .null }
}
