/// Reading one column value of a row image. Layouts from MySQL `sql/log_event.cc`
/// (`log_event_print_value`) and `mysys/my_time.cc` (the packed temporal formats).
extension ByteReader {
    /// Reads the value of `column`, advancing past it. `isPartialJSON` marks a JSON column whose
    /// after-image holds a list of diffs (PARTIAL_UPDATE_ROWS).
    public mutating func readValue(_ column: TableMap.Column, isPartialJSON: Bool = false) throws(BinlogError)
        -> ColumnValue
    {
        try readValue(ColumnLayout(column), isPartialJSON: isPartialJSON)
    }

    /// Reads one value as `layout` describes its column (the row iterators' path: no
    /// ``TableMap/Column`` copied).
    @inline(__always)
    mutating func readValue(_ layout: ColumnLayout, isPartialJSON: Bool) throws(BinlogError) -> ColumnValue {
        let length = Int(layout.length)
        switch layout.kind {
        case .tiny: return .integer(IntegerValue(bits: try readLittleEndian(1), width: 1, isUnsigned: layout.isUnsigned))
        case .short: return .integer(IntegerValue(bits: try readLittleEndian(2), width: 2, isUnsigned: layout.isUnsigned))
        case .int24: return .integer(IntegerValue(bits: try readLittleEndian(3), width: 3, isUnsigned: layout.isUnsigned))
        case .long: return .integer(IntegerValue(bits: try readLittleEndian(4), width: 4, isUnsigned: layout.isUnsigned))
        case .longlong:
            return .integer(IntegerValue(bits: try readLittleEndian(8), width: 8, isUnsigned: layout.isUnsigned))
        case .float: return .float(Float(bitPattern: UInt32(try readLittleEndian(4))))
        case .double: return .double(Double(bitPattern: try readLittleEndian(8)))
        case .newdecimal:
            guard layout.measure == .fixed else {
                throw BinlogError(
                    .corrupt, "DECIMAL(\(layout.precision),\(layout.scale)) is not a valid precision and scale",
                    offset: baseOffset + position)
            }
            let bytes = try readBytes(Int(layout.width), "DECIMAL")
            return .decimal(Decimal(bytes: bytes, precision: Int(layout.precision), scale: Int(layout.scale)))
        case .year:
            let year = try readUInt8()
            return .year(year == 0 ? 0 : 1900 + UInt16(year))
        case .date:
            let packed = Int(try readLittleEndian(3))
            return .date(DateValue(year: packed >> 9, month: (packed >> 5) & 15, day: packed & 31))
        case .time:
            // Old TIME: signed 3-byte integer HHMMSS.
            let raw = Int32(truncatingIfNeeded: try readLittleEndian(3) << 8) >> 8
            let magnitude = Int(raw.magnitude)
            return .time(
                TimeValue(
                    isNegative: raw < 0, hours: magnitude / 10000, minutes: magnitude / 100 % 100,
                    seconds: magnitude % 100, microseconds: 0, fractionalDigits: 0))
        case .time2:
            return .time(try readTime2(fractionalDigits: length))
        case .datetime:
            // Old DATETIME: 8-byte integer YYYYMMDDhhmmss.
            let raw = try readLittleEndian(8)
            let date = Int(raw / 1_000_000)
            let time = Int(raw % 1_000_000)
            return .datetime(
                DateTimeValue(
                    year: date / 10000, month: date / 100 % 100, day: date % 100, hour: time / 10000,
                    minute: time / 100 % 100, second: time % 100, microseconds: 0, fractionalDigits: 0))
        case .datetime2:
            return .datetime(try readDateTime2(fractionalDigits: length))
        case .timestamp:
            return .timestamp(TimestampValue(seconds: UInt32(try readLittleEndian(4)), microseconds: 0, fractionalDigits: 0))
        case .timestamp2:
            let seconds = UInt32(try readBigEndian(4))
            let microseconds = try readFraction(digits: length, signed: false)
            return .timestamp(TimestampValue(seconds: seconds, microseconds: microseconds, fractionalDigits: length))
        case .varchar:
            let count = Int(try readLittleEndian(Int(layout.width)))
            return .string(try readBytes(count, "VARCHAR"))
        case .string:
            let count = Int(try readLittleEndian(Int(layout.width)))
            return .string(try readBytes(count, "CHAR"))
        case .enum:
            guard length == 1 || length == 2 else {
                throw BinlogError(.corrupt, "ENUM stored in \(length) bytes", offset: baseOffset + position)
            }
            return .enumIndex(UInt16(try readLittleEndian(length)))
        case .set:
            guard (1...8).contains(length) else {
                throw BinlogError(.corrupt, "SET stored in \(length) bytes", offset: baseOffset + position)
            }
            return .setBits(try readLittleEndian(length))
        case .bit:
            let byteCount = (length + 7) / 8
            guard byteCount <= 8 else {
                throw BinlogError(.corrupt, "BIT(\(length)) is wider than 64", offset: baseOffset + position)
            }
            return .bit(try readBigEndian(byteCount), width: length)
        case .blob, .json, .geometry, .vector:
            guard (1...4).contains(length) else {
                throw BinlogError(
                    .corrupt, "\(layout.valueType) length prefix of \(length) bytes", offset: baseOffset + position)
            }
            let count = Int(try readLittleEndian(length))
            let bytes = try readBytes(count, "BLOB")
            switch layout.kind {
            case .json: return isPartialJSON ? .jsonDiff(JSONDiffList(bytes: bytes)) : .json(bytes)
            case .geometry: return .geometry(bytes)
            case .vector: return .vector(bytes)
            default: return .blob(bytes)
            }
        case .null:
            return .null
        case .unsupported:
            throw BinlogError(
                .unsupported,
                layout.valueType == .decimal
                    ? "old DECIMAL column (MySQL 4.1 or earlier): the binlog does not say how long its values are"
                    : "column type \(layout.valueType) cannot be decoded from a row event",
                offset: baseOffset + position)
        }
    }

