import BinlogFormat

/// The rows of one multi-row INSERT sent in MariaDB's binary protocol: a prepared
/// `INSERT INTO t (c1,…) VALUES (?,…)` executed once for all of them (COM_STMT_BULK_EXECUTE).
/// The target neither parses nor unescapes the values, which for rows of BLOBs is most of what a
/// text INSERT costs it (Benchmarks/RESULTS.md, "INSERT: text against bulk binary"), and no
/// value passes through text that needs none: integers, FLOAT and DOUBLE go as their bits,
/// strings and BLOBs as their bytes.
///
/// Values as parameters, each meaning what ``SQLLiteral`` writes for it:
/// - integers, YEAR, ENUM indexes, SET bitmasks and BIT as LONGLONG (unsigned flag as the text
///   form's sign), FLOAT as FLOAT and DOUBLE as DOUBLE (the same bits);
/// - strings, BLOBs, GEOMETRY and VECTOR as BLOB: a binary string, copied byte for byte as a
///   `_binary'…'` literal is (fixed-length binary values padded the same way);
/// - DECIMAL (as NEWDECIMAL) and the temporal types (as STRING) in the same text as their
///   literals, which the server reads as it reads the literal (TIMESTAMP in UTC, the session's
///   time zone);
/// - NULL as the NULL indicator.
/// A value without a binary form here (MySQL's binary JSON, ENUM index 0, which needs a
/// non-strict statement, a FLOAT that is not finite) makes ``append(_:binding:)`` refuse the
/// row, which then goes as text.
///
/// Layout (MariaDB's documentation of COM_STMT_BULK_EXECUTE): statement id (4 bytes), flags (2;
/// 128: parameter types follow), a type byte and a flag byte (128: unsigned) per parameter, then
/// per row per parameter an indicator byte (0: a value follows, 1: NULL) and the value in the
/// binary protocol's encoding (little-endian integers and floats; strings length-encoded).
struct BulkRows {
    /// `INSERT INTO t (c1,…) VALUES (?,…)`, the statement prepared on each connection.
    let statement: [UInt8]
    /// The length of `INSERT INTO t (c1,…) VALUES ` at the start of ``statement``.
    let headCount: Int
    let parameterCount: Int
    /// Each parameter's type and flag, as the rows so far set them (``unsetType``: only NULLs yet).
    private(set) var types: [UInt8]
    /// The rows' indicators and values.
    private(set) var payload: [UInt8] = []
    private(set) var rows: UInt64 = 0

    static let unsetType: UInt8 = 0xFF
    static let longLong: UInt8 = 8
    static let float: UInt8 = 4
    static let double: UInt8 = 5
    static let string: UInt8 = 254
    static let newDecimal: UInt8 = 246
    static let blob: UInt8 = 252
    static let unsignedFlag: UInt8 = 128

    /// `head`: the text INSERT's beginning, `INSERT INTO t (c1,…) VALUES ` (``RowStatements``).
    init(head: [UInt8], parameterCount: Int) {
        var statement = head
        headCount = head.count
        statement.append(UInt8(ascii: "("))
        for index in 0..<parameterCount {
            if index > 0 { statement.append(UInt8(ascii: ",")) }
            statement.append(UInt8(ascii: "?"))
        }
        statement.append(UInt8(ascii: ")"))
        self.statement = statement
        self.parameterCount = parameterCount
        types = [UInt8](repeating: Self.unsetType, count: parameterCount * 2)
    }

    var byteCount: Int { payload.count }

    /// Adds the image's writable columns as a row; false (nothing added) when a value has no
    /// binary form here or a column's type would differ from an earlier row's.
    mutating func append(_ image: RowImage, binding: TableBinding) throws(BinlogError) -> Bool {
        var iterator = image.makeIterator()
        return try appendRow { () throws(BinlogError) -> Parameter? in
            while let (index, value) = try iterator.next() {
                if binding.writable[index] {
                    return Parameter(value: value, unsigned: binding.unsigned[index], padTo: binding.padLength[index])
                }
            }
            return nil
        }
    }

