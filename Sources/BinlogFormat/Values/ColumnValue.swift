/// One column value of a row image, as a view over the event's bytes.
///
/// Nothing here owns memory: strings, blobs, JSON and decimals point into the event and are
/// valid only as long as the event is. Call the `string`/`bytes`/`description` helpers to
/// get an owned copy when a value has to outlive the event.
public enum ColumnValue {
    case null
    /// TINYINT … BIGINT and YEAR-less integers: raw bits plus what the table map says of the sign.
    case integer(IntegerValue)
    case float(Float)
    case double(Double)
    /// NEWDECIMAL in MySQL's binary decimal form; ``Decimal/description`` gives the exact digits.
    case decimal(Decimal)
    case year(UInt16)
    case date(DateValue)
    case time(TimeValue)
    case datetime(DateTimeValue)
    /// TIMESTAMP: seconds since the epoch (UTC) and the fraction.
    case timestamp(TimestampValue)
    /// CHAR, VARCHAR, BINARY, VARBINARY bytes (their charset is the column's).
    case string(UnsafeRawBufferPointer)
    /// TINYBLOB … LONGBLOB and the TEXT types.
    case blob(UnsafeRawBufferPointer)
    /// ENUM: the 1-based index of the member (0 = the empty error value).
    case enumIndex(UInt16)
    /// SET: one bit per member.
    case setBits(UInt64)
    /// BIT(n): the bits as an unsigned number.
    case bit(UInt64, width: Int)
    /// MySQL JSON in its binary form; ``JSONBinary`` turns it into text.
    case json(UnsafeRawBufferPointer)
    /// A partial JSON update (PARTIAL_UPDATE_ROWS after-image): the diffs to apply to the before-image.
    case jsonDiff(JSONDiffList)
    /// GEOMETRY in MySQL's internal form (SRID u32 + WKB).
    case geometry(UnsafeRawBufferPointer)
    /// VECTOR: little-endian IEEE floats.
    case vector(UnsafeRawBufferPointer)

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

/// An integer column's value: its bits, width and known signedness.
public struct IntegerValue: Sendable, Equatable {
    /// The stored bits, zero-extended.
    public var bits: UInt64
    /// Width in bytes: 1, 2, 3, 4 or 8.
    public var width: Int
    /// From the table map's SIGNEDNESS metadata; nil when the server did not say.
    public var isUnsigned: Bool?

    /// The value read as a signed number of its width.

    public var signed: Int64 {
        let shift = UInt64(64 - width * 8)
        return Int64(bitPattern: bits << shift) >> Int64(shift)
    }

    /// The value as the column means it: unsigned only when the table map says so.
    public var description: String {
        isUnsigned == true ? String(bits) : String(signed)
    }
}

public struct DateValue: Sendable, Equatable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int
    public var description: String { "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))" }
}

public struct TimeValue: Sendable, Equatable, CustomStringConvertible {
    public var isNegative: Bool
    public var hours: Int
    public var minutes: Int
    public var seconds: Int
    public var microseconds: Int
    /// Fractional digits the column keeps (0–6).
    public var fractionalDigits: Int
    public var description: String {
        (isNegative ? "-" : "") + "\(pad(hours, 2)):\(pad(minutes, 2)):\(pad(seconds, 2))"
            + fraction(microseconds, digits: fractionalDigits)
    }
}

public struct DateTimeValue: Sendable, Equatable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int
    public var microseconds: Int
    public var fractionalDigits: Int
    public var description: String {
        "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)) \(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))"
            + fraction(microseconds, digits: fractionalDigits)
    }
}

public struct TimestampValue: Sendable, Equatable, CustomStringConvertible {
    public var seconds: UInt32
    public var microseconds: Int
    public var fractionalDigits: Int
    /// Seconds since the epoch with the fraction, as `mysqlbinlog -vv` prints a TIMESTAMP.
    public var description: String { "\(seconds)" + fraction(microseconds, digits: fractionalDigits) }
}

/// Zero-padded decimal digits (no Foundation).
@usableFromInline
func pad(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

/// ".123" for 123000 µs with 3 digits; empty for 0 digits.
@usableFromInline
func fraction(_ microseconds: Int, digits: Int) -> String {
    guard digits > 0 else { return "" }
    var value = microseconds
    for _ in digits..<6 { value /= 10 }
    return "." + pad(value, digits)
}
