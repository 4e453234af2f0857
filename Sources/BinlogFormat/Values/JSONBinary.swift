/// MySQL's binary JSON format (`sql-common/json_binary.cc`, "JSON binary format" in the MySQL
/// docs) turned into JSON text, byte for byte as the server prints it (`CAST(j AS CHAR)`,
/// `Json_wrapper::to_string` / `wrapper_to_string` in `sql-common/json_dom.cc`).
///
/// Layout. A document is a type byte followed by the value:
///
/// | type | value |
/// |------|-------|
/// | 0x00 / 0x01 | small / large object |
/// | 0x02 / 0x03 | small / large array |
/// | 0x04 | literal: 0x00 null, 0x01 true, 0x02 false |
/// | 0x05 / 0x06 | int16 / uint16 |
/// | 0x07 / 0x08 | int32 / uint32 |
/// | 0x09 / 0x0a | int64 / uint64 |
/// | 0x0b | double (IEEE, little-endian) |
/// | 0x0c | utf8mb4 string: variable-length length, bytes |
/// | 0x0f | opaque: MySQL field type byte, variable-length length, bytes |
///
/// Objects and arrays: element count and byte size (2 bytes each in the small format, 4 in the
/// large), then for objects one key entry per member (key offset, then key length as 2 bytes),
/// then one value entry per element (type byte, then the offset of the value or the value itself
/// when it is inlined: literals and int16/uint16 always, int32/uint32 in the large format only),
/// then the keys, then the values. Offsets count from the start of the object or array (just
/// after its type byte). Variable-length integers hold 7 bits per byte, least significant
/// group first, high bit set on every byte but the last (at most 5 bytes, at most `UInt32.max`).
///
/// Every offset and length is checked against the bytes it points into; malformed input throws
/// ``BinlogError/Code-swift.struct/corrupt`` and never reads out of bounds. Nesting is capped at
/// 100 levels (MySQL's `JSON_DOCUMENT_MAX_DEPTH`), and the text may not grow past 8 bytes per
/// input byte (a genuine document stays under 6, the worst case being control characters escaped
/// as `\u00XX`), so a document whose entries all point at one shared value cannot blow up.
///
/// Text format (MySQL 8.0 `wrapper_to_string`):
/// - `{"a": 1, "b": [1, 2]}`: `", "` between elements, `": "` after keys, members in stored order.
/// - Strings and keys: `"` and `\` escaped, `\b \f \n \r \t`, every other byte below 0x20 as
///   `\u00xx` (lowercase hex); everything else, including non-ASCII UTF-8 and 0x7f, unchanged.
/// - Doubles: `my_gcvt(d, MY_GCVT_ARG_DOUBLE, MY_GCVT_MAX_FIELD_WIDTH = 34)`, i.e. the shortest
///   digits that round-trip, in fixed notation when 1e-15 <= |d| < 1e15 (and for values below
///   1e17 whose digits go past the point) and as `1.5e300` / `1e-16` otherwise (no `+`, no
///   exponent padding); then `.0` is appended when the text has neither `.` nor `e`, as MySQL
///   does to keep doubles apart from integers: `3.0`, `0.1`, `-0.000025` (-2.5e-05),
///   `100000000000000.0` (1e14), `1e15`, `1e100`. Infinity and NaN (which MySQL never stores)
///   come out as `0.0`, because that is what `my_gcvt` produces for them.
/// - Opaque DECIMAL (246): precision byte, scale byte, binary decimal; printed as the number
///   with exactly `scale` fraction digits (`1.50`).
/// - Opaque DATE (10), TIME (11), DATETIME (12), TIMESTAMP (7): an 8-byte little-endian packed
///   temporal (`my_time.cc`), printed quoted as `"2015-01-15"`, `"23:24:25.000000"`,
///   `"2015-01-15 23:24:25.000000"` (always six fraction digits, as `my_TIME_to_str(t, 6)`).
/// - Opaque VAR_STRING (253): printed as a JSON string (MySQL 8.0 treats it as one).
/// - Any other opaque value: `"base64:typeNN:<base64>"`, with MySQL's base64 (a line break every
///   76 characters, escaped as `\n` inside the JSON string).
/// - An empty document (0 bytes) is `null`: MySQL writes one when NULL went into a NOT NULL JSON
///   column under IGNORE or a non-strict SQL mode, and reads it as the null literal.
public enum JSONBinary {
    /// MySQL's `JSON_DOCUMENT_MAX_DEPTH`.
    static let maxDepth = 100

