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

    /// Appends `yyyy-mm-dd`.
    public func write(into output: inout [UInt8]) {
        if (0...9999).contains(year) && (0...99).contains(month) && (0...99).contains(day) {
            output.appendText { text in
                text.put(year, digits: 4)
                text.put(UInt8(ascii: "-"))
                text.put(month, digits: 2)
                text.put(UInt8(ascii: "-"))
                text.put(day, digits: 2)
            }
            return
        }
        output.appendPadded(year, 4)
        output.append(UInt8(ascii: "-"))
        output.appendPadded(month, 2)
        output.append(UInt8(ascii: "-"))
        output.appendPadded(day, 2)
    }

    public var description: String { text(write) }
}

public struct TimeValue: Sendable, Equatable, CustomStringConvertible {
    public var isNegative: Bool
    public var hours: Int
    public var minutes: Int
    public var seconds: Int
    public var microseconds: Int
    /// Fractional digits the column keeps (0–6).
    public var fractionalDigits: Int

    /// Appends `[-]hh:mm:ss[.ffffff]`.
    public func write(into output: inout [UInt8]) {
        if (0...9999).contains(hours) && (0...99).contains(minutes) && (0...99).contains(seconds)
            && (0...999_999).contains(microseconds) && (0...6).contains(fractionalDigits)
        {
            output.appendText { text in
                if isNegative { text.put(UInt8(ascii: "-")) }
                text.put(hours, digits: hours < 100 ? 2 : hours < 1000 ? 3 : 4)
                text.put(UInt8(ascii: ":"))
                text.put(minutes, digits: 2)
                text.put(UInt8(ascii: ":"))
                text.put(seconds, digits: 2)
                text.putFraction(microseconds, digits: fractionalDigits)
            }
            return
        }
        if isNegative { output.append(UInt8(ascii: "-")) }
        output.appendPadded(hours, 2)
        output.append(UInt8(ascii: ":"))
        output.appendPadded(minutes, 2)
        output.append(UInt8(ascii: ":"))
        output.appendPadded(seconds, 2)
        output.appendFraction(microseconds, digits: fractionalDigits)
    }

    public var description: String { text(write) }
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

    public init(
        year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, microseconds: Int, fractionalDigits: Int
    ) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.microseconds = microseconds
        self.fractionalDigits = fractionalDigits
    }

    /// Appends `yyyy-mm-dd hh:mm:ss[.ffffff]`.
    public func write(into output: inout [UInt8]) {
        if (0...9999).contains(year) && (0...99).contains(month) && (0...99).contains(day) && (0...99).contains(hour)
            && (0...99).contains(minute) && (0...99).contains(second) && (0...999_999).contains(microseconds)
            && (0...6).contains(fractionalDigits)
        {
            output.appendText { text in
                text.put(year, digits: 4)
                text.put(UInt8(ascii: "-"))
                text.put(month, digits: 2)
                text.put(UInt8(ascii: "-"))
                text.put(day, digits: 2)
                text.put(UInt8(ascii: " "))
                text.put(hour, digits: 2)
                text.put(UInt8(ascii: ":"))
                text.put(minute, digits: 2)
                text.put(UInt8(ascii: ":"))
                text.put(second, digits: 2)
                text.putFraction(microseconds, digits: fractionalDigits)
            }
            return
        }
        output.appendPadded(year, 4)
        output.append(UInt8(ascii: "-"))
        output.appendPadded(month, 2)
        output.append(UInt8(ascii: "-"))
        output.appendPadded(day, 2)
        output.append(UInt8(ascii: " "))
        output.appendPadded(hour, 2)
        output.append(UInt8(ascii: ":"))
        output.appendPadded(minute, 2)
        output.append(UInt8(ascii: ":"))
        output.appendPadded(second, 2)
        output.appendFraction(microseconds, digits: fractionalDigits)
    }

    public var description: String { text(write) }
}

public struct TimestampValue: Sendable, Equatable, CustomStringConvertible {
    public var seconds: UInt32
    public var microseconds: Int
    public var fractionalDigits: Int

