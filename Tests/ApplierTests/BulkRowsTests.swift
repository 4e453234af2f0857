@testable import BinlogFormat
import Testing

@testable import Applier

/// BulkRows' binary rows, read back as the text the applier would have sent: every value must
/// mean what SQLLiteral writes for it (the text form is also what goes where a statement cannot be
/// prepared). The values on real servers: ApplierEveryTypeTests.
@Suite("Bulk INSERT rows")
struct BulkRowsTests {
    private static let head = Array("INSERT INTO `s`.`t` (`a`,`b`) VALUES ".utf8)

    /// Runs `body` with `bytes` as a buffer the values can point into.
    private func withBytes<Result>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try bytes.withUnsafeBytes(body)
    }

    private func rows(_ rows: [[BulkRows.Parameter]]) throws -> (BulkRows, [Bool]) {
        var bulk = BulkRows(head: Self.head, parameterCount: rows.first?.count ?? 0)
        var added: [Bool] = []
        for row in rows {
            var values = row.makeIterator()
            added.append(try bulk.appendRow { values.next() })
        }
        return (bulk, added)
    }

    private func text(_ bulk: BulkRows) throws -> String {
        var sql = SQLText()
        try bulk.writeText(into: &sql)
        return String(decoding: sql.bytes, as: UTF8.self)
    }

    /// What the applier's text INSERT of the same rows would be.
    private func literals(_ rows: [[BulkRows.Parameter]]) throws -> String {
        var sql = SQLText()
        sql.append(Self.head)
        for (index, row) in rows.enumerated() {
            if index > 0 { sql.append(",") }
            sql.append("(")
            for (column, parameter) in row.enumerated() {
                if column > 0 { sql.append(",") }
                try SQLLiteral.write(parameter.value, unsigned: parameter.unsigned, padTo: parameter.padTo, into: &sql)
            }
            sql.append(")")
        }
        return String(decoding: sql.bytes, as: UTF8.self)
    }

    @Test("every kind of value reads back as the literal the text INSERT writes")
    func everyKind() throws {
        let blob: [UInt8] = [0x00, 0x27, 0x5C, 0xFF, 0x41, 0x00]
        let long = [UInt8](repeating: 0x61, count: 70_000)  // a three-byte length
        let decimal: [UInt8] = [0x80, 0x00, 0x01, 0x0E, 0x61, 0x00]  // DECIMAL(10,2)
        try withBytes(blob) { blob in
            try withBytes(long) { long in
                try withBytes(decimal) { decimal in
                    let pairs: [(BulkRows.Parameter, BulkRows.Parameter)] = [
                        (.init(value: .integer(IntegerValue(bits: 0x8000_0000_0000_0000, width: 8, isUnsigned: nil))),
                         .init(value: .integer(IntegerValue(bits: UInt64.max, width: 8, isUnsigned: true)))),
                        (.init(value: .integer(IntegerValue(bits: 0xFF, width: 1, isUnsigned: nil))),
                         .init(value: .integer(IntegerValue(bits: 0xFF, width: 1, isUnsigned: nil)), unsigned: true)),
                        (.init(value: .float(-0.0)), .init(value: .double(1e-300))),
                        (.init(value: .float(Float.greatestFiniteMagnitude)), .init(value: .double(-Double.leastNonzeroMagnitude))),
                        (.init(value: .decimal(Decimal(bytes: decimal, precision: 10, scale: 2))), .init(value: .year(0))),
                        (.init(value: .date(DateValue(year: 0, month: 0, day: 0))),
                         .init(value: .time(TimeValue(isNegative: true, hours: 838, minutes: 59, seconds: 59, microseconds: 0, fractionalDigits: 6)))),
                        (.init(value: .datetime(DateTimeValue(year: 9999, month: 12, day: 31, hour: 23, minute: 59, second: 59, microseconds: 999_999, fractionalDigits: 6))),
                         .init(value: .timestamp(TimestampValue(seconds: 0, microseconds: 0, fractionalDigits: 0)))),
                        (.init(value: .timestamp(TimestampValue(seconds: 951_782_400, microseconds: 5000, fractionalDigits: 3))), .init(value: .null)),
                        (.init(value: .string(blob), padTo: 10), .init(value: .blob(long))),
                        (.init(value: .enumIndex(2)), .init(value: .setBits(1 << 63))),
                        (.init(value: .bit(UInt64.max, width: 64)), .init(value: .geometry(blob))),
                        (.init(value: .null), .init(value: .vector(blob))),
                    ]
                    for (first, second) in pairs {
                        // Twice: the second row is read with the types the first set.
                        let twice = [[first, second], [first, second]]
                        let (bulk, added) = try rows(twice)
                        #expect(added == [true, true])
                        #expect(try text(bulk) == (try literals(twice)))
                    }
                    // Many rows, NULLs before a column's first value.
                    let many: [[BulkRows.Parameter]] = [
                        [.init(value: .null), .init(value: .blob(blob))],
                        [.init(value: .integer(IntegerValue(bits: 7, width: 4, isUnsigned: nil))), .init(value: .null)],
                        [.init(value: .integer(IntegerValue(bits: 8, width: 4, isUnsigned: nil))), .init(value: .blob(long))],
                    ]
                    let (bulk, added) = try rows(many)
                    #expect(added == [true, true, true])
                    #expect(bulk.rows == 3)
                    #expect(try text(bulk) == (try literals(many)))
                }
            }
        }
    }

    @Test("a value without a binary form refuses its row and leaves the others as they were")
    func refusals() throws {
        let document: [UInt8] = [0x04, 0x01]  // MySQL binary JSON: true
        try withBytes(document) { document in
            let good: [BulkRows.Parameter] = [.init(value: .integer(IntegerValue(bits: 1, width: 4, isUnsigned: nil))), .init(value: .null)]
            for refused: [BulkRows.Parameter] in [
                [.init(value: .integer(IntegerValue(bits: 2, width: 4, isUnsigned: nil))), .init(value: .enumIndex(0))],
                [.init(value: .integer(IntegerValue(bits: 2, width: 4, isUnsigned: nil))), .init(value: .json(document))],
                [.init(value: .integer(IntegerValue(bits: 2, width: 4, isUnsigned: nil))), .init(value: .double(.infinity))],
                // A column's type may not change from row to row.
                [.init(value: .double(2)), .init(value: .null)],
                [.init(value: .integer(IntegerValue(bits: 2, width: 4, isUnsigned: true))), .init(value: .null)],
                // Too few or too many values.
                [.init(value: .integer(IntegerValue(bits: 2, width: 4, isUnsigned: nil)))],
                good + [.init(value: .null)],
            ] {
                let (bulk, added) = try rows([good, refused, good])
                #expect(added == [true, false, true])
                #expect(bulk.rows == 2)
                #expect(try text(bulk) == (try literals([good, good])))
            }
        }
    }

    @Test("the packet: statement id, flags, each parameter's type, then the rows")
    func packet() throws {
        let (bulk, _) = try rows([[.init(value: .integer(IntegerValue(bits: 0xFF, width: 1, isUnsigned: true))), .init(value: .null)]])
        var packet: [UInt8] = []
        bulk.packet(statementID: 0x0102_0304, into: &packet)
        #expect(
            packet == [0x04, 0x03, 0x02, 0x01, 128, 0, 8, 128, 252, 0]  // id, flags, LONGLONG unsigned, a NULL column's type
                + [0, 0xFF, 0, 0, 0, 0, 0, 0, 0, 1])  // a value, then NULL
        #expect(String(decoding: bulk.statement, as: UTF8.self) == "INSERT INTO `s`.`t` (`a`,`b`) VALUES (?,?)")
    }
}