    /// Appends the JSON text of a binary JSON document to `output` (UTF-8 bytes).
    public static func writeText(_ document: UnsafeRawBufferPointer, into output: inout [UInt8]) throws(BinlogError) {
        try writeText(document, quoted: true, into: &output)
    }

    /// Convenience: the JSON text as a String.
    public static func text(_ document: UnsafeRawBufferPointer) throws(BinlogError) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(document.count * 2 + 8)
        try writeText(document, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// `quoted: false` is MySQL's `to_string(json_quoted: false)`: a top-level string, temporal
    /// or opaque value comes out bare (no double quotes, no escaping); nested ones are always quoted.
    static func writeText(
        _ document: UnsafeRawBufferPointer, quoted: Bool, into output: inout [UInt8]
    ) throws(BinlogError) {
        guard let type = document.first else {
            output.appendText("null")
            return
        }
        // Cap the text at 8 bytes per input byte (see the type's documentation).
        let limit = output.count + document.count.multipliedReportingOverflow(by: 8).partialValue + 64
        let writer = Writer(document: document, limit: limit)
        try writer.value(type: type, at: 1, end: document.count, depth: 0, quoted: quoted, into: &output)
    }

    /// The value types of the binary format.
    enum ValueType {
        static let smallObject: UInt8 = 0x00
        static let largeObject: UInt8 = 0x01
        static let smallArray: UInt8 = 0x02
        static let largeArray: UInt8 = 0x03
        static let literal: UInt8 = 0x04
        static let int16: UInt8 = 0x05
        static let uint16: UInt8 = 0x06
        static let int32: UInt8 = 0x07
        static let uint32: UInt8 = 0x08
        static let int64: UInt8 = 0x09
        static let uint64: UInt8 = 0x0a
        static let double: UInt8 = 0x0b
        static let string: UInt8 = 0x0c
        static let opaque: UInt8 = 0x0f
    }

    /// MySQL field types that opaque values are tagged with and that print specially.
    enum FieldType {
        static let timestamp: UInt8 = 7
        static let date: UInt8 = 10
        static let time: UInt8 = 11
        static let datetime: UInt8 = 12
        static let varString: UInt8 = 253
        static let newDecimal: UInt8 = 246
    }

    /// Walks one document. Positions are indexes into `document`; `[start, end)` is the room a
    /// value may use (MySQL's `data, len`): the rest of its enclosing object or array.
    struct Writer {
        let document: UnsafeRawBufferPointer
        let limit: Int

        func corrupt(_ message: String, at position: Int) -> BinlogError {
            BinlogError(.corrupt, "JSON: \(message) (at byte \(position) of the JSON document)")
        }

        @inline(__always)
        func load(_ position: Int, _ width: Int) -> UInt64 {
            document.loadLittleEndian(at: position, width: width)
        }

        func value(
            type: UInt8, at start: Int, end: Int, depth: Int, quoted: Bool, into output: inout [UInt8]
        ) throws(BinlogError) {
            let available = end - start
            switch type {
            case ValueType.smallObject, ValueType.largeObject, ValueType.smallArray, ValueType.largeArray:
                try container(
                    isObject: type <= ValueType.largeObject, large: type & 1 == 1, at: start, end: end,
                    depth: depth, into: &output)
            case ValueType.literal:
                guard available >= 1 else { throw corrupt("literal runs past the end of its container", at: start) }
                switch document[start] {
                case 0x00: output.appendText("null")
                case 0x01: output.appendText("true")
                case 0x02: output.appendText("false")
                default:
                    throw corrupt("invalid literal 0x\(String(document[start], radix: 16))", at: start)
                }
            case ValueType.int16, ValueType.uint16:
                guard available >= 2 else { throw corrupt("16-bit integer runs past its container", at: start) }
                let raw = load(start, 2)
                if type == ValueType.int16 {
                    output.appendInteger(Int64(Int16(truncatingIfNeeded: raw)))
                } else {
                    output.appendInteger(raw)
                }
            case ValueType.int32, ValueType.uint32:
                guard available >= 4 else { throw corrupt("32-bit integer runs past its container", at: start) }
                let raw = load(start, 4)
                if type == ValueType.int32 {
                    output.appendInteger(Int64(Int32(truncatingIfNeeded: raw)))
                } else {
                    output.appendInteger(raw)
                }
            case ValueType.int64, ValueType.uint64:
                guard available >= 8 else { throw corrupt("64-bit integer runs past its container", at: start) }
                let raw = load(start, 8)
                if type == ValueType.int64 {
                    output.appendInteger(Int64(bitPattern: raw))
                } else {
                    output.appendInteger(raw)
                }
            case ValueType.double:
                guard available >= 8 else { throw corrupt("double runs past its container", at: start) }
                JSONBinary.appendDouble(Double(bitPattern: load(start, 8)), to: &output)
            case ValueType.string:
                let (length, lengthSize) = try variableLength(at: start, end: end)
                guard length <= available - lengthSize else {
                    throw corrupt("string of \(length) bytes runs past its container", at: start)
                }
                let bytes = slice(start + lengthSize, length)
                if quoted { JSONBinary.appendJSONString(bytes, to: &output) } else { output.append(contentsOf: bytes) }
            case ValueType.opaque:
                guard available >= 1 else { throw corrupt("opaque value runs past its container", at: start) }
                let fieldType = document[start]
                let (length, lengthSize) = try variableLength(at: start + 1, end: end)
                guard length <= available - 1 - lengthSize else {
                    throw corrupt("opaque value of \(length) bytes runs past its container", at: start)
                }
                try opaque(
                    fieldType: fieldType, data: slice(start + 1 + lengthSize, length), at: start, quoted: quoted,
                    into: &output)
            default:
                throw corrupt("unknown value type 0x\(String(type, radix: 16))", at: start - 1)
            }
        }

        func slice(_ start: Int, _ count: Int) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: document[start..<start + count])
        }