    /// A value with what the table says of it (see ``SQLLiteral/write(_:unsigned:padTo:into:)``).
    struct Parameter {
        var value: ColumnValue
        var unsigned = false
        var padTo = 0
    }

    /// Adds a row of the parameters `next` gives until nil (``append(_:binding:)``).
    mutating func appendRow(_ next: () throws(BinlogError) -> Parameter?) throws(BinlogError) -> Bool {
        let rowStart = payload.count
        let typesBefore = types
        var parameter = 0
        while let value = try next() {
            guard parameter < parameterCount, appendValue(value.value, parameter: parameter, unsigned: value.unsigned, padTo: value.padTo)
            else {
                payload.removeSubrange(rowStart...)
                types = typesBefore
                return false
            }
            parameter += 1
        }
        guard parameter == parameterCount else {
            payload.removeSubrange(rowStart...)
            types = typesBefore
            return false
        }
        rows += 1
        return true
    }

    /// Sets the parameter's type, or checks it against the one earlier rows set.
    private mutating func type(_ parameter: Int, _ type: UInt8, unsigned: Bool = false) -> Bool {
        let flag = unsigned ? Self.unsignedFlag : 0
        if types[2 * parameter] == Self.unsetType {
            types[2 * parameter] = type
            types[2 * parameter + 1] = flag
            return true
        }
        return types[2 * parameter] == type && types[2 * parameter + 1] == flag
    }

    private mutating func appendValue(_ value: ColumnValue, parameter: Int, unsigned: Bool, padTo: Int) -> Bool {
        switch value {
        case .null:
            payload.append(1)
            return true
        case .integer(let integer):
            let isUnsigned = unsigned || integer.isUnsigned == true
            guard type(parameter, Self.longLong, unsigned: isUnsigned) else { return false }
            appendInteger(isUnsigned ? integer.bits : UInt64(bitPattern: integer.signed))
        case .year(let year):
            guard type(parameter, Self.longLong) else { return false }
            appendInteger(UInt64(year))
        case .enumIndex(let index):
            // Index 0 needs a non-strict statement (RowStatements.makePermissive): as text.
            guard index != 0, type(parameter, Self.longLong) else { return false }
            appendInteger(UInt64(index))
        case .setBits(let bits):
            // Signed, as the text form (SQLLiteral): the same members either way.
            guard type(parameter, Self.longLong) else { return false }
            appendInteger(bits)
        case .bit(let bits, _):
            guard type(parameter, Self.longLong, unsigned: true) else { return false }
            appendInteger(bits)
        case .float(let float):
            guard float.isFinite, type(parameter, Self.float) else { return false }
            payload.append(0)
            withUnsafeBytes(of: float.bitPattern.littleEndian) { payload.append(contentsOf: $0) }
        case .double(let double):
            guard double.isFinite, type(parameter, Self.double) else { return false }
            payload.append(0)
            withUnsafeBytes(of: double.bitPattern.littleEndian) { payload.append(contentsOf: $0) }
        case .decimal(let decimal): return appendText(parameter, Self.newDecimal, decimal.write)
        case .date(let date): return appendText(parameter, Self.string, date.write)
        case .time(let time): return appendText(parameter, Self.string, time.write)
        case .datetime(let datetime): return appendText(parameter, Self.string, datetime.write)
        case .timestamp(let timestamp):
            return appendText(parameter, Self.string) { SQLLiteral.writeTimestampText(timestamp, into: &$0) }
        case .string(let bytes):
            guard type(parameter, Self.blob) else { return false }
            appendBytes(bytes, padTo: padTo)
        case .blob(let bytes), .geometry(let bytes), .vector(let bytes):
            guard type(parameter, Self.blob) else { return false }
            appendBytes(bytes, padTo: 0)
        case .json, .jsonDiff:
            return false
        }
        return true
    }

    private mutating func appendInteger(_ bits: UInt64) {
        payload.append(0)
        withUnsafeBytes(of: bits.littleEndian) { payload.append(contentsOf: $0) }
    }

