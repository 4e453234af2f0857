import BinlogFormat

/// Row images as `mysqlbinlog -vv` prints them (MariaDB's `log_event_print_value`): one
/// `###   @N=value /* TYPE meta=M nullable=N is_null=N */` line per present column.
///
/// The rules follow MariaDB 10.11's client so that the output can be compared line by line with
/// `mariadb-binlog -vv`; types that client cannot print (MySQL JSON, VECTOR) get a readable form.
enum MySQLBinlogText {
    /// The comment after each value, up to `is_null=`: ` /* TYPE meta=M nullable=N is_null=`,
    /// built once per table.
    static func makeCommentCache() -> ColumnTextCache {
        ColumnTextCache { map, index, output in
            let column = map.columns[index]
            output.append(" /* ")
            output.appendString(typeName(column))
            output.append(" meta=")
            output.appendDecimal(column.metadata)
            output.append(" nullable=")
            output.append(column.isNullable ? UInt8(ascii: "1") : UInt8(ascii: "0"))
            output.append(" is_null=")
        }
    }

    /// `comments`: a cache from ``makeCommentCache()`` kept across rows and events (a fresh one
    /// when nil).
    static func writeRow(
        _ change: RowChange, kind: RowsEvent.Kind, table: TableMap, comments: ColumnTextCache? = nil,
        into output: inout [UInt8]
    ) throws(BinlogError) {
        let comments = (comments ?? makeCommentCache()).bytes(for: table)
        switch kind {
        case .insert:
            output.append("### INSERT INTO ")
            writeTableName(table, into: &output)
            output.append("\n### SET\n")
            if let after = change.after { try writeImage(after, comments: comments, into: &output) }
        case .delete:
            output.append("### DELETE FROM ")
            writeTableName(table, into: &output)
            output.append("\n### WHERE\n")
            if let before = change.before { try writeImage(before, comments: comments, into: &output) }
        case .update:
            output.append("### UPDATE ")
            writeTableName(table, into: &output)
            output.append("\n### WHERE\n")
            if let before = change.before { try writeImage(before, comments: comments, into: &output) }
            output.append("### SET\n")
            if let after = change.after { try writeImage(after, comments: comments, into: &output) }
        }
    }

