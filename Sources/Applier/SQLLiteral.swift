import BinlogFormat

/// Writes column values as SQL literals that mean exactly what the binlog holds:
///
/// - strings, BLOBs, BINARY, GEOMETRY and VECTOR as binary strings (`_binary'…'`, only `'`, `\`
///   and NUL escaped): the bytes go as they are, whatever the connection's or the column's
///   character set (a binary string assigned to a character column is copied byte for byte);
/// - integers in decimal with the signedness the table map or the target column gives, BIT, ENUM
///   and SET as the numbers they are stored as (an ENUM index, a SET bitmask, read as signed);
/// - DECIMAL with all its digits; FLOAT widened to the double it equals and DOUBLE as the
///   shortest text that reads back as the same double, so both parse back bit for bit;
/// - temporal values as text in the column's own form; TIMESTAMP as UTC text, applied in a
///   session whose `time_zone` is `+00:00`, so no local-time gap or fold can move it;
/// - MySQL binary JSON as its text, as a utf8mb4 string.
enum SQLLiteral {
    /// Writes `value`; `unsigned` is what the table map or the target column says of an integer.
    /// `padTo`: a fixed-length binary column's length (BINARY(n), INET4, INET6, UUID), whose values
    /// the binlog holds without their trailing 0x00 bytes: written back to their full length, or
    /// they would compare unequal to the stored value and INET6/UUID would refuse them.
    static func write(_ value: ColumnValue, unsigned: Bool, padTo: Int = 0, into sql: inout SQLText) throws(ApplierError) {
        switch value {
        case .null:
            sql.append("NULL")
        case .integer(let integer):
            if unsigned || integer.isUnsigned == true {
                sql.append(unsigned: integer.bits)
            } else {
                sql.bytes.appendPadded(Int(integer.signed), 0)
            }
        case .float(let float):
            try writeFloatingPoint(Double(float), into: &sql)
        case .double(let double):
            try writeFloatingPoint(double, into: &sql)
        case .decimal(let decimal):
            decimal.write(into: &sql.bytes)
        case .year(let year):
            sql.append(year)
        case .date(let date):
            sql.appendQuoted(date.write)
        case .time(let time):
            sql.appendQuoted(time.write)
        case .datetime(let datetime):
            sql.appendQuoted(datetime.write)
        case .timestamp(let timestamp):
            writeTimestamp(timestamp, into: &sql)
        case .string(let bytes):
            sql.appendEscaped(bytes, padTo: padTo)
        case .blob(let bytes), .geometry(let bytes), .vector(let bytes):
            sql.appendEscaped(bytes)
        case .enumIndex(let index):
            sql.append(index)
        case .setBits(let bits):
            // As the signed number a SET column's value reads as: a 64-member SET with its last
            // member compares unequal to 9223372036854775809 but equal to -9223372036854775807
            // (storing either gives the same members).
            sql.bytes.appendPadded(Int(Int64(bitPattern: bits)), 0)
        case .bit(let bits, _):
            sql.append(unsigned: bits)
        case .json(let document):
            var text: [UInt8] = []
            do {
                try JSONBinary.writeText(document, into: &text)
            } catch {
                throw ApplierError(.decode, "a JSON value cannot be read: \(error)")
            }
            text.withUnsafeBytes { sql.appendEscaped($0, introducer: "_utf8mb4") }
        case .jsonDiff:
            // Only an UPDATE's SET writes a diff (RowStatements handles it): never a plain literal.
            throw ApplierError(.decode, "a partial JSON update where a whole value was expected")
        }
    }

    private static func writeFloatingPoint(_ value: Double, into sql: inout SQLText) throws(ApplierError) {
        guard value.isFinite else { throw ApplierError(.decode, "a FLOAT/DOUBLE value is \(value), which SQL cannot hold") }
        writeFinite(value, into: &sql)
    }

    /// A finite FLOAT (widened) or DOUBLE: Swift prints the shortest digits that read back as the
    /// same double ("1e-05", "0.1").
    static func writeFinite(_ value: Double, into sql: inout SQLText) {
        sql.append(value == 0 && value.sign == .minus ? "-0e0" : value.description)
    }

    /// TIMESTAMP as `'YYYY-MM-DD hh:mm:ss[.ffffff]'` in UTC; 0 is MySQL's zero timestamp.
    static func writeTimestamp(_ timestamp: TimestampValue, into sql: inout SQLText) {
        sql.appendQuoted { writeTimestampText(timestamp, into: &$0) }
    }

    /// The text of ``writeTimestamp(_:into:)`` without its quotes.
    static func writeTimestampText(_ timestamp: TimestampValue, into output: inout [UInt8]) {
        if timestamp.seconds == 0 && timestamp.microseconds == 0 {
            output.append(contentsOf: "0000-00-00 00:00:00".utf8)
            return
        }
        let time = UTCDateTime(unixSeconds: Int64(timestamp.seconds))
        let value = DateTimeValue(
            year: time.year, month: time.month, day: time.day, hour: time.hour, minute: time.minute,
            second: time.second, microseconds: timestamp.microseconds, fractionalDigits: timestamp.fractionalDigits)
        value.write(into: &output)
    }
}