    /// The fractional part of a TIME2/DATETIME2/TIMESTAMP2 in microseconds.

    mutating func readFraction(digits: Int, signed: Bool) throws(BinlogError) -> Int {
        switch digits {
        case 0: return 0
        case 1, 2:
            let raw = try readBigEndian(1)
            return (signed ? Int(Int8(truncatingIfNeeded: raw)) : Int(raw)) * 10000
        case 3, 4:
            let raw = try readBigEndian(2)
            return (signed ? Int(Int16(truncatingIfNeeded: raw)) : Int(raw)) * 100
        case 5, 6:
            let raw = try readBigEndian(3)
            return signed ? Int(Int32(truncatingIfNeeded: raw << 8) >> 8) : Int(raw)
        default:
            throw BinlogError(.corrupt, "fractional seconds precision \(digits)", offset: baseOffset + position)
        }
    }

    /// DATETIME2 (`my_datetime_packed_from_binary`): 5 bytes big-endian offset by 0x8000000000, then the fraction.

    mutating func readDateTime2(fractionalDigits: Int) throws(BinlogError) -> DateTimeValue {
        let integerPart = Int64(try readBigEndian(5)) - 0x80_0000_0000
        let fractionPart = try readFraction(digits: fractionalDigits, signed: true)
        var packed = integerPart << 24 + Int64(fractionPart)
        if packed < 0 { packed = -packed }  // negative DATETIME cannot be stored; mirror the server
        let microseconds = Int(packed % (1 << 24))
        let ymdhms = packed >> 24
        let ymd = ymdhms >> 17
        let yearMonth = ymd >> 5
        let hms = ymdhms % (1 << 17)
        return DateTimeValue(
            year: Int(yearMonth / 13), month: Int(yearMonth % 13), day: Int(ymd % 32), hour: Int(hms >> 12),
            minute: Int((hms >> 6) % 64), second: Int(hms % 64), microseconds: microseconds,
            fractionalDigits: fractionalDigits)
    }

    /// TIME2 (`my_time_packed_from_binary`): 3 bytes big-endian offset by 0x800000, then the
    /// fraction; negative values store the fraction in reverse order for binary sorting.

    mutating func readTime2(fractionalDigits: Int) throws(BinlogError) -> TimeValue {
        var packed: Int64
        switch fractionalDigits {
        case 0:
            packed = (Int64(try readBigEndian(3)) - 0x80_0000) << 24
        case 1, 2, 3, 4:
            var integerPart = Int64(try readBigEndian(3)) - 0x80_0000
            let wide = fractionalDigits > 2
            var fractionPart = Int64(try readBigEndian(wide ? 2 : 1))
            if integerPart < 0 && fractionPart != 0 {
                integerPart += 1
                fractionPart -= wide ? 0x10000 : 0x100
            }
            packed = integerPart << 24 + fractionPart * (wide ? 100 : 10000)
        case 5, 6:
            packed = Int64(try readBigEndian(6)) - 0x8000_0000_0000
        default:
            throw BinlogError(.corrupt, "TIME fractional precision \(fractionalDigits)", offset: baseOffset + position)
        }
        let isNegative = packed < 0
        if isNegative { packed = -packed }
        let hms = packed >> 24
        return TimeValue(
            isNegative: isNegative, hours: Int((hms >> 12) % (1 << 10)), minutes: Int((hms >> 6) % 64),
            seconds: Int(hms % 64), microseconds: Int(packed % (1 << 24)), fractionalDigits: fractionalDigits)
    }
}