    /// `` `schema`.`table` ``
    static func writeTableName(_ table: TableMap, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "`"))
        output.appendString(table.schema)
        output.append("`.`")
        output.appendString(table.table)
        output.append(UInt8(ascii: "`"))
    }

    static func writeImage(_ image: RowImage, comments: ColumnTextCache.Entry, into output: inout [UInt8])
        throws(BinlogError)
    {
        var columns = image.makeIterator()
        while let (index, value) = try columns.next() {
            output.append("###   @")
            output.appendDecimal(index + 1)
            output.append(UInt8(ascii: "="))
            try writeValue(value, image: image, column: index, into: &output)
            comments.append(index, to: &output)
            if value.isNull { output.append("1 */\n") } else { output.append("0 */\n") }
        }
    }

    static func typeName(_ column: TableMap.Column) -> String {
        switch column.valueType {
        case .long: "INT"
        case .tiny: "TINYINT"
        case .short: "SHORTINT"
        case .int24: "MEDIUMINT"
        case .longlong: "LONGINT"
        case .newdecimal: "DECIMAL(\(column.precision),\(column.scale))"
        case .float: "FLOAT"
        case .double: "DOUBLE"
        case .bit: "BIT(\(column.length))"
        case .timestamp: "TIMESTAMP"
        case .timestamp2: "TIMESTAMP(\(column.length))"
        case .datetime: "DATETIME"
        case .datetime2: "DATETIME(\(column.length))"
        case .time: "TIME"
        case .time2: "TIME(\(column.length))"
        case .date, .newdate: "DATE"
        case .year: "YEAR"
        case .enum: column.length == 1 ? "ENUM(1 byte)" : "ENUM(\(column.length) bytes)"
        case .set: "SET(\(column.length) bytes)"
        case .blob, .tinyBlob, .mediumBlob, .longBlob:
            switch column.length {
            case 1: "TINYBLOB/TINYTEXT"
            case 2: "BLOB/TEXT"
            case 3: "MEDIUMBLOB/MEDIUMTEXT"
            default: "LONGBLOB/LONGTEXT"
            }
        case .varchar, .varString: "VARSTRING(\(column.length))"
        case .string: "STRING(\(column.length))"
        case .geometry: "GEOMETRY"
        case .json: "JSON"
        case .vector: "VECTOR"
        default: column.valueType.name
        }
    }

    static func writeValue(_ value: ColumnValue, image: RowImage, column: Int, into output: inout [UInt8])
        throws(BinlogError)
    {
        switch value {
        case .null:
            output.append("NULL")
        case .integer(let integer):
            let signed = integer.signed
            output.appendDecimal(signed)
            if signed < 0 {
                output.append(" (")
                output.appendDecimal(integer.bits)
                output.append(UInt8(ascii: ")"))
            }
        case .float(let float):
            output.appendPrintf("%-20g", Double(float))
        case .double(let double):
            output.appendPrintf("%-.20g", double)
        case .decimal(let decimal):
            decimal.write(into: &output)
        case .year(let year):
            output.appendPadded(Int(year), width: 4)
        case .date(let date):
            output.append(UInt8(ascii: "'"))
            output.appendPadded(date.year, width: 4)
            output.append(UInt8(ascii: ":"))
            output.appendPadded(date.month, width: 2)
            output.append(UInt8(ascii: ":"))
            output.appendPadded(date.day, width: 2)
            output.append(UInt8(ascii: "'"))
        case .time(let time):
            output.append(UInt8(ascii: "'"))
            time.write(into: &output)
            output.append(UInt8(ascii: "'"))
        case .datetime(let datetime):
            output.append(UInt8(ascii: "'"))
            datetime.write(into: &output)
            output.append(UInt8(ascii: "'"))
        case .timestamp(let timestamp):
            timestamp.write(into: &output)
        case .string(let bytes), .blob(let bytes), .geometry(let bytes), .vector(let bytes):
            writeQuoted(bytes, into: &output)
        case .enumIndex(let index):
            output.appendDecimal(index)
        case .setBits(let bits):
            // Printed as the stored bytes (little-endian), each most significant bit first.
            output.append("b'")
            for byteIndex in 0..<image.tableMap.columns[column].length {
                let byte = UInt8(truncatingIfNeeded: bits >> UInt64(8 * byteIndex))
                for bit in stride(from: 7, through: 0, by: -1) {
                    output.append(byte & (1 << UInt8(bit)) != 0 ? UInt8(ascii: "1") : UInt8(ascii: "0"))
                }
            }
            output.append(UInt8(ascii: "'"))
        case .bit(let bits, let width):
            output.append("b'")
            for bit in stride(from: width - 1, through: 0, by: -1) {
                output.append(bits & (1 << UInt64(bit)) != 0 ? UInt8(ascii: "1") : UInt8(ascii: "0"))
            }
            output.append(UInt8(ascii: "'"))
        case .json(let document):
            var text: [UInt8] = []
            try JSONBinary.writeText(document, into: &text)
            text.withUnsafeBytes { writeQuoted($0, into: &output) }
        case .jsonDiff(let diffs):
            output.appendString(try diffs.sqlExpression(column: "@\(column + 1)"))
        }
    }

    /// Quoted as `my_b_write_quoted` does: bytes above 0x1F as they are, others as `\xNN`.
    static func writeQuoted(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "'"))
        var runStart = 0
        for index in 0..<bytes.count where bytes[index] <= 0x1F {
            if runStart < index { output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index])) }
            runStart = index + 1
            output.append("\\x")
            output.appendHexByte(bytes[index])
        }
        if runStart < bytes.count {
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
        output.append(UInt8(ascii: "'"))
    }
}
