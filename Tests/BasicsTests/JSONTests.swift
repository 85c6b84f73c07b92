import Basics
import XCTest

/// The one JSON parser and writer: strict RFC 8259, keys in order, repeats refused by name,
/// exact integers, line and column in every error, linear time.
final class JSONTests: XCTestCase {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

    func error(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> JSONError? {
        do { _ = try JSONParser.parse(bytes); XCTFail("accepted \(bytes.count) bytes", file: file, line: line); return nil }
        catch { return error }
    }

    func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONError? {
        error(Array(text.utf8), file: file, line: line)
    }

    func testValuesEscapesAndKeyOrder() throws {
        let v = try parse(#" {"s":"a\"b\\c\/\u00e9\ud83d\ude00\n","z":1,"a":[0,-3,1.5e2,true,false,null]} "#)
        XCTAssertEqual(v["s"], .string("a\"b\\c/é😀\n"))
        XCTAssertEqual(v.objectValue?.map(\.0), ["s", "z", "a"], "keys stay in file order")
        XCTAssertEqual(v["a"], .array([.integer(0), .integer(-3), .number(150), .bool(true), .bool(false), .null]))
    }

    func testIntegersAreExact() throws {
        XCTAssertEqual(try parse("9007199254740993"), .integer(9_007_199_254_740_993))
        XCTAssertEqual(try parse("-9223372036854775808"), .integer(Int64.min))
        // Beyond 64 bits, and with a fraction or exponent: a Double.
        XCTAssertEqual(try parse("9223372036854775808"), .number(9_223_372_036_854_775_808))
        XCTAssertEqual(try parse("7.0").integerValue, 7)
        XCTAssertEqual(try parse("7.5").integerValue, nil)
    }

    func testStrictnessAndWhereEachErrorIs() throws {
        let cases: [(String, Int, Int, String)] = [
            ("{\"a\": 1,}", 1, 9, "trailing comma"),
            ("[1, 2,\n ]", 2, 2, "trailing comma"),
            ("{\"a\": 01}", 1, 8, "leading zero"),
            ("{\"a\": \"\\ud83d\"}", 1, 14, "lone UTF-16 surrogate"),
            ("{\"a\": \"tab\there\"}", 1, 11, "control character"),
            ("{'a': 1}", 1, 2, "key in double quotes"),
            ("{\"a\": 1} x", 1, 10, "after the end"),
            ("{\"a\": NaN}", 1, 7, "unexpected character 'N'"),
            ("{\"a\": 1 // no comments\n}", 1, 9, "expected ',' or '}'"),
            ("[1e400]", 1, 2, "out of range"),
            ("{\"é\": tru}", 1, 7, "expected 'true'"),
            ("", 1, 1, "ends where a value was expected"),
        ]
        for (text, line, column, words) in cases {
            guard let e = error(text) else { continue }
            XCTAssertEqual(e.line, line, "\(text): \(e)")
            XCTAssertEqual(e.column, column, "\(text): \(e)")
            XCTAssertTrue(e.description.contains(words), "\(text): \(e)")
            XCTAssertTrue(e.description.hasPrefix("line \(line), column \(column): "), "\(e)")
        }
    }

    func testDuplicateKeysAreRefusedByName() throws {
        let e = try XCTUnwrap(error("{\"seed\": 1,\n \"seed\": 2}"))
        XCTAssertEqual(e.duplicateKey, "seed")
        XCTAssertEqual(e.line, 2)
        XCTAssertEqual(e.column, 2)
        XCTAssertTrue(e.message.contains("\"seed\" appears twice"), e.message)
        // The same key in two different objects is fine.
        XCTAssertNoThrow(try parse(#"{"a": {"x": 1}, "b": {"x": 2}}"#))
        // Keys compare as text after escapes are read.
        XCTAssertEqual(error(#"{"é": 1, "\u00e9": 2}"#)?.duplicateKey, "é")
    }

    func testOnlyUTF8() throws {
        let utf16LE: [UInt8] = [0xFF, 0xFE] + Array("{}".utf8).flatMap { [$0, 0] }
        XCTAssertTrue(try XCTUnwrap(error(utf16LE)).message.contains("UTF-16"))
        let utf16BE: [UInt8] = Array("{\"a\": 1}".utf8).flatMap { [0, $0] }
        XCTAssertTrue(try XCTUnwrap(error(utf16BE)).message.contains("save it as UTF-8"))
        // Latin-1 inside a string: not UTF-8.
        let latin1: [UInt8] = Array("{\"caf".utf8) + [0xE9] + Array("\": 1}".utf8)
        XCTAssertTrue(try XCTUnwrap(error(latin1)).message.contains("not valid UTF-8"))
        // A UTF-8 byte order mark is allowed (RFC 8259 section 8.1).
        XCTAssertEqual(try JSONParser.parse([0xEF, 0xBB, 0xBF] + Array("[1]".utf8)), .array([.integer(1)]))
    }

    func testNestingIsLimited() throws {
        let ok = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        XCTAssertNoThrow(try parse(ok))
        // Deep enough to overflow the stack of a parser without a limit.
        let deep = String(repeating: "[", count: 1_000_000)
        XCTAssertTrue(try XCTUnwrap(error(deep)).message.contains("nested more than \(JSONParser.maxDepth)"))
    }

    /// Many keys in one object take time in proportion to their number: a repeated key is
    /// found with a hash set, not by comparing each key with every earlier one.
    func testManyKeysTakeLinearTime() throws {
        func object(_ n: Int) -> [UInt8] {
            var s = "{"
            for k in 0..<n { s += (k > 0 ? "," : "") + "\"k\(k)\":\(k)" }
            return Array((s + "}").utf8)
        }
        func seconds(_ bytes: [UInt8]) throws -> Double {
            let t0 = ContinuousClock.now
            let v = try JSONParser.parse(bytes)
            XCTAssertNotNil(v.objectValue)
            let d = ContinuousClock.now - t0
            return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        // The fastest of three runs, so that another process taking the CPU does not count.
        let smallDoc = object(10_000), largeDoc = object(100_000)
        let small = try (0..<3).map { _ in try seconds(smallDoc) }.min()!
        let large = try (0..<3).map { _ in try seconds(largeDoc) }.min()!
        print(String(format: "JSON: 10,000 keys %.3f s, 100,000 keys %.3f s (ratio %.1f)", small, large, large / small))
        // Quadratic would be ~100 times; allow wide noise on a shared machine.
        XCTAssertLessThan(large / max(small, 1e-4), 40, "100,000 keys took \(large) s, 10,000 took \(small) s")
        XCTAssertLessThan(large, 5, "100,000 keys took \(large) s")
        // A repeat at the very end is still found.
        var dup = object(100_000)
        dup.removeLast()
        dup += Array(",\"k5\":0}".utf8)
        XCTAssertEqual(error(dup)?.duplicateKey, "k5")
    }

    func testWriterRoundTripsAndIsStable() throws {
        let v = try parse(#"{"a": [1, 2.5, "x\"\n\u0001é"], "b": {"c": null, "d": true}, "e": [], "f": {}, "g": 12345678901234567}"#)
        XCTAssertEqual(try parse(v.serialized()), v)
        XCTAssertEqual(try JSONParser.parse(v.prettyBytes()), v)
        XCTAssertEqual(v.serialized(), #"{"a": [1, 2.5, "x\"\n\u0001é"], "b": {"c": null, "d": true}, "e": [], "f": {}, "g": 12345678901234567}"#)
        XCTAssertEqual(String(decoding: JSONValue.object([("a", [1, 2]), ("b", .object([]))]).prettyBytes(), as: UTF8.self),
                       "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}\n")
        XCTAssertEqual(JSONValue.double(.nan).serialized(), "null")
        XCTAssertEqual(JSONValue.number(3).serialized(), "3")
        XCTAssertEqual(JSONValue.number(1e-5).serialized(), "1e-05")
        XCTAssertEqual(JSONValue.integer(1), JSONValue.number(1), "numbers compare by value")
    }

    /// Damaged documents (bytes changed, inserted, deleted) never crash the parser; what it
    /// accepts, the writer writes back to the same value; every error is inside the text.
    func testDamagedDocumentsAreReadOrRefusedCleanly() throws {
        let seed = Array(##"{"version": 1, "objects": {"ball": {"color": "#f2c200", "tolerance": 60}}, "s": "a\u00e9\ud83d\ude00\n", "n": [-0.5e-3, 12, true, null, {}]}"##.utf8)
        let alphabet = Array(#"{}[]:,"\/ubfnrt0123456789eE+-.aé"#.utf8) + [0x00, 0x0A, 0x1F, 0x80, 0xC3, 0xFF]
        var rng = SplitMix64(seed: 19)
        var accepted = 0
        for _ in 0..<20_000 {
            var doc = seed
            for _ in 0..<rng.int(1...4) {
                let at = rng.int(0..<doc.count)
                switch rng.int(0..<3) {
                case 0: doc[at] = rng.pick(alphabet)
                case 1: doc.insert(rng.pick(alphabet), at: at)
                default: doc.remove(at: at)
                }
            }
            do {
                let v = try JSONParser.parse(doc)
                accepted += 1
                XCTAssertEqual(try JSONParser.parse(v.serialized()), v, String(decoding: doc, as: UTF8.self))
            } catch {
                XCTAssertTrue(error.offset <= doc.count && error.line >= 1 && error.column >= 1, "\(error)")
            }
        }
        XCTAssertGreaterThan(accepted, 100, "some damage leaves valid JSON")
    }

    func testHexDigitsHaveNoSign() {
        XCTAssertEqual(hexDigit(UInt8(ascii: "f")), 15)
        XCTAssertEqual(hexDigit(UInt8(ascii: "A")), 10)
        XCTAssertNil(hexDigit(UInt8(ascii: "+")))
        XCTAssertNil(hexDigit(UInt8(ascii: "-")))
        XCTAssertNil(hexDigit(UInt8(ascii: "g")))
    }
}
