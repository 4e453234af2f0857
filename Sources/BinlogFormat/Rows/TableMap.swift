#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A decoded TABLE_MAP event: which table a table id stands for, and how to read its columns.
///
/// Layout (MySQL internals, "TABLE_MAP_EVENT"): table_id (6 bytes, 4 on old servers), flags u16,
/// schema (u8 length, bytes, NUL), table (u8 length, bytes, NUL), column count (packed),
/// column types, metadata (packed length, then per-column metadata), null bitmap, and
/// optional metadata as type-length-value fields (`binlog_row_metadata`).
///
/// Unlike other events this one owns its data: a row event refers to its table map by id,
/// often long after the table map's bytes are gone. Decoders reuse an identical table map
/// instead of building a new one, so a stream that repeats TABLE_MAPs allocates nothing.
///
/// `@unchecked Sendable`: besides its `let` properties it owns one raw allocation (the columns'
/// decode layouts and a copy of the event body), written once in `init` and only read after.
public final class TableMap: @unchecked Sendable, CustomStringConvertible {
    public let tableID: UInt64
    public let flags: UInt16
    public let schema: String
    public let table: String
    public let columns: [Column]
    /// Primary key columns (index, prefix length; 0 = whole column), from SIMPLE_PRIMARY_KEY
    /// or PRIMARY_KEY_WITH_PREFIX. Nil when the server did not send it.
    public let primaryKey: [PrimaryKeyPart]?
    /// The optional metadata field types this map carried, in order.
    public let optionalMetadataTypes: [UInt8]
    /// Count of JSON columns, cached for partial-update decoding.
    let jsonColumnCount: Int

    /// One allocation: `layouts`, then `body`.
    private let storage: UnsafeMutableRawPointer
    /// How to read each column's values, by column index (what the row iterators use).
    let layouts: UnsafeBufferPointer<ColumnLayout>
    /// The event body this map was decoded from, to recognise a repeat without decoding it.
    let body: UnsafeRawBufferPointer

    public struct PrimaryKeyPart: Sendable, Equatable {
        public var column: Int
        public var prefixLength: Int
    }

    /// One column as the TABLE_MAP describes it.
    public struct Column: Sendable {
        /// The type code written in the TABLE_MAP.
        public var type: ColumnType
        /// The raw metadata as one number, as `mysqlbinlog -vv` prints it (`meta=`).
        public var metadata: UInt16
        public var isNullable: Bool
        /// The type the value bytes are in: for `STRING` columns the real type (`ENUM`, `SET`
        /// or `STRING`) from the metadata; otherwise `type`.
        public var valueType: ColumnType
        /// CHAR: maximum length in bytes; VARCHAR: maximum length; BLOB family: bytes of the length prefix;
        /// ENUM/SET: bytes of the stored value; BIT: bits; temporal 2-types: fractional digits.
        public var length: Int
        /// NEWDECIMAL precision and scale.
        public var precision: Int
        public var scale: Int

        // From optional metadata (nil when the server did not send it).
        public var isUnsigned: Bool?
        /// Collation id (character columns and ENUM/SET).
        public var collation: UInt32?
        public var name: String?
        /// ENUM or SET member strings.
        public var elements: [String]?
        public var geometryType: UInt32?
        public var isVisible: Bool?
        public var vectorDimensions: UInt32?

        /// Bytes a NEWDECIMAL value of this column occupies.
        public var decimalSize: Int { Decimal.binarySize(precision: precision, scale: scale) }
    }

    public var description: String { "`\(schema)`.`\(table)` (table id \(tableID), \(columns.count) columns)" }

