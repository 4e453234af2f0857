/// A column type code as written in TABLE_MAP events (`enum_field_types`).
public struct ColumnType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let decimal = ColumnType(rawValue: 0)
    public static let tiny = ColumnType(rawValue: 1)
    public static let short = ColumnType(rawValue: 2)
    public static let long = ColumnType(rawValue: 3)
    public static let float = ColumnType(rawValue: 4)
    public static let double = ColumnType(rawValue: 5)
    public static let null = ColumnType(rawValue: 6)
    public static let timestamp = ColumnType(rawValue: 7)
    public static let longlong = ColumnType(rawValue: 8)
    public static let int24 = ColumnType(rawValue: 9)
    public static let date = ColumnType(rawValue: 10)
    public static let time = ColumnType(rawValue: 11)
    public static let datetime = ColumnType(rawValue: 12)
    public static let year = ColumnType(rawValue: 13)
    public static let newdate = ColumnType(rawValue: 14)
    public static let varchar = ColumnType(rawValue: 15)
    public static let bit = ColumnType(rawValue: 16)
    public static let timestamp2 = ColumnType(rawValue: 17)
    public static let datetime2 = ColumnType(rawValue: 18)
    public static let time2 = ColumnType(rawValue: 19)
    public static let typedArray = ColumnType(rawValue: 20)
    public static let vector = ColumnType(rawValue: 242)
    public static let json = ColumnType(rawValue: 245)
    public static let newdecimal = ColumnType(rawValue: 246)
    public static let `enum` = ColumnType(rawValue: 247)
    public static let set = ColumnType(rawValue: 248)
    public static let tinyBlob = ColumnType(rawValue: 249)
    public static let mediumBlob = ColumnType(rawValue: 250)
    public static let longBlob = ColumnType(rawValue: 251)
    public static let blob = ColumnType(rawValue: 252)
    public static let varString = ColumnType(rawValue: 253)
    public static let string = ColumnType(rawValue: 254)
    public static let geometry = ColumnType(rawValue: 255)

    /// Bytes of per-column metadata this type has in a TABLE_MAP event.

    var metadataLength: Int {
        switch self {
        case .float, .double, .blob, .tinyBlob, .mediumBlob, .longBlob, .geometry, .json, .vector,
            .timestamp2, .datetime2, .time2:
            return 1
        case .varchar, .varString, .bit, .newdecimal, .string, .enum, .set:
            return 2
        default:
            return 0
        }
    }

    /// Numeric types, which the SIGNEDNESS metadata covers (MySQL `is_numeric_type`).

    public var isNumeric: Bool {
        switch self {
        case .tiny, .short, .int24, .long, .longlong, .newdecimal, .float, .double: true
        default: false
        }
    }

    public var name: String {
        switch self {
        case .decimal: "DECIMAL"
        case .tiny: "TINY"
        case .short: "SHORT"
        case .long: "LONG"
        case .float: "FLOAT"
        case .double: "DOUBLE"
        case .null: "NULL"
        case .timestamp: "TIMESTAMP"
        case .longlong: "LONGLONG"
        case .int24: "INT24"
        case .date: "DATE"
        case .time: "TIME"
        case .datetime: "DATETIME"
        case .year: "YEAR"
        case .newdate: "NEWDATE"
        case .varchar: "VARCHAR"
        case .bit: "BIT"
        case .timestamp2: "TIMESTAMP2"
        case .datetime2: "DATETIME2"
        case .time2: "TIME2"
        case .typedArray: "TYPED_ARRAY"
        case .vector: "VECTOR"
        case .json: "JSON"
        case .newdecimal: "NEWDECIMAL"
        case .enum: "ENUM"
        case .set: "SET"
        case .tinyBlob: "TINY_BLOB"
        case .mediumBlob: "MEDIUM_BLOB"
        case .longBlob: "LONG_BLOB"
        case .blob: "BLOB"
        case .varString: "VAR_STRING"
        case .string: "STRING"
        case .geometry: "GEOMETRY"
        default: "TYPE_\(rawValue)"
        }
    }

    public var description: String { name }
}
