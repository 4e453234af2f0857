import MySQLClient

/// Values read from the source as the text protocol sends them (with `character_set_results`
/// binary: the column's own bytes) written back as literals that store the same value.
enum SeedLiteral {
    // enum_field_types
    static let bitType: UInt32 = 16
    static let jsonType: UInt32 = 245
    /// Types whose text is a number the server reads back exactly: DECIMAL, TINY, SHORT, LONG,
    /// FLOAT, DOUBLE, LONGLONG, INT24, YEAR, NEWDECIMAL.
    static func isNumber(_ type: UInt32) -> Bool {
        switch type {
        case 0, 1, 2, 3, 4, 5, 8, 9, 13, 246: true
        default: false
        }
    }

    /// A value for INSERT: numbers as their text, BIT as its number, MySQL's JSON as a utf8mb4
    /// string (a binary string is refused there), everything else (strings, BLOBs, temporal
    /// types in the session's UTC, ENUM/SET by name, spatial in the server's internal form) as a
    /// binary string with the same bytes.
    static func write(_ value: UnsafeRawBufferPointer?, type: UInt32, into sql: inout SQLText) {
        guard let value else {
            sql.append("NULL")
            return
        }
        if isNumber(type) {
            sql.append(contentsOf: value)
        } else if type == bitType {
            var number: UInt64 = 0
            for byte in value { number = number << 8 | UInt64(byte) }
            sql.append(unsigned: number)
        } else if type == jsonType {
            sql.appendEscaped(value, introducer: "_utf8mb4")
        } else {
            sql.appendEscaped(value)
        }
    }

    /// A key value for `WHERE key > …`, compared as the column compares: numbers as numbers, a
    /// character column's value in its own character set and collation (a binary string would
    /// compare by bytes, which is not the order the key's index keeps), others as binary strings.
    static func writeKey(_ value: UnsafeRawBufferPointer, type: UInt32, column: SeedTable.Column, into sql: inout SQLText) {
        if isNumber(type) || type == bitType {
            write(value, type: type, into: &sql)
        } else if let characterSet = column.characterSet, let collation = column.collation, characterSet != "binary" {
            sql.append("_")
            sql.append(characterSet)
            sql.append(" ")
            sql.appendHex(value)
            sql.append(" COLLATE ")
            sql.append(collation)
        } else {
            sql.appendEscaped(value)
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