    /// Decodes a TABLE_MAP event body (after the common header, checksum removed).
    init(body bytes: UnsafeRawBufferPointer, tableIDLength: Int, baseOffset: Int) throws(BinlogError) {
        var reader = ByteReader(bytes, baseOffset: baseOffset)
        tableID = try reader.readLittleEndian(tableIDLength)
        flags = try reader.readUInt16()
        schema = String(decoding: try reader.readLengthPrefixed8(), as: UTF8.self)
        try reader.skip(1, "schema NUL")
        table = String(decoding: try reader.readLengthPrefixed8(), as: UTF8.self)
        try reader.skip(1, "table NUL")
        let columnCount = try reader.readLengthEncodedCount()
        let types = try reader.readBytes(columnCount, "column types")
        var columns: [Column] = []
        columns.reserveCapacity(columnCount)
        var metadataLength = 0
        if !reader.isAtEnd { metadataLength = try reader.readLengthEncodedCount() }
        var metadata = ByteReader(try reader.readBytes(metadataLength, "column metadata"), baseOffset: baseOffset)
        let nullBits = try reader.readBytes((columnCount + 7) / 8, "null bitmap")
        for index in 0..<columnCount {
            let type = ColumnType(rawValue: types[index])
            let nullable = nullBits[index >> 3] & (1 << UInt8(index & 7)) != 0
            columns.append(try TableMap.column(type: type, nullable: nullable, metadata: &metadata))
        }
        var primaryKey: [PrimaryKeyPart]?
        var optionalTypes: [UInt8] = []
        while !reader.isAtEnd {
            let fieldType = try reader.readUInt8()
            var field = ByteReader(try reader.readLengthEncodedBytes(), baseOffset: baseOffset)
            optionalTypes.append(fieldType)
            try TableMap.applyOptionalMetadata(fieldType, &field, to: &columns, primaryKey: &primaryKey)
        }
        self.columns = columns
        self.primaryKey = primaryKey
        self.optionalMetadataTypes = optionalTypes
        // Layouts and the body copy share one allocation (nothing above throws after it).
        let layoutBytes = columnCount * MemoryLayout<ColumnLayout>.stride
        storage = .allocate(byteCount: Swift.max(1, layoutBytes + bytes.count), alignment: MemoryLayout<ColumnLayout>.alignment)
        let layouts = storage.bindMemory(to: ColumnLayout.self, capacity: columnCount)
        var jsonCount = 0
        for (index, column) in columns.enumerated() {
            let isJSON = column.valueType == .json
            (layouts + index).initialize(to: ColumnLayout(column, jsonOrdinal: isJSON ? jsonCount : -1))
            if isJSON { jsonCount += 1 }
        }
        self.layouts = UnsafeBufferPointer(start: layouts, count: columnCount)
        self.jsonColumnCount = jsonCount
        let body = UnsafeMutableRawBufferPointer(start: storage + layoutBytes, count: bytes.count)
        if !bytes.isEmpty { body.copyMemory(from: bytes) }
        self.body = UnsafeRawBufferPointer(body)
    }

    deinit { storage.deallocate() }

    /// Whether this map was decoded from exactly these bytes.
    func matches(body bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count == bytes.count else { return false }
        guard let mine = body.baseAddress, let theirs = bytes.baseAddress else { return true }
        return memcmp(mine, theirs, bytes.count) == 0
    }

    private static func column(type: ColumnType, nullable: Bool, metadata: inout ByteReader) throws(BinlogError)
        -> Column
    {
        var column = Column(
            type: type, metadata: 0, isNullable: nullable, valueType: type, length: 0, precision: 0, scale: 0)
        switch type.metadataLength {
        case 1:
            let byte = try metadata.readUInt8()
            column.metadata = UInt16(byte)
            column.length = Int(byte)
        case 2:
            let first = try metadata.readUInt8()
            let second = try metadata.readUInt8()
            switch type {
            case .varchar, .varString:
                column.length = Int(first) | Int(second) << 8
                column.metadata = UInt16(column.length)
            case .bit:
                // first = bits in the last partial byte, second = whole bytes.
                column.length = Int(second) * 8 + Int(first)
                column.metadata = UInt16(second) << 8 | UInt16(first)
            case .newdecimal:
                column.precision = Int(first)
                column.scale = Int(second)
                column.metadata = UInt16(first) << 8 | UInt16(second)
            default:  // STRING, ENUM, SET: real type and length packed together
                column.metadata = UInt16(first) << 8 | UInt16(second)
                if first & 0x30 != 0x30 {
                    // CHAR longer than 255 bytes: two high bits of the length ride in the type byte.
                    column.length = Int(((UInt16(first) & 0x30) ^ 0x30) << 4) | Int(second)
                    column.valueType = ColumnType(rawValue: first | 0x30)
                } else {
                    column.length = Int(second)
                    column.valueType = ColumnType(rawValue: first)
                }
                if type != .string { column.valueType = type }
            }
        default:
            break
        }
        // MySQL allows DECIMAL(65,30), MariaDB DECIMAL(65,38).
        if column.valueType == .newdecimal && (column.precision < 1 || column.precision > 65 || column.scale > 38
            || column.scale > column.precision)
        {
            throw BinlogError(
                .corrupt, "DECIMAL(\(column.precision),\(column.scale)) is not a valid precision and scale",
                offset: metadata.baseOffset + metadata.position)
        }
        return column
    }

    /// Character columns as the CHARSET optional metadata counts them (MySQL `is_character_type`).
    private static func isCharacter(_ column: Column) -> Bool {
        switch column.valueType {
        case .string, .varString, .varchar, .blob, .tinyBlob, .mediumBlob, .longBlob: true
        default: false
        }
    }

    private static func isEnumOrSet(_ column: Column) -> Bool {
        column.valueType == .enum || column.valueType == .set
    }

