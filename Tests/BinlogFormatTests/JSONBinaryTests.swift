import Testing

@testable import BinlogFormat

// MARK: - A tiny binary JSON encoder (mirrors json_binary.cc's serializer)

/// A JSON value to encode in MySQL's binary format. Containers choose their own format.
private indirect enum TestJSON {
    case null
    case bool(Bool)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case double(Double)
    case string(String)
    case bytes([UInt8])  // a string with arbitrary bytes
    case opaque(UInt8, [UInt8])
    case object([(String, TestJSON)], large: Bool = false)
    case array([TestJSON], large: Bool = false)

    /// The whole document: type byte and value.
    var document: [UInt8] {
        let (type, body) = encoded
        return [type] + body
    }

    var encoded: (type: UInt8, body: [UInt8]) {
        switch self {
        case .null: (0x04, [0x00])
        case .bool(let value): (0x04, [value ? 0x01 : 0x02])
        case .int16(let value): (0x05, littleEndian(UInt64(UInt16(bitPattern: value)), 2))
        case .uint16(let value): (0x06, littleEndian(UInt64(value), 2))
        case .int32(let value): (0x07, littleEndian(UInt64(UInt32(bitPattern: value)), 4))
        case .uint32(let value): (0x08, littleEndian(UInt64(value), 4))
        case .int64(let value): (0x09, littleEndian(UInt64(bitPattern: value), 8))
        case .uint64(let value): (0x0a, littleEndian(value, 8))
        case .double(let value): (0x0b, littleEndian(value.bitPattern, 8))
        case .string(let value): (0x0c, variableLength(value.utf8.count) + Array(value.utf8))
        case .bytes(let value): (0x0c, variableLength(value.count) + value)
        case .opaque(let type, let data): (0x0f, [type] + variableLength(data.count) + data)
        case .object(let members, let large):
            (large ? 0x01 : 0x00, container(keys: members.map(\.0), values: members.map(\.1), large: large))
        case .array(let elements, let large):
            (large ? 0x03 : 0x02, container(keys: nil, values: elements, large: large))
        }
    }
}