        /// A length as 7-bit groups, least significant first (`read_variable_length`).
        func variableLength(at start: Int, end: Int) throws(BinlogError) -> (value: Int, size: Int) {
            var value: UInt64 = 0
            for index in 0..<5 {
                guard start + index < end else { throw corrupt("length runs past its container", at: start) }
                let byte = document[start + index]
                value |= UInt64(byte & 0x7F) << UInt64(7 * index)
                if byte & 0x80 == 0 {
                    guard value <= UInt64(UInt32.max) else { throw corrupt("length \(value) exceeds 32 bits", at: start) }
                    return (Int(value), index + 1)
                }
            }
            throw corrupt("length longer than 5 bytes", at: start)
        }

        /// An object or array whose header starts at `start` (`parse_array_or_object`).
        func container(
            isObject: Bool, large: Bool, at start: Int, end: Int, depth: Int, into output: inout [UInt8]
        ) throws(BinlogError) {
            let depth = depth + 1
            guard depth <= JSONBinary.maxDepth else {
                throw corrupt("nested deeper than \(JSONBinary.maxDepth) levels", at: start)
            }
            let offsetSize = large ? 4 : 2
            let available = end - start
            guard available >= 2 * offsetSize else {
                throw corrupt("\(isObject ? "object" : "array") header runs past its container", at: start)
            }
            let count = Int(load(start, offsetSize))
            let size = Int(load(start + offsetSize, offsetSize))
            guard size <= available else {
                throw corrupt(
                    "\(isObject ? "object" : "array") of \(size) bytes runs past its container (\(available) bytes)",
                    at: start)
            }
            let keyEntrySize = isObject ? offsetSize + 2 : 0
            let valueEntrySize = 1 + offsetSize
            // count < 2^32, so this cannot overflow.
            let headerSize = 2 * offsetSize + count * (keyEntrySize + valueEntrySize)
            guard headerSize <= size else {
                throw corrupt(
                    "\(count) \(isObject ? "members" : "elements") do not fit in \(size) bytes", at: start)
            }
            let valueEntries = start + 2 * offsetSize + count * keyEntrySize

            output.append(isObject ? UInt8(ascii: "{") : UInt8(ascii: "["))
            for index in 0..<count {
                guard output.count <= limit else {
                    throw corrupt("text grows far beyond the document (shared values?)", at: start)
                }
                if index > 0 { output.appendText(", ") }
                if isObject {
                    let entry = start + 2 * offsetSize + index * keyEntrySize
                    let keyOffset = Int(load(entry, offsetSize))
                    let keyLength = Int(load(entry + offsetSize, 2))
                    // Keys come after all the entries and end inside the object (`Value::key`).
                    guard keyOffset >= headerSize, keyLength <= size - keyOffset else {
                        throw corrupt("key \(index) (offset \(keyOffset), \(keyLength) bytes) is out of range", at: entry)
                    }
                    JSONBinary.appendJSONString(slice(start + keyOffset, keyLength), to: &output)
                    output.appendText(": ")
                }
                let entry = valueEntries + index * valueEntrySize
                let type = document[entry]
                if type == ValueType.literal || type == ValueType.int16 || type == ValueType.uint16
                    || (large && (type == ValueType.int32 || type == ValueType.uint32))
                {
                    try value(
                        type: type, at: entry + 1, end: entry + valueEntrySize, depth: depth, quoted: true,
                        into: &output)
                } else {
                    let valueOffset = Int(load(entry + 1, offsetSize))
                    // Values come after all the entries and start inside the container (`Value::element`).
                    guard valueOffset >= headerSize, valueOffset <= size else {
                        throw corrupt("value \(index) has offset \(valueOffset) out of range", at: entry)
                    }
                    try value(
                        type: type, at: start + valueOffset, end: start + size, depth: depth, quoted: true,
                        into: &output)
                }
            }
            output.append(isObject ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }

        /// An opaque value: a MySQL field type and the field's bytes.
        func opaque(
            fieldType: UInt8, data: UnsafeRawBufferPointer, at start: Int, quoted: Bool, into output: inout [UInt8]
        ) throws(BinlogError) {
            switch fieldType {
            case FieldType.newDecimal:
                // Precision, scale, then the binary decimal (`Json_decimal::convert_from_binary`).
                guard data.count >= 2 else { throw corrupt("DECIMAL without precision and scale", at: start) }
                let precision = Int(data[0])
                let scale = Int(data[1])
                guard precision <= 65, scale <= 30, scale <= precision,
                    Decimal.binarySize(precision: precision, scale: scale) == data.count - 2
                else {
                    throw corrupt("DECIMAL(\(precision),\(scale)) stored in \(data.count - 2) bytes", at: start)
                }
                let decimal = Decimal(
                    bytes: UnsafeRawBufferPointer(rebasing: data[2...]), precision: precision, scale: scale)
                do {
                    try decimal.validate()
                } catch {
                    throw corrupt("DECIMAL(\(precision),\(scale)) has a digit group out of range", at: start)
                }
                decimal.write(into: &output)
            case FieldType.date, FieldType.time, FieldType.datetime, FieldType.timestamp:
                guard data.count == 8 else {
                    throw corrupt("temporal value of type \(fieldType) is \(data.count) bytes, not 8", at: start)
                }
                if quoted { output.append(UInt8(ascii: "\"")) }
                JSONBinary.appendPackedTemporal(
                    Int64(bitPattern: data.loadLittleEndian(at: 0, width: 8)), fieldType: fieldType, to: &output)
                if quoted { output.append(UInt8(ascii: "\"")) }
            case FieldType.varString:
                if quoted { JSONBinary.appendJSONString(data, to: &output) } else { output.append(contentsOf: data) }
            default:
                if quoted { output.append(UInt8(ascii: "\"")) }
                output.appendText("base64:type")
                output.appendInteger(UInt64(fieldType))
                output.append(UInt8(ascii: ":"))
                JSONBinary.appendBase64(data, escapedNewlines: quoted, to: &output)
                if quoted { output.append(UInt8(ascii: "\"")) }
            }
        }
    }

