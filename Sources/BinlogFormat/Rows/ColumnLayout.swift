/// What reading one column's values needs, in a trivially copyable form.
///
/// ``TableMap/Column`` carries names and ENUM/SET members (reference-counted), so copying it for
/// every value costs retains and releases. The row iterators read these instead: one per column,
/// built with the table map and kept beside it.
struct ColumnLayout {
    /// How a value of the column is read; one case per decoding rule of ``ByteReader/readValue(_:isPartialJSON:)``.
    enum Kind: UInt8 {
        case tiny, short, int24, long, longlong, float, double, newdecimal, year, date, time, time2, datetime,
            datetime2, timestamp, timestamp2, varchar, string, `enum`, set, bit, blob, json, geometry, vector, null,
            unsupported
    }

    /// How the end of a value is found without decoding it.
    enum Measure: UInt8 {
        /// Every value takes `width` bytes.
        case fixed
        /// A little-endian length of `width` bytes, then that many bytes.
        case prefixed
        /// The column's values cannot be read (bad metadata, unsupported type): the decoder says why.
        case invalid
    }

    var kind: Kind
    var measure: Measure
    var valueType: ColumnType
    /// 0 signed, 1 unsigned, 2 not said (no SIGNEDNESS metadata).
    var signedness: UInt8
    /// ``TableMap/Column/length``.
    var length: Int32
    /// Bytes of a `.fixed` value, or of the length prefix of a `.prefixed` one.
    var width: Int32
    /// NEWDECIMAL precision and scale (validated by the table map: 1...65, 0...38).
    var precision: UInt8
    var scale: UInt8
    /// Position among the table's JSON columns (the partial-update bitmap's index), -1 for other columns.
    var jsonOrdinal: Int32

    var isUnsigned: Bool? { signedness == 2 ? nil : signedness == 1 }

    init(_ column: TableMap.Column, jsonOrdinal: Int = -1) {
        valueType = column.valueType
        signedness = column.isUnsigned.map { $0 ? 1 : 0 } ?? 2
        let length = column.length
        self.length = Int32(truncatingIfNeeded: length)
        precision = UInt8(truncatingIfNeeded: column.precision)
        scale = UInt8(truncatingIfNeeded: column.scale)
        self.jsonOrdinal = Int32(truncatingIfNeeded: jsonOrdinal)
        measure = .fixed
        var width = 0
        // Fractional seconds: 0–6 digits take (digits + 1) / 2 bytes.
        let fraction = (0...6).contains(length) ? (length + 1) / 2 : -1
        switch column.valueType {
        case .tiny: (kind, width) = (.tiny, 1)
        case .short: (kind, width) = (.short, 2)
        case .int24: (kind, width) = (.int24, 3)
        case .long: (kind, width) = (.long, 4)
        case .longlong: (kind, width) = (.longlong, 8)
        case .float: (kind, width) = (.float, 4)
        case .double: (kind, width) = (.double, 8)
        case .newdecimal:
            kind = .newdecimal
            let valid = (1...65).contains(column.precision) && (0...38).contains(column.scale)
                && column.scale <= column.precision
            if valid { width = column.decimalSize } else { measure = .invalid }
        case .year: (kind, width) = (.year, 1)
        case .date, .newdate: (kind, width) = (.date, 3)
        case .time: (kind, width) = (.time, 3)
        case .time2: (kind, width) = (.time2, fraction < 0 ? -1 : 3 + fraction)
        case .datetime: (kind, width) = (.datetime, 8)
        case .datetime2: (kind, width) = (.datetime2, fraction < 0 ? -1 : 5 + fraction)
        case .timestamp: (kind, width) = (.timestamp, 4)
        case .timestamp2: (kind, width) = (.timestamp2, fraction < 0 ? -1 : 4 + fraction)
        case .varchar, .varString: (kind, measure, width) = (.varchar, .prefixed, length < 256 ? 1 : 2)
        case .string: (kind, measure, width) = (.string, .prefixed, length < 256 ? 1 : 2)
        case .enum:
            kind = .enum
            if length == 1 || length == 2 { width = length } else { measure = .invalid }
        case .set:
            kind = .set
            if (1...8).contains(length) { width = length } else { measure = .invalid }
        case .bit:
            kind = .bit
            let bytes = (length + 7) / 8
            if bytes <= 8 { width = bytes } else { measure = .invalid }
        case .blob, .tinyBlob, .mediumBlob, .longBlob, .geometry, .json, .vector:
            switch column.valueType {
            case .json: kind = .json
            case .geometry: kind = .geometry
            case .vector: kind = .vector
            default: kind = .blob
            }
            if (1...4).contains(length) { (measure, width) = (.prefixed, length) } else { measure = .invalid }
        case .null: (kind, width) = (.null, 0)
        default: (kind, measure) = (.unsupported, .invalid)
        }
        if width < 0 { measure = .invalid }
        self.width = Int32(truncatingIfNeeded: measure == .invalid ? 0 : width)
    }
}
