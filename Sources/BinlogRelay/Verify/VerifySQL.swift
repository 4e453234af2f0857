/// The statements `verify` sends: the same checksum expression to both servers, chunk bounds as
/// literals that compare exactly as the key's index orders them.
enum VerifySQL {
    static func quote(_ identifier: String) -> String {
        "`" + identifier.replacing("`", with: "``") + "`"
    }

    static func qualified(_ schema: String, _ table: String) -> String { "\(quote(schema)).\(quote(table))" }

    /// Types hashed by themselves (MD5 of their bytes) rather than concatenated: a large value
    /// cannot push the row's text past `max_allowed_packet`, which would turn it into NULL.
    static let hashedTypes: Set<String> = [
        "tinyblob", "blob", "mediumblob", "longblob", "tinytext", "text", "mediumtext", "longtext", "json",
        "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
        "geometrycollection", "geomcollection",
    ]

    /// One row as a text that differs whenever a stored value differs: a NULL flag per nullable
    /// column (CONCAT_WS skips NULLs), then each value's bytes with its length in front (so no
    /// separator inside a value can make two rows alike), FLOAT/DOUBLE as the shortest text of
    /// their double (one ulp shows), large types as the MD5 of their bytes.
    static func rowText(_ columns: [VerifyColumn]) -> String {
        var parts: [String] = []
        let nullable = columns.filter(\.nullable)
        parts.append(nullable.isEmpty ? "''" : "CONCAT(\(nullable.map { "ISNULL(\(quote($0.name)))" }.joined(separator: ",")))")
        for column in columns {
            let name = quote(column.name)
            switch column.dataType {
            case "float", "double", "real", "double precision":
                let bytes = "CAST(CAST(\(name) AS DOUBLE) AS BINARY)"
                parts.append("OCTET_LENGTH(\(bytes))")
                parts.append(bytes)
            case let type where hashedTypes.contains(type):
                parts.append("MD5(CAST(\(name) AS BINARY))")
            default:
                let bytes = "CAST(\(name) AS BINARY)"
                parts.append("OCTET_LENGTH(\(bytes))")
                parts.append(bytes)
            }
        }
        return "CONCAT_WS('#',\(parts.joined(separator: ",")))"
    }

    /// COUNT(*), a 64-bit XOR and a sum of 32 more bits of the rows' MD5s: 96 bits that do not
    /// depend on row order; the sum also catches rows that come in pairs (which XOR cancels), as
    /// a table without a key may hold.
    static func checksum(_ table: VerifyTable, schema: String, where condition: String?) -> String {
        """
        SELECT COUNT(*), COALESCE(BIT_XOR(CAST(CONV(SUBSTRING(h, 1, 16), 16, 10) AS UNSIGNED)), 0), \
        COALESCE(SUM(CAST(CONV(SUBSTRING(h, 17, 8), 16, 10) AS UNSIGNED)), 0) \
        FROM (SELECT MD5(\(rowText(table.columns))) AS h FROM \(qualified(schema, table.name))\
        \(condition.map { " WHERE \($0)" } ?? "")) AS chunk
        """
    }

    /// How a key column's value is fetched: as the server prints it, or in hex for strings.
    static func fetch(_ column: VerifyColumn) -> String {
        switch column.dataType {
        case "char", "varchar", "binary", "varbinary": "HEX(\(quote(column.name)))"
        default: quote(column.name)
        }
    }

    /// A fetched key value as a literal of the column's type (and collation, for strings).
    static func literal(_ value: String, _ column: VerifyColumn) -> String {
        switch column.dataType {
        case "char", "varchar":
            "_\(column.charset ?? "binary") X'\(value)' COLLATE \(column.collation ?? "binary")"
        case "binary", "varbinary":
            "X'\(value)'"
        case "date", "time", "datetime", "timestamp":
            "'" + value.replacing("'", with: "''") + "'"
        default:
            // Integers and DECIMAL print as plain digits; anything else is quoted to stay a literal.
            value.allSatisfy { $0.isNumber || $0 == "-" || $0 == "." } && !value.isEmpty
                ? value : "'" + value.replacing("'", with: "''") + "'"
        }
    }

    /// `key > bound` in index order: (k1 > v1) OR (k1 = v1 AND k2 > v2) OR …, or with
    /// `orEqual` `key <= bound`: … OR (k1 = v1 AND … AND kn <= vn) (`<` before the last column).
    static func compare(_ key: [VerifyColumn], _ bound: [String], greater: Bool) -> String {
        let literals = zip(key, bound).map { literal($1, $0) }
        var terms: [String] = []
        for position in key.indices {
            var parts: [String] = []
            for earlier in 0..<position { parts.append("\(quote(key[earlier].name)) = \(literals[earlier])") }
            let last = position == key.count - 1
            let op = greater ? ">" : (last ? "<=" : "<")
            parts.append("\(quote(key[position].name)) \(op) \(literals[position])")
            terms.append(parts.count == 1 ? parts[0] : "(" + parts.joined(separator: " AND ") + ")")
        }
        return terms.count == 1 ? terms[0] : "(" + terms.joined(separator: " OR ") + ")"
    }

    /// The rows of a chunk: after `lower` (exclusive) up to `upper` (inclusive); nil is open.
    static func range(_ key: [VerifyColumn], lower: [String]?, upper: [String]?) -> String? {
        var conditions: [String] = []
        if let lower { conditions.append(compare(key, lower, greater: true)) }
        if let upper { conditions.append(compare(key, upper, greater: false)) }
        return conditions.isEmpty ? nil : conditions.joined(separator: " AND ")
    }

    /// The key of the `rows`-th row after `lower` on the source, the chunk's upper bound.
    static func bound(_ table: VerifyTable, lower: [String]?, rows: Int) -> String {
        let order = table.key.map { quote($0.name) }.joined(separator: ", ")
        let index = table.keyIndex.map { " FORCE INDEX (\(quote($0)))" } ?? ""
        let condition = lower.map { " WHERE \(compare(table.key, $0, greater: true))" } ?? ""
        return "SELECT \(table.key.map(fetch).joined(separator: ", ")) FROM \(qualified(table.schema, table.name))\(index)\(condition) ORDER BY \(order) LIMIT 1 OFFSET \(rows - 1)"
    }

    /// A key value as a person reads it: numbers and times as printed, strings quoted when they
    /// are text, else in hex.
    static func display(_ value: String, _ column: VerifyColumn) -> String {
        switch column.dataType {
        case "binary", "varbinary":
            return "0x" + value
        case "char", "varchar":
            if let bytes = hexBytes(value), let text = String(validating: bytes, as: UTF8.self),
                text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0 != "'" })
            {
                return "'\(text)'"
            }
            return "0x" + value
        case "date", "time", "datetime", "timestamp":
            return "'\(value)'"
        default:
            return value
        }
    }

    static func hexBytes(_ hex: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = nibble(high), let l = nibble(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        return bytes
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