    // MARK: - Scalars

    /// `double_quote()`: a JSON string literal.
    static func appendJSONString(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var run = 0
        for index in 0..<bytes.count {
            let byte = bytes[index]
            guard byte <= 0x1F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if run < index { output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[run..<index])) }
            run = index + 1
            output.append(UInt8(ascii: "\\"))
            switch byte {
            case 0x08: output.append(UInt8(ascii: "b"))
            case 0x09: output.append(UInt8(ascii: "t"))
            case 0x0A: output.append(UInt8(ascii: "n"))
            case 0x0C: output.append(UInt8(ascii: "f"))
            case 0x0D: output.append(UInt8(ascii: "r"))
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.append(byte)
            default:
                output.appendText("u00")
                output.append(hexDigit(byte >> 4))
                output.append(hexDigit(byte & 0x0F))
            }
        }
        if run < bytes.count { output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[run...])) }
        output.append(UInt8(ascii: "\""))
    }

    @inline(__always)
    static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    /// MySQL's `base64_encode` (`mysys/base64.cc`): standard alphabet with padding and a line
    /// break before every 76-character line after the first. Inside a JSON string the break is
    /// written escaped (`\n`), as `double_quote` does.
    static func appendBase64(_ data: UnsafeRawBufferPointer, escapedNewlines: Bool, to output: inout [UInt8]) {
        @inline(__always) func symbol(_ value: UInt32) -> UInt8 {
            let value = UInt8(truncatingIfNeeded: value & 0x3F)
            switch value {
            case 0..<26: return UInt8(ascii: "A") + value
            case 26..<52: return UInt8(ascii: "a") + value - 26
            case 52..<62: return UInt8(ascii: "0") + value - 52
            case 62: return UInt8(ascii: "+")
            default: return UInt8(ascii: "/")
            }
        }
        var index = 0
        var lineLength = 0
        while index < data.count {
            if lineLength == 76 {
                lineLength = 0
                if escapedNewlines { output.appendText("\\n") } else { output.append(0x0A) }
            }
            let remaining = data.count - index
            var group = UInt32(data[index]) << 16
            if remaining > 1 { group |= UInt32(data[index + 1]) << 8 }
            if remaining > 2 { group |= UInt32(data[index + 2]) }
            output.append(symbol(group >> 18))
            output.append(symbol(group >> 12))
            output.append(remaining > 1 ? symbol(group >> 6) : UInt8(ascii: "="))
            output.append(remaining > 2 ? symbol(group) : UInt8(ascii: "="))
            index += 3
            lineLength += 4
        }
    }

    /// A packed temporal (`TIME_from_longlong_*_packed`) as `my_TIME_to_str(t, 6)` prints it.
    static func appendPackedTemporal(_ packed: Int64, fieldType: UInt8, to output: inout [UInt8]) {
        let magnitude = packed.magnitude
        let microseconds = magnitude % (1 << 24)
        let integerPart = magnitude >> 24
        if fieldType == FieldType.time {
            if packed < 0 { output.append(UInt8(ascii: "-")) }
            let hours = (integerPart >> 12) % (1 << 10)
            if hours < 10 { output.append(UInt8(ascii: "0")) }
            output.appendInteger(hours)
            output.append(UInt8(ascii: ":"))
            output.appendTwoDigitField((integerPart >> 6) % (1 << 6))
            output.append(UInt8(ascii: ":"))
            output.appendTwoDigitField(integerPart % (1 << 6))
            output.appendSixDigitFraction(microseconds)
            return
        }
        // DATE, DATETIME, TIMESTAMP: the sign is ignored when printing, as MySQL does.
        let yearMonthDay = integerPart >> 17
        let yearMonth = yearMonthDay >> 5
        let hourMinuteSecond = integerPart % (1 << 17)
        let year = yearMonth / 13
        output.appendTwoDigitField(year / 100)
        output.appendTwoDigitField(year % 100)
        output.append(UInt8(ascii: "-"))
        output.appendTwoDigitField(yearMonth % 13)
        output.append(UInt8(ascii: "-"))
        output.appendTwoDigitField(yearMonthDay % (1 << 5))
        guard fieldType != FieldType.date else { return }
        output.append(UInt8(ascii: " "))
        output.appendTwoDigitField(hourMinuteSecond >> 12)
        output.append(UInt8(ascii: ":"))
        output.appendTwoDigitField((hourMinuteSecond >> 6) % (1 << 6))
        output.append(UInt8(ascii: ":"))
        output.appendTwoDigitField(hourMinuteSecond % (1 << 6))
        output.appendSixDigitFraction(microseconds)
    }

    /// A double as MySQL's JSON printing does: `my_gcvt(d, MY_GCVT_ARG_DOUBLE, 34)`, then `.0`
    /// when the result has neither a point nor an exponent (see the type's documentation).
    ///
    /// `my_gcvt` asks `dtoa` (mode 4, 34 digits) for the shortest digits that round-trip, which
    /// is also what Swift's `description` produces; those digits are laid out with `my_gcvt`'s
    /// rules. With a field width of 34 and at most 17 digits, `my_gcvt` never has to re-round.
    static func appendDouble(_ value: Double, to output: inout [UInt8]) {
        guard value.isFinite else {
            // dtoa reports overflow for infinities and NaN and my_gcvt prints "0".
            output.appendText("0.0")
            return
        }
        let (negative, digits, digitCount, pointPosition) = shortestDigits(value, scratch: &output)

        // my_gcvt's choice between the 'f' and the 'e' format.
        let width = value < 0 ? 33 : 34
        let decpt = pointPosition
        let len = digitCount
        let maxDecimalPointForFixed = 15  // MAX_DECPT_FOR_F_FORMAT = DBL_DIG
        let exponentLength = 1 + (decpt >= 101 || decpt <= -99 ? 1 : 0) + (decpt >= 11 || decpt <= -9 ? 1 : 0)
        let haveSpace = (decpt <= 0 ? len - decpt + 2 : (decpt < len ? len + 1 : decpt)) <= width
        let forceExponent = decpt <= 0 && width <= 2 - decpt && width >= 3 + exponentLength
        let fixed =
            (haveSpace
                || (decpt <= width && (decpt >= -1 || (decpt == -2 && (len > 1 || !forceExponent)))
                    && !forceExponent))
            && (!haveSpace
                || (decpt >= -maxDecimalPointForFixed + 1 && (decpt <= maxDecimalPointForFixed || len > decpt)))

        var divisor: UInt64 = 1
        for _ in 1..<len { divisor &*= 10 }
        var rest = digits
        @inline(__always) func nextDigit(_ output: inout [UInt8]) {
            output.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest / divisor))
            rest %= divisor
            divisor /= 10
        }

        if negative { output.append(UInt8(ascii: "-")) }
        if fixed {
            if decpt <= 0 {
                output.appendText("0.")
                for _ in 0..<(-decpt) { output.append(UInt8(ascii: "0")) }
                for _ in 0..<len { nextDigit(&output) }
            } else {
                for index in 1...len {
                    nextDigit(&output)
                    if index == decpt && index < len { output.append(UInt8(ascii: ".")) }
                }
                if decpt > len {
                    for _ in len..<decpt { output.append(UInt8(ascii: "0")) }
                }
                // my_gcvt wrote an integer: MySQL appends ".0" to keep it a double.
                if decpt >= len { output.appendText(".0") }
            }
        } else {
            nextDigit(&output)
            if len > 1 {
                output.append(UInt8(ascii: "."))
                for _ in 1..<len { nextDigit(&output) }
            }
            output.append(UInt8(ascii: "e"))
            var exponent = decpt - 1
            if exponent < 0 {
                output.append(UInt8(ascii: "-"))
                exponent = -exponent
            }
            output.appendInteger(UInt64(exponent))
        }
    }

    /// The shortest round-trip decimal digits of a finite double, as dtoa returns them: the
    /// digits without leading or trailing zeros, their count and the position of the decimal
    /// point (value = 0.DIGITS × 10^pointPosition). Zero is "0" with the point at 1.
    ///
    /// Swift's own float printing (shortest, closest digits) writes into the end of `scratch`
    /// through a `TextOutputStream`, so no String is made; the text is removed again.
    static func shortestDigits(_ value: Double, scratch: inout [UInt8])
        -> (negative: Bool, digits: UInt64, count: Int, pointPosition: Int)
    {
        let mark = scratch.count
        var stream = ByteStream(bytes: [])
        swap(&stream.bytes, &scratch)
        value.write(to: &stream)
        swap(&stream.bytes, &scratch)
        defer { scratch.removeLast(scratch.count - mark) }

        var negative = false
        var digits: UInt64 = 0
        var count = 0
        var integerDigits = 0
        var leadingZeros = 0
        var pendingZeros = 0
        var seenPoint = false
        var exponent = 0
        var index = mark
        while index < scratch.count {
            let byte = scratch[index]
            index += 1
            switch byte {
            case UInt8(ascii: "-"):
                negative = true
            case UInt8(ascii: "."):
                seenPoint = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let digit = UInt64(byte - UInt8(ascii: "0"))
                if !seenPoint { integerDigits += 1 }
                if count == 0 && digit == 0 {
                    leadingZeros += 1
                } else if digit == 0 {
                    pendingZeros += 1
                } else {
                    for _ in 0..<pendingZeros { digits &*= 10 }
                    count += pendingZeros + 1
                    pendingZeros = 0
                    digits = digits &* 10 &+ digit
                }
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                var exponentNegative = false
                while index < scratch.count {
                    let next = scratch[index]
                    index += 1
                    if next == UInt8(ascii: "-") {
                        exponentNegative = true
                    } else if next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9") {
                        exponent = exponent &* 10 &+ Int(next - UInt8(ascii: "0"))
                    }
                }
                if exponentNegative { exponent = -exponent }
            default:
                break
            }
        }
        guard count > 0 else { return (negative, 0, 1, 1) }
        return (negative, digits, count, integerDigits + exponent - leadingZeros)
    }

    /// Receives Swift's float printing as bytes.
    struct ByteStream: TextOutputStream {
        var bytes: [UInt8]
        mutating func write(_ string: String) { bytes.append(contentsOf: string.utf8) }
        // The standard library hands number text to this requirement when a stream has it.
        mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }
    }

    /// `my_b_write_quoted` (mysqlbinlog): single quotes, `\b \f \n \r \t \\ \'`, other control
    /// bytes as `\xNN`, everything else unchanged.
    static func appendSQLQuoted(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "'"))
        for byte in bytes {
            switch byte {
            case 0x08: output.appendText("\\b")
            case 0x0C: output.appendText("\\f")
            case 0x0A: output.appendText("\\n")
            case 0x0D: output.appendText("\\r")
            case 0x09: output.appendText("\\t")
            case UInt8(ascii: "\\"): output.appendText("\\\\")
            case UInt8(ascii: "'"): output.appendText("\\'")
            case 0..<0x20:
                output.appendText("\\x")
                output.append(hexDigit(byte >> 4))
                output.append(hexDigit(byte & 0x0F))
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "'"))
    }
}