private func littleEndian(_ value: UInt64, _ width: Int) -> [UInt8] {
    (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
}

private func variableLength(_ length: Int) -> [UInt8] {
    var rest = length
    var bytes: [UInt8] = []
    repeat {
        var byte = UInt8(rest & 0x7F)
        rest >>= 7
        if rest > 0 { byte |= 0x80 }
        bytes.append(byte)
    } while rest > 0
    return bytes
}

private func isInlined(_ type: UInt8, large: Bool) -> Bool {
    type == 0x04 || type == 0x05 || type == 0x06 || (large && (type == 0x07 || type == 0x08))
}

/// Header (count, size), key entries, value entries, keys, then values; offsets from the start.
private func container(keys: [String]?, values: [TestJSON], large: Bool) -> [UInt8] {
    let offsetSize = large ? 4 : 2
    let keyEntrySize = keys == nil ? 0 : offsetSize + 2
    let valueEntrySize = 1 + offsetSize
    var body = [UInt8](repeating: 0, count: 2 * offsetSize + values.count * (keyEntrySize + valueEntrySize))
    func put(_ value: Int, _ width: Int, at position: Int) {
        for index in 0..<width { body[position + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }
    put(values.count, offsetSize, at: 0)
    for (index, key) in (keys ?? []).enumerated() {
        let entry = 2 * offsetSize + index * keyEntrySize
        put(body.count, offsetSize, at: entry)
        put(key.utf8.count, 2, at: entry + offsetSize)
        body += Array(key.utf8)
    }
    let valueEntries = 2 * offsetSize + values.count * keyEntrySize
    for (index, value) in values.enumerated() {
        let entry = valueEntries + index * valueEntrySize
        let (type, bytes) = value.encoded
        body[entry] = type
        if isInlined(type, large: large) {
            for (offset, byte) in bytes.enumerated() { body[entry + 1 + offset] = byte }
        } else {
            put(body.count, offsetSize, at: entry + 1)
            body += bytes
        }
    }
    put(body.count, offsetSize, at: offsetSize)
    return body
}

private func render(_ document: [UInt8]) throws(BinlogError) -> String {
    let result = document.withUnsafeBytes { buffer in
        Result { () throws(BinlogError) -> String in try JSONBinary.text(buffer) }
    }
    return try result.get()
}

private func appendText(_ document: [UInt8], to output: inout [UInt8]) throws(BinlogError) {
    var copy = output
    let result = document.withUnsafeBytes { buffer in
        Result { () throws(BinlogError) in try JSONBinary.writeText(buffer, into: &copy) }
    }
    try result.get()
    output = copy
}

private func render(_ value: TestJSON) throws(BinlogError) -> String {
    try render(value.document)
}

/// Packed DATETIME / DATE / TIMESTAMP (`TIME_to_longlong_datetime_packed`).
private func packedDateTime(
    _ year: Int64, _ month: Int64, _ day: Int64, _ hour: Int64 = 0, _ minute: Int64 = 0, _ second: Int64 = 0,
    microseconds: Int64 = 0
) -> [UInt8] {
    let ymd = (year * 13 + month) << 5 | day
    let hms = hour << 12 | minute << 6 | second
    return littleEndian(UInt64(bitPattern: (ymd << 17 | hms) << 24 + microseconds), 8)
}

/// Packed TIME (`TIME_to_longlong_time_packed`).
private func packedTime(
    negative: Bool = false, _ hour: Int64, _ minute: Int64, _ second: Int64, microseconds: Int64 = 0
) -> [UInt8] {
    let packed = (hour << 12 | minute << 6 | second) << 24 + microseconds
    return littleEndian(UInt64(bitPattern: negative ? -packed : packed), 8)
}

/// A document exercising every type, both container formats and nesting.
private var kitchenSink: TestJSON {
    .object(
        [
            ("null", .null), ("t", .bool(true)), ("f", .bool(false)),
            ("i16", .int16(-300)), ("u16", .uint16(65535)), ("i32", .int32(-100_000)), ("u32", .uint32(4_000_000_000)),
            ("i64", .int64(-5_000_000_000)), ("u64", .uint64(18_000_000_000_000_000_000)), ("d", .double(1.5)),
            ("s", .string("héllo \"x\"\n")),
            ("dec", .opaque(246, [5, 2, 0x80, 0x7B, 0x2D])),
            ("dt", .opaque(12, packedDateTime(2015, 1, 15, 23, 24, 25))),
            ("blob", .opaque(252, [1, 2, 3])),
            (
                "large", .array([.int32(7), .uint32(8), .string("x"), .object([("k", .array([]))], large: true)], large: true)
            ),
            ("small", .array([.int32(-1), .array([.array([.null])])])),
        ])
}

private func withDiffs<T>(_ bytes: [UInt8], _ body: (JSONDiffList) throws(BinlogError) -> T) throws(BinlogError) -> T {
    let result = bytes.withUnsafeBytes { buffer in
        Result { () throws(BinlogError) -> T in try body(JSONDiffList(bytes: buffer)) }
    }
    return try result.get()
}

/// One diff in the binlog format: operation, length-encoded path, length-encoded value.
private func diff(_ operation: UInt8, _ path: String, _ value: TestJSON? = nil) -> [UInt8] {
    var bytes = [operation, UInt8(path.utf8.count)] + Array(path.utf8)
    if let value {
        let document = value.document
        precondition(document.count < 251)
        bytes += [UInt8(document.count)] + document
    }
    return bytes
}

private func hexBytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}

@Suite("MySQL binary JSON")
struct JSONBinaryTests {
    // MARK: - Scalars

    @Test("literals, and an empty document as null") func literals() throws {
        #expect(try render(.null) == "null")
        #expect(try render(.bool(true)) == "true")
        #expect(try render(.bool(false)) == "false")
        // An empty document is JSON null.
        #expect(try render([UInt8]()) == "null")
    }

    @Test("integers of every width") func integers() throws {
        #expect(try render(.int16(-32768)) == "-32768")
        #expect(try render(.int16(0)) == "0")
        #expect(try render(.uint16(65535)) == "65535")
        #expect(try render(.int32(Int32.min)) == "-2147483648")
        #expect(try render(.uint32(UInt32.max)) == "4294967295")
        #expect(try render(.int64(Int64.min)) == "-9223372036854775808")
        #expect(try render(.int64(Int64.max)) == "9223372036854775807")
        #expect(try render(.uint64(UInt64.max)) == "18446744073709551615")
        #expect(try render(.uint64(10)) == "10")
    }

    /// Doubles as MySQL prints them in JSON (`my_gcvt` with width 34, then ".0" for integers).
    @Test(
        "doubles as MySQL prints them",
        arguments: zip(
            [
                3.0, 1.5, 0.1, 0.30000000000000004, 1e100, -2.5e-05, 1e15, 1e14, 123456789.0, -1.0, 0.0, -0.0,
                0.0001, 1e-7, 1e-15, 1e-16, 1e16, Double.leastNonzeroMagnitude, 1.7976931348623157e308, 12345678901234567890.0,
                1234567890123456.8, 100.25, -123.456e-20, 2.5e-300, 1.0e21, Double.infinity, Double.nan,
            ],
            [
                "3.0", "1.5", "0.1", "0.30000000000000004", "1e100", "-0.000025", "1e15", "100000000000000.0",
                "123456789.0", "-1.0", "0.0", "-0.0", "0.0001", "0.0000001", "0.000000000000001", "1e-16", "1e16",
                "5e-324", "1.7976931348623157e308", "1.2345678901234567e19", "1234567890123456.8", "100.25",
                "-1.23456e-18", "2.5e-300", "1e21", "0.0", "0.0",
            ]))
    func doubles(value: Double, expected: String) throws {
        #expect(try render(.double(value)) == expected)
        #expect(try render(.array([.double(value)])) == "[\(expected)]")
    }

    @Test("strings: escapes, unicode, long lengths, invalid UTF-8") func stringsAndEscapes() throws {
        #expect(try render(.string("hello")) == #""hello""#)
        #expect(try render(.string("")) == #""""#)
        #expect(
            try render(.string("q\"b\\s/\u{8}\u{c}\n\r\t\u{0}\u{1}\u{1f}\u{7f}"))
                == #""q\"b\\s/\b\f\n\r\t\u0000\u0001\u001f\#u{7f}""#)
        // Non-ASCII UTF-8 passes through unescaped.
        #expect(try render(.string("héllo 日本 😀")) == "\"héllo 日本 😀\"")
        // Lengths that need 2 and 3 bytes of variable-length integer.
        let medium = String(repeating: "a", count: 200)
        let long = String(repeating: "é", count: 10_000)
        #expect(try render(.string(medium)) == "\"\(medium)\"")
        #expect(try render(.array([.string(long)], large: true)) == "[\"\(long)\"]")
        // Invalid UTF-8 is passed on as it is (text() then repairs it).
        var output: [UInt8] = []
        try appendText(TestJSON.bytes([0xFF, 0x41]).document, to: &output)
        #expect(output == [0x22, 0xFF, 0x41, 0x22])
    }

    @Test("writeText appends to the output") func writeTextAppends() throws {
        var output = Array("x=".utf8)
        try appendText(TestJSON.array([.int16(1), .string("a")]).document, to: &output)
        #expect(String(decoding: output, as: UTF8.self) == #"x=[1, "a"]"#)
    }

    // MARK: - Objects and arrays

    @Test("objects and arrays in both formats") func objectsAndArrays() throws {
        let sample = TestJSON.object([("a", .int16(1)), ("b", .array([.int16(1), .int16(2), .string("x")]))])
        #expect(try render(sample) == #"{"a": 1, "b": [1, 2, "x"]}"#)
        let large = TestJSON.object(
            [("a", .int16(1)), ("b", .array([.int16(1), .int16(2), .string("x")], large: true))], large: true)
        #expect(try render(large) == #"{"a": 1, "b": [1, 2, "x"]}"#)
        #expect(try render(.object([])) == "{}")
        #expect(try render(.array([])) == "[]")
        #expect(try render(.object([], large: true)) == "{}")
        #expect(try render(.array([], large: true)) == "[]")
        #expect(try render(.array([.array([]), .object([])])) == "[[], {}]")
        // Keys are escaped like strings; members stay in stored order.
        #expect(try render(.object([("z\"", .null), ("ключ", .bool(false)), ("", .int16(0))])) == #"{"z\"": null, "ключ": false, "": 0}"#)
    }

    @Test("inlined and out-of-line scalars in both formats") func inlinedAndOffsetScalarsInBothFormats() throws {
        let elements: [TestJSON] = [
            .null, .bool(true), .int16(-2), .uint16(3), .int32(-4), .uint32(5), .int64(-6), .uint64(7), .double(8.5),
        ]
        let expected = "[null, true, -2, 3, -4, 5, -6, 7, 8.5]"
        #expect(try render(.array(elements)) == expected)
        #expect(try render(.array(elements, large: true)) == expected)
        #expect(try render(.object(elements.map { ("k", $0) }, large: true)).hasPrefix(#"{"k": null, "k": true"#))
    }

    @Test("every type nested in mixed formats") func nestedMixedFormats() throws {
        #expect(
            try render(kitchenSink)
                == #"{"null": null, "t": true, "f": false, "i16": -300, "u16": 65535, "i32": -100000, "u32": 4000000000, "#
                + #""i64": -5000000000, "u64": 18000000000000000000, "d": 1.5, "s": "héllo \"x\"\n", "dec": 123.45, "#
                + #""dt": "2015-01-15 23:24:25.000000", "blob": "base64:type252:AQID", "#
                + #""large": [7, 8, "x", {"k": []}], "small": [-1, [[null]]]}"#)
    }

    @Test("nesting deeper than 100 levels is refused") func depthLimit() throws {
        func nested(_ depth: Int) -> TestJSON {
            var value = TestJSON.array([])
            for index in 1..<depth { value = index.isMultiple(of: 2) ? .array([value]) : .object([("a", value)]) }
            return value
        }
        let hundred = try render(nested(100))
        #expect(hundred.hasPrefix("{\"a\": [{\"a\": ["))
        #expect(hundred.contains("[{\"a\": []}]}]"))
        #expect(hundred.hasSuffix("]}]}"))
        #expect(hundred.utf8.count == 50 * 7 + 50 * 2)
        #expect(throws: BinlogError.self) { try render(nested(101)) }
    }

    // MARK: - Opaque values

    @Test("opaque DECIMAL") func opaqueDecimal() throws {
        // DECIMAL(5,2) 123.45: leading group of 3 digits in 2 bytes, 2 fraction digits in 1 byte.
        #expect(try render(.opaque(246, [5, 2, 0x80, 0x7B, 0x2D])) == "123.45")
        // DECIMAL(3,2) -1.50: the positive form 81 32, every byte inverted.
        #expect(try render(.opaque(246, [3, 2, 0x7E, 0xCD])) == "-1.50")
        // DECIMAL(3,2) 0.05
        #expect(try render(.array([.opaque(246, [3, 2, 0x80, 0x05])])) == "[0.05]")
        // DECIMAL(10,0) 1234567890: 1 digit in 1 byte, then 9 digits in 4 bytes.
        #expect(try render(.opaque(246, [10, 0, 0x81, 0x0D, 0xFB, 0x38, 0xD2])) == "1234567890")
        // Wrong size, scale above precision, a digit group out of range, no precision/scale.
        #expect(throws: BinlogError.self) { try render(.opaque(246, [5, 2, 0x80, 0x7B])) }
        #expect(throws: BinlogError.self) { try render(.opaque(246, [2, 3, 0x80, 0x7B])) }
        #expect(throws: BinlogError.self) { try render(.opaque(246, [3, 2, 0x80, 0x64])) }
        #expect(throws: BinlogError.self) { try render(.opaque(246, [5])) }
        #expect(throws: BinlogError.self) { try render(.opaque(246, [66, 0] + [UInt8](repeating: 0x80, count: 30))) }
    }

    @Test("opaque DATE, TIME, DATETIME, TIMESTAMP") func opaqueTemporal() throws {
        #expect(try render(.opaque(12, packedDateTime(2015, 1, 15, 23, 24, 25))) == #""2015-01-15 23:24:25.000000""#)
        #expect(
            try render(.opaque(12, packedDateTime(2015, 1, 15, 23, 24, 25, microseconds: 123_456)))
                == #""2015-01-15 23:24:25.123456""#)
        #expect(try render(.opaque(7, packedDateTime(1970, 1, 2, 3, 4, 5, microseconds: 60))) == #""1970-01-02 03:04:05.000060""#)
        #expect(try render(.opaque(10, packedDateTime(2015, 1, 15))) == #""2015-01-15""#)
        #expect(try render(.opaque(10, packedDateTime(2, 12, 31))) == #""0002-12-31""#)
        #expect(try render(.opaque(11, packedTime(23, 24, 25))) == #""23:24:25.000000""#)
        #expect(
            try render(.opaque(11, packedTime(negative: true, 838, 59, 59, microseconds: 500_000)))
                == #""-838:59:59.500000""#)
        #expect(try render(.opaque(11, packedTime(1, 2, 3, microseconds: 4))) == #""01:02:03.000004""#)
        #expect(try render(.array([.opaque(10, packedDateTime(2000, 2, 29))])) == #"["2000-02-29"]"#)
        // Packed temporals are exactly 8 bytes.
        #expect(throws: BinlogError.self) { try render(.opaque(12, [1, 2, 3, 4, 5, 6, 7])) }
        // Out-of-range fields from corrupt input print without trapping.
        _ = try render(.opaque(12, littleEndian(UInt64.max, 8)))
        _ = try render(.opaque(11, littleEndian(UInt64(bitPattern: Int64.min), 8)))
    }

    @Test("other opaque values as base64") func opaqueOther() throws {
        #expect(try render(.opaque(15, Array("abc".utf8))) == #""base64:type15:YWJj""#)
        #expect(try render(.opaque(16, [0xFF])) == #""base64:type16:/w==""#)
        #expect(try render(.opaque(252, [0xFB, 0xFF])) == #""base64:type252:+/8=""#)
        #expect(try render(.opaque(15, [])) == #""base64:type15:""#)
        // VAR_STRING opaque values print as strings.
        #expect(try render(.opaque(253, Array("a\"b".utf8))) == #""a\"b""#)
        // MySQL's base64 breaks lines every 76 characters; in JSON the break is escaped.
        let data = [UInt8](repeating: 0, count: 60)
        let line = String(repeating: "A", count: 76)
        #expect(try render(.opaque(15, data)) == "\"base64:type15:\(line)\\nAAAA\"")
    }

    /// Values written by MySQL 8.0.22 and 9.0.1 servers, taken from the JSON columns of the row
    /// events in Fixtures/peers/rust_mysql_common/json-opaque.binlog and json.binlog.000001.
    @Test("documents and a partial update written by real MySQL servers")
    func realServerDocuments() throws {
        let documents: [(hex: String, text: String)] = [
            ("0001000f000b0001000f0c00610f0155", #"{"a": "base64:type15:VQ=="}"#),  // b'01010101'
            ("00010016000b0001000f0c00620a080000000000e48b19", #"{"b": "2012-03-18"}"#),
            ("00010016000b0001000f0c00630c08000000adb7e48b19", #"{"c": "2012-03-18 11:30:45.000000"}"#),
            ("00010016000b0001000f0c00630b08f1fb09ee77050000", #"{"c": "87:31:46.654321"}"#),
            ("00010014000b0001000f0c0064f6060603807b01c8", #"{"d": 123.456}"#),
            ("00010015000b0001000f0c0065f6070b028000000900", #"{"e": 9.00}"#),
            ("0001001c000b000100020c006504001000050000050100040100040200", #"{"e": [0, 1, true, false]}"#),
            ("0001000c000b00010004000065", #"{"e": null}"#),
            (
                "0003003400190003001c000400200004000528000c24000c2f00616765646174616e616d650a7a7a7a7a7a7a7a7a7a7a0450657465",
                #"{"age": 40, "data": "zzzzzzzzzz", "name": "Pete"}"#
            ),
        ]
        for (hex, text) in documents {
            #expect(try render(hexBytes(hex)) == text)
        }
        // The after-image of UPDATE t SET json_col = JSON_REPLACE(json_col, '$.age', 26).
        let partial = try withDiffs(hexBytes("0005242e61676503051a00")) { list throws(BinlogError) in
            try list.sqlExpression(column: "@2")
        }
        #expect(partial == "JSON_REPLACE(@2, '$.age', 26)")
    }

    // MARK: - Malformed documents

    @Test("a document cut at any byte throws") func truncatedDocumentsThrow() throws {
        let documents = [
            kitchenSink.document,
            TestJSON.array([.string(String(repeating: "x", count: 300)), .double(2.5)], large: true).document,
            TestJSON.double(1.25).document,
            TestJSON.int64(-1).document,
            TestJSON.string("abc").document,
            TestJSON.opaque(11, packedTime(1, 2, 3)).document,
            TestJSON.int16(5).document,
            TestJSON.null.document,
        ]
        for document in documents {
            _ = try render(document)
            for length in 1..<document.count {
                #expect(throws: BinlogError.self, "prefix of \(length) of \(document.count) bytes") {
                    try render(Array(document[0..<length]))
                }
            }
        }
    }

    @Test("corrupt offsets, lengths and types throw") func corruptDocumentsThrow() throws {
        let corrupt: [[UInt8]] = [
            [0x0D],  // unknown type
            [0x0E, 0x00],  // unknown type
            [0x04, 0x03],  // invalid literal
            [0x0C, 0x05, 0x61],  // string longer than the document
            [0x0C, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],  // length longer than 5 bytes
            [0x0C, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],  // length beyond 32 bits
            [0x0F, 0x0F, 0x03, 0x61],  // opaque longer than the document
            [0x0F],  // opaque without a field type
            [0x02, 0x01, 0x00, 0x07, 0x00, 0x0C, 0x09, 0x00],  // value offset beyond the array
            [0x02, 0x01, 0x00, 0x07, 0x00, 0x0C, 0x02, 0x00],  // value offset inside the header
            [0x02, 0x01, 0x00, 0x09, 0x00, 0x0C, 0x07, 0x00, 0x01],  // size beyond the document
            [0x02, 0xFF, 0xFF, 0x07, 0x00, 0x04, 0x00, 0x00],  // more elements than the size allows
            [0x03, 0xFF, 0xFF, 0xFF, 0xFF, 0x08, 0x00, 0x00, 0x00],  // huge count, tiny size
            // object {"a": null} with the key offset inside the header, and with the key too long
            [0x00, 0x01, 0x00, 0x0C, 0x00, 0x04, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x61],
            [0x00, 0x01, 0x00, 0x0C, 0x00, 0x0B, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x61],
            [0x02, 0x01, 0x00, 0x07, 0x00, 0x0D, 0x00, 0x00],  // element of unknown type (inline slot)
        ]
        for document in corrupt {
            #expect(throws: BinlogError.self, "\(document)") { try render(document) }
        }
        // The sanity baseline for the hand-made object above.
        #expect(try render([0x00, 0x01, 0x00, 0x0C, 0x00, 0x0B, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x61]) == #"{"a": null}"#)
        do {
            _ = try render([0x0D])
        } catch {
            #expect(error.code == .corrupt)
        }
    }

    /// Entries that all point at one shared child would print 2^40 values: stopped, not printed.
    @Test("entries sharing one value cannot blow up the text") func sharedValuesDoNotExplode() throws {
        var body: [UInt8] = [0x00, 0x00, 0x04, 0x00]  // innermost: empty small array
        for _ in 0..<40 {
            let size = 10 + body.count
            body = [0x02, 0x00, UInt8(size & 0xFF), UInt8(size >> 8), 0x02, 0x0A, 0x00, 0x02, 0x0A, 0x00] + body
        }
        #expect(throws: BinlogError.self) { try render([0x02] + body) }
    }

    /// Random corruption of valid documents must never trap or read out of bounds.
    @Test("random corruption never crashes") func randomCorruptionNeverCrashes() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let seeds = [
            kitchenSink.document,
            TestJSON.object([("a", .array([.double(1), .string("x"), .opaque(10, packedDateTime(2020, 2, 2))]))], large: true)
                .document,
        ]
        var succeeded = 0
        for iteration in 0..<20_000 {
            var document = seeds[iteration % seeds.count]
            for _ in 0..<(1 + Int(random() % 4)) {
                let index = Int(random() % UInt64(document.count))
                document[index] = UInt8(truncatingIfNeeded: random())
            }
            if random() % 8 == 0 { document.removeLast(Int(random() % UInt64(document.count))) }
            if (try? render(document)) != nil { succeeded += 1 }
        }
        for _ in 0..<5_000 {
            let document = (0..<Int(random() % 40)).map { _ in UInt8(truncatingIfNeeded: random() % 20) }
            _ = try? render(document)
        }
        #expect(succeeded > 0)
    }

    // MARK: - Partial updates (JSON diffs)

    @Test("a REPLACE diff of $.a with true") func diffListParsesReplace() throws {
        let payload: [UInt8] = [0x00, 0x03, 0x24, 0x2E, 0x61, 0x02, 0x04, 0x01]
        try withDiffs(payload) { list throws(BinlogError) in
            var iterator = list.makeIterator()
            let first = try iterator.next()
            #expect(first?.operation == .replace)
            #expect(first.map { Array($0.path) } == Array("$.a".utf8))
            #expect(first?.value.map { Array($0) } == [0x04, 0x01])
            if let value = first?.value { #expect(try JSONBinary.text(value) == "true") }
            #expect(try iterator.next() == nil)
            #expect(try list.sqlExpression(column: "@3") == "JSON_REPLACE(@3, '$.a', true)")
        }
    }

    @Test("diffs of every operation, printed as mysqlbinlog does") func diffListAllOperations() throws {
        let payload =
            diff(0, "$.a", .int16(1)) + diff(1, "$.b", .string("x")) + diff(2, "$.c") + diff(1, "$.arr[1]", .null)
        try withDiffs(payload) { list throws(BinlogError) in
            var iterator = list.makeIterator()
            var operations: [JSONDiff.Operation] = []
            var paths: [String] = []
            while let diff = try iterator.next() {
                operations.append(diff.operation)
                paths.append(String(decoding: diff.path, as: UTF8.self))
                #expect((diff.value == nil) == (diff.operation == .remove))
            }
            #expect(operations == [.replace, .insert, .remove, .insert])
            #expect(paths == ["$.a", "$.b", "$.c", "$.arr[1]"])
            #expect(
                try list.sqlExpression(column: "@3")
                    == "JSON_ARRAY_INSERT(\n###      JSON_REMOVE(\n###      JSON_INSERT(\n###      JSON_REPLACE(@3, '$.a', 1),"
                    + "\n###      '$.b', 'x'),\n###      '$.c'),\n###      '$.arr[1]', null)")
            #expect(
                try list.sqlExpression(column: "@3", lineSeparator: " ")
                    == "JSON_ARRAY_INSERT( JSON_REMOVE( JSON_INSERT( JSON_REPLACE(@3, '$.a', 1), '$.b', 'x'), '$.c'), '$.arr[1]', null)")
        }
    }

    @Test("consecutive diffs of one function share a call") func diffSQLMergesConsecutiveFunctions() throws {
        let payload = diff(0, "$.a", .int16(1)) + diff(0, "$.b", .double(2)) + diff(1, "$.c", .bool(false))
        let text = try withDiffs(payload) { list throws(BinlogError) in try list.sqlExpression(column: "@1", lineSeparator: " ") }
        #expect(text == "JSON_INSERT( JSON_REPLACE(@1, '$.a', 1, '$.b', 2.0), '$.c', false)")
    }

    @Test("diff values printed as mysqlbinlog prints them") func diffSQLValueStyles() throws {
        let payload =
            diff(0, "$.o", .object([("k", .string("it's"))])) + diff(0, "$.a", .array([.int16(1), .string("a\nb")]))
            + diff(0, "$.s", .string("a'b\\c\n\u{1}é")) + diff(0, "$.d", .opaque(246, [5, 2, 0x80, 0x7B, 0x2D]))
            + diff(0, "$.t", .opaque(10, packedDateTime(2015, 1, 15))) + diff(0, "$.x", .opaque(15, [0xFF]))
            + diff(0, "$.v", .opaque(253, Array("v".utf8))) + diff(0, "$.u", .uint64(UInt64.max))
            + [0x00, 0x03] + Array("$.n".utf8) + [0x00]  // an empty value document: null
            + diff(0, "$.q'", .null)
        let text = try withDiffs(payload) { list throws(BinlogError) in try list.sqlExpression(column: "@2", lineSeparator: " ") }
        #expect(
            text
                == #"JSON_REPLACE(@2, '$.o', CAST('{"k": "it\'s"}' AS JSON), '$.a', CAST('[1, "a\\nb"]' AS JSON), "#
                + #"'$.s', 'a\'b\\c\n\x01é', '$.d', 123.45, '$.t', '2015-01-15', '$.x', 'base64:type15:/w==', "#
                + #"'$.v', 'v', '$.u', 18446744073709551615, '$.n', null, '$.q\'', null)"#)
    }

    @Test("empty, malformed and long diff lists") func diffListEdgeCases() throws {
        // No diffs: just the column.
        #expect(try withDiffs([]) { list throws(BinlogError) in try list.sqlExpression(column: "@7") } == "@7")
        let malformed: [[UInt8]] = [
            [0x03, 0x01, 0x24],  // unknown operation
            [0x00, 0x05, 0x24],  // path longer than the payload
            [0x00, 0x01, 0x24],  // replace without a value
            [0x00, 0x01, 0x24, 0x09, 0x04],  // value longer than the payload
            [0x02, 0xFB],  // NULL length
            [0x00, 0x01, 0x24, 0x02, 0x04, 0x07],  // value that is not valid binary JSON
            [0x02, 0x01, 0x24, 0x02],  // second diff cut short
        ]
        for payload in malformed {
            #expect(throws: BinlogError.self, "\(payload)") {
                try withDiffs(payload) { list throws(BinlogError) in try list.sqlExpression(column: "@1") }
            }
        }
        // After an error the iterator stops.
        try withDiffs([0x02, 0x01, 0x24, 0x07]) { list throws(BinlogError) in
            var iterator = list.makeIterator()
            #expect(try iterator.next()?.operation == .remove)
            #expect(throws: BinlogError.self) { try iterator.next() }
            #expect(try iterator.next() == nil)
        }
        // Lengths of 251 and more use the 3-byte length-encoded form.
        let long = TestJSON.string(String(repeating: "z", count: 300)).document
        let payload = [0x00, 0x03] + Array("$.a".utf8) + [0xFC, UInt8(long.count & 0xFF), UInt8(long.count >> 8)] + long
        let text = try withDiffs(payload) { list throws(BinlogError) in try list.sqlExpression(column: "@1") }
        #expect(text == "JSON_REPLACE(@1, '$.a', '\(String(repeating: "z", count: 300))')")
    }
}
