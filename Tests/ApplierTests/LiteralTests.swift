@testable import BinlogFormat
import Testing

@testable import Applier

@Suite("SQL literals")
struct LiteralTests {
    private func literal(_ value: ColumnValue, unsigned: Bool = false) throws -> String {
        var sql = SQLText()
        try SQLLiteral.write(value, unsigned: unsigned, into: &sql)
        return String(decoding: sql.bytes, as: UTF8.self)
    }

    @Test("integers keep their sign and width at the extremes")
    func integers() throws {
        #expect(try literal(.integer(IntegerValue(bits: 0xFF, width: 1, isUnsigned: nil))) == "-1")
        #expect(try literal(.integer(IntegerValue(bits: 0xFF, width: 1, isUnsigned: true))) == "255")
        #expect(try literal(.integer(IntegerValue(bits: 0xFF, width: 1, isUnsigned: nil)), unsigned: true) == "255")
        #expect(try literal(.integer(IntegerValue(bits: 0x8000_0000_0000_0000, width: 8, isUnsigned: nil))) == "-9223372036854775808")
        #expect(try literal(.integer(IntegerValue(bits: UInt64.max, width: 8, isUnsigned: true))) == "18446744073709551615")
        #expect(try literal(.integer(IntegerValue(bits: 0x80_0000, width: 3, isUnsigned: nil))) == "-8388608")
        #expect(try literal(.bit(UInt64.max, width: 64)) == "18446744073709551615")
        // A SET reads as a signed number: its last member of 64 compares equal to -9223372036854775808.
        #expect(try literal(.setBits(1 << 63)) == "-9223372036854775808")
        #expect(try literal(.setBits(5)) == "5")
        #expect(try literal(.enumIndex(2)) == "2")
        #expect(try literal(.year(0)) == "0")
    }

    @Test("floating point text reads back as the same bits")
    func floatingPoint() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let double = Double(bitPattern: generator.next())
            if double.isFinite {
                let text = try literal(.double(double))
                #expect(Double(text)?.bitPattern == double.bitPattern, "\(double) written as \(text)")
            }
            let float = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
            if float.isFinite {
                // The server parses the literal as a double and stores it in a FLOAT column.
                let text = try literal(.float(float))
                #expect(Double(text).map { Float($0) }?.bitPattern == float.bitPattern, "\(float) written as \(text)")
            }
        }
        #expect(throws: ApplierError.self) { try literal(.double(.nan)) }
    }

    @Test("bytes go as a binary string, only quote and backslash escaped, NUL as it is")
    func bytes() throws {
        let data: [UInt8] = [0x00, 0x27, 0x5C, 0xF0, 0x9F, 0x98, 0x80, 0xFF, 0x0A]
        var sql = SQLText()
        try data.withUnsafeBytes { try SQLLiteral.write(.blob($0), unsigned: false, into: &sql) }
        #expect(sql.bytes == Array("_binary'".utf8) + [0x00] + Array("\\'\\\\".utf8) + [0xF0, 0x9F, 0x98, 0x80, 0xFF, 0x0A, 0x27])
        let empty = try [UInt8]().withUnsafeBytes { try literal(.string($0)) }
        #expect(empty == "_binary''")
    }

    @Test("escaping eight bytes at a time gives what escaping byte by byte gives")
    func escapingRuns() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<2_000 {
            let count = Int.random(in: 0...80, using: &generator)
            // Mostly plain bytes, with the escaped ones (and their neighbours 0x26, 0x28, 0x5B, 0x5D, 0x01) sprinkled.
            let special: [UInt8] = [0x00, 0x27, 0x5C, 0x26, 0x28, 0x5B, 0x5D, 0x01, 0x80, 0xFF]
            let data: [UInt8] = (0..<count).map { _ in
                Int.random(in: 0..<(round % 3 == 0 ? 2 : 12), using: &generator) == 0
                    ? special.randomElement(using: &generator)! : UInt8.random(in: 0...255, using: &generator)
            }
            var expected = Array("_binary'".utf8)
            for byte in data {
                switch byte {
                case 0x27, 0x5C: expected += [0x5C, byte]
                default: expected.append(byte)
                }
            }
            expected.append(0x27)
            var sql = SQLText()
            data.withUnsafeBytes { sql.appendEscaped($0) }
            #expect(sql.bytes == expected, "\(data)")
        }
        // The word test never misses one of the two bytes in any lane.
        for lane in 0..<8 {
            for byte: UInt8 in [0x27, 0x5C] {
                let word = UInt64(0x4141_4141_4141_4141) & ~(UInt64(0xFF) << (8 * lane)) | UInt64(byte) << (8 * lane)
                #expect(SQLText.mayNeedEscape(word))
            }
        }
        #expect(!SQLText.mayNeedEscape(0x4141_4141_4141_4141))
    }

    @Test("timestamps are UTC text; zero is the zero timestamp")
    func timestamps() throws {
        #expect(try literal(.timestamp(TimestampValue(seconds: 0, microseconds: 0, fractionalDigits: 0))) == "'0000-00-00 00:00:00'")
        #expect(try literal(.timestamp(TimestampValue(seconds: 1, microseconds: 0, fractionalDigits: 0))) == "'1970-01-01 00:00:01'")
        #expect(
            try literal(.timestamp(TimestampValue(seconds: 2_147_483_647, microseconds: 999_999, fractionalDigits: 6)))
                == "'2038-01-19 03:14:07.999999'")
        #expect(try literal(.timestamp(TimestampValue(seconds: 951_782_400, microseconds: 5000, fractionalDigits: 3))) == "'2000-02-29 00:00:00.005'")
    }

    @Test("civil dates match a day-by-day count over 600 years")
    func civilDates() {
        var (year, month, day) = (1970, 1, 1)
        func daysIn(_ month: Int, _ year: Int) -> Int {
            switch month {
            case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
            case 4, 6, 9, 11: 30
            default: 31
            }
        }
        for days in 0..<(600 * 366) {
            let date = UTCDateTime(unixSeconds: Int64(days) * 86_400)
            #expect(date.year == year && date.month == month && date.day == day)
            if date.year != year || date.month != month || date.day != day { break }
            day += 1
            if day > daysIn(month, year) {
                day = 1
                month += 1
                if month > 12 {
                    month = 1
                    year += 1
                }
            }
        }
    }

    @Test("identifiers and relay text are quoted")
    func quoting() {
        #expect(SQLText.identifier("a`b") == Array("`a``b`".utf8))
        var sql = SQLText()
        sql.appendQuoted("it's a \\ path")
        #expect(String(decoding: sql.bytes, as: UTF8.self) == "'it''s a \\\\ path'")
    }
}