// MARK: - Partial JSON updates

/// The after-image value of a JSON column in a PARTIAL_UPDATE_ROWS_EVENT: a sequence of diffs.
///
/// Format (`Json_diff_vector::write_binary`, `sql/json_diff.cc`), after the column's 4-byte
/// length: for each diff an operation byte (0 replace, 1 insert, 2 remove), the path's length as
/// a length-encoded integer, the path as text, and unless the operation is remove, the value's
/// length as a length-encoded integer and the value as a binary JSON document.
public struct JSONDiffList {
    public let bytes: UnsafeRawBufferPointer

    public init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    public func makeIterator() -> Iterator {
        Iterator(reader: ByteReader(bytes))
    }

    /// Reads the diffs one by one. After an error it returns nil.
    public struct Iterator {
        var reader: ByteReader

        public mutating func next() throws(BinlogError) -> JSONDiff? {
            guard !reader.isAtEnd else { return nil }
            do throws(BinlogError) {
                let start = reader.position
                let code = try reader.readUInt8()
                guard let operation = JSONDiff.Operation(rawValue: code) else {
                    throw BinlogError(
                        .corrupt, "JSON diff operation \(code) is not 0 (replace), 1 (insert) or 2 (remove)",
                        offset: reader.baseOffset + start)
                }
                let path = try reader.readLengthEncodedBytes()
                let value = operation == .remove ? nil : try reader.readLengthEncodedBytes()
                return JSONDiff(operation: operation, path: path, value: value)
            } catch {
                reader.position = reader.bytes.count
                throw error
            }
        }
    }
}