    // Optional metadata field types (MySQL `Table_map_event::Optional_metadata_field_type`).
    static let signedness: UInt8 = 1
    static let defaultCharset: UInt8 = 2
    static let columnCharset: UInt8 = 3
    static let columnName: UInt8 = 4
    static let setStrValue: UInt8 = 5
    static let enumStrValue: UInt8 = 6
    static let geometryTypeField: UInt8 = 7
    static let simplePrimaryKey: UInt8 = 8
    static let primaryKeyWithPrefix: UInt8 = 9
    static let enumAndSetDefaultCharset: UInt8 = 10
    static let enumAndSetColumnCharset: UInt8 = 11
    static let columnVisibility: UInt8 = 12
    static let vectorDimensionality: UInt8 = 13

    private static func applyOptionalMetadata(
        _ type: UInt8, _ field: inout ByteReader, to columns: inout [Column], primaryKey: inout [PrimaryKeyPart]?
    ) throws(BinlogError) {
        switch type {
        case signedness:
            // One bit per numeric column, most significant bit first.
            var bit = 0
            for index in columns.indices where columns[index].valueType.isNumeric {
                guard bit / 8 < field.bytes.count else { break }
                columns[index].isUnsigned = field.bytes[bit / 8] & (0x80 >> UInt8(bit % 8)) != 0
                bit += 1
            }
        case defaultCharset, enumAndSetDefaultCharset:
            let forEnumAndSet = type == enumAndSetDefaultCharset
            let defaultCollation = UInt32(truncatingIfNeeded: try field.readLengthEncoded())
            var exceptions: [Int: UInt32] = [:]
            while !field.isAtEnd {
                let position = try field.readLengthEncodedCount()
                exceptions[position] = UInt32(truncatingIfNeeded: try field.readLengthEncoded())
            }
            var position = 0
            for index in columns.indices
            where forEnumAndSet ? isEnumOrSet(columns[index]) : isCharacter(columns[index]) {
                columns[index].collation = exceptions[position] ?? defaultCollation
                position += 1
            }
        case columnCharset, enumAndSetColumnCharset:
            let forEnumAndSet = type == enumAndSetColumnCharset
            for index in columns.indices
            where forEnumAndSet ? isEnumOrSet(columns[index]) : isCharacter(columns[index]) {
                guard !field.isAtEnd else { break }
                columns[index].collation = UInt32(truncatingIfNeeded: try field.readLengthEncoded())
            }
        case columnName:
            for index in columns.indices {
                guard !field.isAtEnd else { break }
                columns[index].name = String(decoding: try field.readLengthEncodedBytes(), as: UTF8.self)
            }
        case setStrValue, enumStrValue:
            let wanted: ColumnType = type == setStrValue ? .set : .enum
            for index in columns.indices where columns[index].valueType == wanted {
                guard !field.isAtEnd else { break }
                let count = try field.readLengthEncodedCount()
                var elements: [String] = []
                elements.reserveCapacity(Swift.min(count, 4096))
                for _ in 0..<count {
                    elements.append(String(decoding: try field.readLengthEncodedBytes(), as: UTF8.self))
                }
                columns[index].elements = elements
            }
        case geometryTypeField:
            for index in columns.indices where columns[index].valueType == .geometry {
                guard !field.isAtEnd else { break }
                columns[index].geometryType = UInt32(truncatingIfNeeded: try field.readLengthEncoded())
            }
        case simplePrimaryKey:
            var parts: [PrimaryKeyPart] = []
            while !field.isAtEnd {
                parts.append(PrimaryKeyPart(column: try field.readLengthEncodedCount(), prefixLength: 0))
            }
            primaryKey = parts
        case primaryKeyWithPrefix:
            var parts: [PrimaryKeyPart] = []
            while !field.isAtEnd {
                let column = try field.readLengthEncodedCount()
                parts.append(PrimaryKeyPart(column: column, prefixLength: try field.readLengthEncodedCount()))
            }
            primaryKey = parts
        case columnVisibility:
            for index in columns.indices {
                guard index / 8 < field.bytes.count else { break }
                columns[index].isVisible = field.bytes[index / 8] & (0x80 >> UInt8(index % 8)) != 0
            }
        case vectorDimensionality:
            for index in columns.indices where columns[index].valueType == .vector {
                guard !field.isAtEnd else { break }
                columns[index].vectorDimensions = UInt32(truncatingIfNeeded: try field.readLengthEncoded())
            }
        default:
            break  // A newer server's field: skipped, as the servers themselves do.
        }
        if let primaryKey, primaryKey.contains(where: { $0.column >= columns.count }) {
            throw BinlogError(.corrupt, "primary key names a column beyond the table's \(columns.count)")
        }
    }
}