    /// Text under 251 bytes (a one-byte length) as a parameter of `type`: DECIMAL's 65 digits
    /// and a sign and point, a temporal value.
    private mutating func appendText(_ parameter: Int, _ type: UInt8, _ write: (inout [UInt8]) -> Void) -> Bool {
        guard self.type(parameter, type) else { return false }
        payload.append(0)
        let lengthAt = payload.count
        payload.append(0)
        write(&payload)
        payload[lengthAt] = UInt8(payload.count - lengthAt - 1)
        return true
    }

    private mutating func appendBytes(_ bytes: UnsafeRawBufferPointer, padTo: Int) {
        payload.append(0)
        let length = max(bytes.count, padTo)
        Self.appendLengthEncoded(UInt64(length), to: &payload)
        payload.append(contentsOf: bytes)
        if padTo > bytes.count { payload.append(contentsOf: repeatElement(0, count: padTo - bytes.count)) }
    }

    static func appendLengthEncoded(_ value: UInt64, to bytes: inout [UInt8]) {
        switch value {
        case ..<251:
            bytes.append(UInt8(value))
        case ..<(1 << 16):
            bytes.append(0xFC)
            bytes.append(UInt8(value & 0xFF))
            bytes.append(UInt8(value >> 8))
        case ..<(1 << 24):
            bytes.append(0xFD)
            for shift in stride(from: 0, to: 24, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        default:
            bytes.append(0xFE)
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
    }

    /// The rows as a text INSERT (no `;`), each value the literal ``SQLLiteral`` writes for it: for
    /// a connection that may prepare no more statements. Throws only if ``payload`` is not as
    /// ``append(_:binding:)`` wrote it.
    func writeText(into sql: inout SQLText) throws(BinlogError) {
        sql.bytes.append(contentsOf: statement[0..<headCount])
        func write(_ payload: UnsafeRawBufferPointer) throws(BinlogError) {
            var reader = ByteReader(payload)
            for row in 0..<Int(rows) {
                if row > 0 { sql.append(byte: UInt8(ascii: ",")) }
                sql.append(byte: UInt8(ascii: "("))
                for parameter in 0..<parameterCount {
                    if parameter > 0 { sql.append(byte: UInt8(ascii: ",")) }
                    guard try reader.readUInt8() == 0 else {
                        sql.append("NULL")
                        continue
                    }
                    switch types[2 * parameter] {
                    case Self.longLong:
                        let bits = try reader.readUInt64()
                        if types[2 * parameter + 1] == Self.unsignedFlag {
                            sql.append(unsigned: bits)
                        } else {
                            sql.bytes.appendPadded(Int(Int64(bitPattern: bits)), 0)
                        }
                    case Self.float: SQLLiteral.writeFinite(Double(Float(bitPattern: try reader.readUInt32())), into: &sql)
                    case Self.double: SQLLiteral.writeFinite(Double(bitPattern: try reader.readUInt64()), into: &sql)
                    case Self.newDecimal: sql.bytes.append(contentsOf: try reader.readLengthEncodedBytes())
                    case Self.string:
                        let text = try reader.readLengthEncodedBytes()
                        sql.append(byte: UInt8(ascii: "'"))
                        sql.bytes.append(contentsOf: text)
                        sql.append(byte: UInt8(ascii: "'"))
                    default: sql.appendEscaped(try reader.readLengthEncodedBytes())
                    }
                }
                sql.append(byte: UInt8(ascii: ")"))
            }
        }
        try payload.withUnsafeBytes { payload in Result { () throws(BinlogError) in try write(payload) } }.get()
    }

    /// The command's body for the statement prepared as `id` on the connection it goes to.
    func packet(statementID id: UInt32, into packet: inout [UInt8]) {
        packet.removeAll(keepingCapacity: true)
        packet.reserveCapacity(6 + types.count + payload.count)
        withUnsafeBytes(of: id.littleEndian) { packet.append(contentsOf: $0) }
        packet.append(128)  // STMT_BULK_FLAG_CLIENT_SEND_TYPES
        packet.append(0)
        for parameter in 0..<parameterCount {
            // A column of NULLs only: any type does.
            let type = types[2 * parameter]
            packet.append(type == Self.unsetType ? Self.blob : type)
            packet.append(type == Self.unsetType ? 0 : types[2 * parameter + 1])
        }
        packet.append(contentsOf: payload)
    }
}