/// One change of a partial JSON update.
public struct JSONDiff {
    public enum Operation: UInt8, Sendable {
        case replace = 0
        case insert = 1
        case remove = 2
    }

    public let operation: Operation
    /// A JSON path like `$.a[1]`, as text bytes.
    public let path: UnsafeRawBufferPointer
    /// A binary JSON document; nil for remove.
    public let value: UnsafeRawBufferPointer?

    public init(operation: Operation, path: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?) {
        self.operation = operation
        self.path = path
        self.value = value
    }

    /// The SQL function mysqlbinlog names the diff after (`json_diff_operation_name`): an insert
    /// whose path ends in `]` is an array insert.
    var function: SQLFunction {
        switch operation {
        case .replace: .replace
        case .insert: path.last == UInt8(ascii: "]") ? .arrayInsert : .insert
        case .remove: .remove
        }
    }

    enum SQLFunction: Equatable {
        case replace, insert, arrayInsert, remove

        var name: StaticString {
            switch self {
            case .replace: "JSON_REPLACE"
            case .insert: "JSON_INSERT"
            case .arrayInsert: "JSON_ARRAY_INSERT"
            case .remove: "JSON_REMOVE"
            }
        }
    }
}

extension JSONDiffList {
    /// The diffs as the MySQL server's mysqlbinlog -vv prints a partial JSON update of column `@N`
    /// (`print_json_diff` in `sql/log_event.cc`): nested JSON_REPLACE / JSON_INSERT /
    /// JSON_ARRAY_INSERT / JSON_REMOVE calls around `column`, consecutive diffs of the same
    /// function sharing one call, for example
    ///
    ///     JSON_INSERT(
    ///     ###      JSON_REPLACE(@3, '$.a', 1, '$.c', 'x'),
    ///     ###      '$.b', CAST('[1, 2]' AS JSON))
    ///
    /// Paths are SQL-quoted; values are printed as mysqlbinlog does: numbers, booleans and null
    /// bare, strings, dates, times and opaque values as SQL strings of their unquoted text,
    /// objects and arrays as `CAST('<json text>' AS JSON)`. mysqlbinlog separates the calls and
    /// the arguments after each diff with `lineSeparator`, a line break followed by the `###`
    /// prefix of its row output; pass another separator (such as `" "`) for a one-line form.
    /// With no diffs the result is just `column`.
    public func sqlExpression(column: String, lineSeparator: String = "\n###      ") throws(BinlogError) -> String {
        var diffs: [JSONDiff] = []
        var iterator = makeIterator()
        while let diff = try iterator.next() { diffs.append(diff) }

        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 2 + column.utf8.count + 32)
        let functions = diffs.map(\.function)