@Suite("Table filters")
struct TableFilterTests {
    @Test("wildcards, includes and excludes")
    func patterns() throws {
        #expect(TableFilter.wildcard("shop_*", matches: "shop_eu"))
        #expect(!TableFilter.wildcard("shop_*", matches: "shopx"))
        #expect(TableFilter.wildcard("t?", matches: "t1"))
        #expect(!TableFilter.wildcard("t?", matches: "t12"))
        #expect(TableFilter.wildcard("*a*b", matches: "xxaxxb"))
        #expect(TableFilter.wildcard("*", matches: ""))

        let filter = TableFilter(include: ["shop", "crm.customers"], exclude: ["shop.tmp_*"])
        #expect(filter.includes(schema: "shop", table: "orders"))
        #expect(!filter.includes(schema: "shop", table: "tmp_import"))
        #expect(filter.includes(schema: "crm", table: "customers"))
        #expect(!filter.includes(schema: "crm", table: "notes"))
        #expect(!filter.includes(schema: "other", table: "t"))
        // Statements follow their default schema; a table pattern does not exclude a schema.
        #expect(filter.includes(schema: "shop"))
        #expect(filter.includes(schema: "crm"))
        #expect(!filter.includes(schema: "other"))
        #expect(!TableFilter(exclude: ["logs"]).includes(schema: "logs"))
    }

    @Test("schema renames parse FROM=TO and refuse anything else")
    func renames() throws {
        let renames = try TableFilter.renames(["shop=shop_dr", "a=b"])
        #expect(renames == ["shop": "shop_dr", "a": "b"])
        #expect(TableFilter(schemaRenames: renames).targetSchema("shop") == "shop_dr")
        #expect(throws: ApplierError.self) { try TableFilter.renames(["shop"]) }
        #expect(throws: ApplierError.self) { try TableFilter.renames(["=x"]) }
    }
}
