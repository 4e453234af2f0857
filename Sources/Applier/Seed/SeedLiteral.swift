import MySQLClient

/// Values read from the source as the text protocol sends them (with `character_set_results`
/// binary: the column's own bytes) written back as literals that store the same value.
enum SeedLiteral {
    /// How a column's value is written back, by its type (information_schema.COLUMNS.DATA_TYPE).
    enum Kind: Equatable {
        /// Integers, DECIMAL, YEAR, DOUBLE, and FLOAT read as a DOUBLE (the text protocol prints a
        /// FLOAT with six digits, which does not read back as the same float; its DOUBLE text does):
        /// the text is the number.
        case number
        /// BIT: the bytes are the value, big-endian; written as its number.
        case bit
        /// ENUM and SET: the member names in the column's character set (a binary string would not
        /// match a member outside ASCII); INET4, INET6, UUID and MySQL's JSON: their text form
        /// (as a binary string they would be read as their binary form, or refused).
        case text(String)
        /// Everything else (strings, BLOBs, BINARY, temporal types in the session's UTC, spatial
        /// values in the server's internal form): a binary string with the same bytes.
        case binary

        init(dataType: String, characterSet: String?) {
            switch dataType {
            case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "year", "double", "real",
                "float", "double precision":
                self = .number
            case "bit": self = .bit
            case "enum", "set": self = .text(characterSet ?? "utf8mb4")
            case "inet4", "inet6", "uuid", "json": self = .text("utf8mb4")
            default: self = .binary
            }
        }
    }

    /// A value for INSERT (nil: NULL).
    static func write(_ value: UnsafeRawBufferPointer?, kind: Kind, into sql: inout SQLText) {
        guard let value else {
            sql.append("NULL")
            return
        }
        switch kind {
        case .number:
            sql.append(contentsOf: value)
        case .bit:
            var number: UInt64 = 0
            for byte in value { number = number << 8 | UInt64(byte) }
            sql.append(unsigned: number)
        case .text(let characterSet):
            sql.append("_")
            sql.append(characterSet)
            sql.append(" ")
            sql.appendHex(value)
        case .binary:
            sql.appendEscaped(value)
        }
    }

    /// A key value for `WHERE key > …`, compared as the column compares: numbers as numbers, a
    /// character column's value in its own character set and collation (a binary string would
    /// compare by bytes, which is not the order the key's index keeps), others as binary strings.
    static func writeKey(_ value: UnsafeRawBufferPointer, column: SeedTable.Column, into sql: inout SQLText) {
        if let characterSet = column.characterSet, let collation = column.collation, characterSet != "binary" {
            sql.append("_")
            sql.append(characterSet)
            sql.append(" ")
            sql.appendHex(value)
            sql.append(" COLLATE ")
            sql.append(collation)
        } else {
            write(value, kind: column.literal, into: &sql)
        }
    }

    /// A list of literals as one blob (`<length>:<literal>` each), for `seed_chunk.last_key`.
    static func encode(_ literals: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        for literal in literals {
            bytes += Array(String(literal.count).utf8)
            bytes.append(UInt8(ascii: ":"))
            bytes += literal
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> [[UInt8]]? {
        var literals: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            guard let colon = bytes[index...].firstIndex(of: UInt8(ascii: ":")),
                let length = Int(String(decoding: bytes[index..<colon], as: UTF8.self)), colon + 1 + length <= bytes.count
            else { return nil }
            literals.append(Array(bytes[(colon + 1)..<(colon + 1 + length)]))
            index = colon + 1 + length
        }
        return literals
    }
}

extension SQLText {
    mutating func append(contentsOf buffer: UnsafeRawBufferPointer) { bytes.append(contentsOf: buffer) }
}