        // The function names, outermost (last diff) first.
        var printed = false
        for index in functions.indices.reversed() where index == 0 || functions[index - 1] != functions[index] {
            if printed { output.append(contentsOf: lineSeparator.utf8) }
            output.appendText(functions[index].name)
            output.append(UInt8(ascii: "("))
            printed = true
        }
        output.append(contentsOf: column.utf8)
        guard !diffs.isEmpty else { return String(decoding: output, as: UTF8.self) }
        output.appendText(", ")

        var scratch: [UInt8] = []
        for (index, diff) in diffs.enumerated() {
            JSONBinary.appendSQLQuoted(diff.path, to: &output)
            if let value = diff.value {
                output.appendText(", ")
                scratch.removeAll(keepingCapacity: true)
                try JSONBinary.writeText(value, quoted: false, into: &scratch)
                let style = Self.valueStyle(value)
                scratch.withUnsafeBytes { text in
                    switch style {
                    case .bare: output.append(contentsOf: text)
                    case .quoted: JSONBinary.appendSQLQuoted(text, to: &output)
                    case .cast:
                        output.appendText("CAST(")
                        JSONBinary.appendSQLQuoted(text, to: &output)
                        output.appendText(" AS JSON)")
                    }
                }
            }
            let isLast = index == diffs.count - 1
            if isLast || functions[index + 1] != functions[index] { output.append(UInt8(ascii: ")")) }
            if !isLast {
                output.append(UInt8(ascii: ","))
                output.append(contentsOf: lineSeparator.utf8)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    enum ValueStyle { case bare, quoted, cast }

    /// How mysqlbinlog's `json_wrapper_to_string` presents a value of this document's type.
    static func valueStyle(_ document: UnsafeRawBufferPointer) -> ValueStyle {
        guard let type = document.first else { return .bare }  // empty document: null
        switch type {
        case JSONBinary.ValueType.smallObject, JSONBinary.ValueType.largeObject,
            JSONBinary.ValueType.smallArray, JSONBinary.ValueType.largeArray:
            return .cast
        case JSONBinary.ValueType.string:
            return .quoted
        case JSONBinary.ValueType.opaque:
            // The text was written already, so the field type byte exists.
            return document.count > 1 && document[1] == JSONBinary.FieldType.newDecimal ? .bare : .quoted
        default:
            return .bare
        }
    }
}

// MARK: - Byte output helpers

// File-private so that these names cannot collide with helpers elsewhere in the module.
fileprivate extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendText(_ text: StaticString) {
        text.withUTF8Buffer { append(contentsOf: $0) }
    }

    mutating func appendInteger(_ value: UInt64) {
        var divisor: UInt64 = 1
        while value / divisor >= 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    mutating func appendInteger(_ value: Int64) {
        if value < 0 { append(UInt8(ascii: "-")) }
        appendInteger(value.magnitude)
    }

    /// `format_two_digits` (`my_time.cc`): values of 100 or more print as "00".
    mutating func appendTwoDigitField(_ value: UInt64) {
        let value = value < 100 ? UInt8(value) : 0
        append(UInt8(ascii: "0") + value / 10)
        append(UInt8(ascii: "0") + value % 10)
    }

    /// ".ffffff": the six low decimal digits of the microseconds, as `my_useconds_to_str(.., 6)`.
    mutating func appendSixDigitFraction(_ microseconds: UInt64) {
        append(UInt8(ascii: "."))
        var divisor: UInt64 = 100_000
        let value = microseconds % 1_000_000
        while divisor > 0 {
            append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: value / divisor % 10))
            divisor /= 10
        }
    }
}