    /// Appends the seconds since the epoch with the fraction, as `mysqlbinlog -vv` prints a TIMESTAMP.
    public func write(into output: inout [UInt8]) {
        if (0...999_999).contains(microseconds) && (0...6).contains(fractionalDigits) {
            output.appendText { text in
                var digits = 1
                var rest = seconds / 10
                while rest > 0 {
                    digits += 1
                    rest /= 10
                }
                text.put(Int(seconds), digits: digits)
                text.putFraction(microseconds, digits: fractionalDigits)
            }
            return
        }
        output.appendPadded(Int(seconds), 1)
        output.appendFraction(microseconds, digits: fractionalDigits)
    }

    /// Seconds since the epoch with the fraction, as `mysqlbinlog -vv` prints a TIMESTAMP.
    public var description: String { text(write) }
}

/// The text a `write(into:)` produces.
private func text(_ write: (inout [UInt8]) -> Void) -> String {
    var bytes: [UInt8] = []
    write(&bytes)
    return String(decoding: bytes, as: UTF8.self)
}

/// Up to 32 bytes of text written on the stack by the value types' `write(into:)`, then
/// appended in one copy. Callers keep within 32 bytes (the longest is a DATETIME(6), 26).
struct InlineText {
    private var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private(set) var count = 0

    mutating func put(_ byte: UInt8) {
        precondition(count < 32)
        Swift.withUnsafeMutableBytes(of: &storage) { $0[count] = byte }
        count += 1
    }

    /// The last `digits` decimal digits of `value` (nonnegative), zero-padded.
    mutating func put(_ value: Int, digits: Int) {
        precondition(count + digits <= 32)
        Swift.withUnsafeMutableBytes(of: &storage) { buffer in
            var rest = value
            var index = count + digits
            while index > count {
                index -= 1
                buffer[index] = UInt8(truncatingIfNeeded: rest % 10) &+ 0x30
                rest /= 10
            }
        }
        count += digits
    }

    /// `.123` for 123000 µs (0...999999) with 3 digits (0...6); nothing for 0 digits.
    mutating func putFraction(_ microseconds: Int, digits: Int) {
        guard digits > 0 else { return }
        var value = microseconds
        if digits < 6 {
            for _ in digits..<6 { value /= 10 }
        }
        put(UInt8(ascii: "."))
        put(value, digits: digits)
    }

    func append(to output: inout [UInt8]) {
        Swift.withUnsafeBytes(of: storage) { output.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }
}

extension Array where Element == UInt8 {
    mutating func appendText(_ body: (inout InlineText) -> Void) {
        var text = InlineText()
        body(&text)
        text.append(to: &self)
    }

    /// `value` in decimal, zero-padded on the left to `width` characters (a minus sign counts as
    /// one, as `String(value)` padded would have it), formatted on the stack and appended at once.
    public mutating func appendPadded(_ value: Int, _ width: Int) {
        var magnitude = value.magnitude
        // 20 digits, a sign and up to 43 zeros of padding fit in the 64 bytes.
        var buffer: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        Swift.withUnsafeMutableBytes(of: &buffer) { raw in
            var start = 64
            repeat {
                start -= 1
                raw[start] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 0x30
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                start -= 1
                raw[start] = UInt8(ascii: "-")
            }
            let padding = Swift.min(Swift.max(0, width - (64 - start)), start)
            if padding > 0 {
                // Zeros go before the sign, as in "00-5": what padding `String(value)` gives.
                for _ in 0..<padding {
                    start -= 1
                    raw[start] = UInt8(ascii: "0")
                }
            }
            append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start..<64]))
        }
        if width > 64 { insert(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - 64), at: count - 64) }
    }

    /// `.123` for 123000 µs with 3 digits; nothing for 0 digits.
    public mutating func appendFraction(_ microseconds: Int, digits: Int) {
        guard digits > 0 else { return }
        var value = microseconds
        if digits < 6 {
            for _ in digits..<6 { value /= 10 }
        }
        append(UInt8(ascii: "."))
        appendPadded(value, digits)
    }
}
