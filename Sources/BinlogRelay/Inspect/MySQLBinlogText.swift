import BinlogFormat

/// Row images as `mysqlbinlog -vv` prints them (MariaDB's `log_event_print_value`): one
/// `###   @N=value /* TYPE meta=M nullable=N is_null=N */` line per present column.
///
/// The rules follow MariaDB 10.11's client so that the output can be compared line by line with
/// `mariadb-binlog -vv`; types that client cannot print (MySQL JSON, VECTOR) get a readable form.
enum MySQLBinlogText {
    static func writeRow(_ change: RowChange, kind: RowsEvent.Kind, table: TableMap, into output: inout [UInt8])
        throws(BinlogError)
    {
        switch kind {
        case .insert:
            output.append("### INSERT INTO `\(table.schema)`.`\(table.table)`\n### SET\n")
            if let after = change.after { try writeImage(after, into: &output) }
        case .delete:
            output.append("### DELETE FROM `\(table.schema)`.`\(table.table)`\n### WHERE\n")
            if let before = change.before { try writeImage(before, into: &output) }
        case .update:
            output.append("### UPDATE `\(table.schema)`.`\(table.table)`\n### WHERE\n")
            if let before = change.before { try writeImage(before, into: &output) }
            output.append("### SET\n")
            if let after = change.after { try writeImage(after, into: &output) }
        }
    }

    static func writeImage(_ image: RowImage, into output: inout [UInt8]) throws(BinlogError) {
        let columns = image.tableMap.columns
        try image.forEachColumn { (index: Int, value: ColumnValue) throws(BinlogError) in
            let column = columns[index]
            output.append("###   @")
            output.appendDecimal(index + 1)
            output.append(UInt8(ascii: "="))
            try writeValue(value, column: column, columnNumber: index + 1, into: &output)
            output.append(" /* ")
            output.append(typeName(column))
            output.append(" meta=")
            output.appendDecimal(column.metadata)
            output.append(" nullable=")
            output.append(column.isNullable ? UInt8(ascii: "1") : UInt8(ascii: "0"))
            output.append(" is_null=")
            output.append(value.isNull ? UInt8(ascii: "1") : UInt8(ascii: "0"))
            output.append(" */\n")
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

    static func writeValue(_ value: ColumnValue, column: TableMap.Column, columnNumber: Int, into output: inout [UInt8])
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
            output.append(time.description)
            output.append(UInt8(ascii: "'"))
        case .datetime(let datetime):
            output.append(UInt8(ascii: "'"))
            output.append(datetime.description)
            output.append(UInt8(ascii: "'"))
        case .timestamp(let timestamp):
            output.append(timestamp.description)
        case .string(let bytes), .blob(let bytes), .geometry(let bytes), .vector(let bytes):
            writeQuoted(bytes, into: &output)
        case .enumIndex(let index):
            output.appendDecimal(index)
        case .setBits(let bits):
            // Printed as the stored bytes (little-endian), each most significant bit first.
            output.append("b'")
            for byteIndex in 0..<column.length {
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
            output.append(try diffs.sqlExpression(column: "@\(columnNumber)"))
        }
    }

    /// Quoted as `my_b_write_quoted` does: bytes above 0x1F as they are, others as `\xNN`.
    static func writeQuoted(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "'"))
        for byte in bytes {
            if byte > 0x1F {
                output.append(byte)
            } else {
                output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "x")])
                let digits: StaticString = "0123456789abcdef"
                output.append(digits.utf8Start[Int(byte >> 4)])
                output.append(digits.utf8Start[Int(byte & 15)])
            }
        }
        output.append(UInt8(ascii: "'"))
    }
}
