import MySQLClient

/// ENUM and SET members outside the Basic Multilingual Plane (an emoji, say): MariaDB shows
/// definitions in utf8mb3, so `SHOW CREATE TABLE` (and information_schema) print such a member as
/// `?`, and a table created from that text would lose it. The real members are read back through a
/// temporary table on the source that has the same column type, one row per member, and written
/// into the definition.
enum SeedMembers {
    /// The `CREATE TABLE` text with every such column's member list restored.
    static func restore(_ statement: String, table: SeedTable, on source: MySQLConnection) throws(MySQLError) -> String {
        guard source.isMariaDB else { return statement }
        let rows = try source.query(
            """
            SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS
            WHERE TABLE_SCHEMA = '\(source.escape(table.schema))' AND TABLE_NAME = '\(source.escape(table.name))'
              AND DATA_TYPE IN ('enum', 'set') AND COLUMN_TYPE LIKE '%?%'
            """
        ).rows
        var statement = statement
        for row in rows {
            guard let column = row[0] ?? nil, let type = row[1] ?? nil else { continue }
            let members = memberCount(type)
            guard members > 0, let open = type.firstIndex(of: "(") else { continue }
            let isSet = type.lowercased().hasPrefix("set")
            let names = try memberNames(column: column, count: members, isSet: isSet, table: table, on: source)
            guard names.count == members else { continue }
            let rebuilt = String(type[..<open]) + "(" + names.map(quoted).joined(separator: ",") + ")"
            let shown = SeedTable.quote(column) + " " + type
            statement = replacingFirst(shown, with: SeedTable.quote(column) + " " + rebuilt, in: statement)
        }
        return statement
    }

    static func replacingFirst(_ pattern: String, with replacement: String, in text: String) -> String {
        let bytes = Array(text.utf8)
        let needle = Array(pattern.utf8)
        guard !needle.isEmpty, bytes.count >= needle.count else { return text }
        for start in 0...(bytes.count - needle.count) where bytes[start..<(start + needle.count)].elementsEqual(needle) {
            return String(decoding: bytes[..<start] + Array(replacement.utf8) + bytes[(start + needle.count)...], as: UTF8.self)
        }
        return text
    }

    /// Members in `enum('a','b''c')`: quoted strings, `''` inside one being a quote.
    static func memberCount(_ type: String) -> Int {
        var count = 0
        var inside = false
        var previousQuote = false
        for character in type {
            if character == "'" {
                if inside {
                    inside = false
                    previousQuote = true
                    continue
                }
                if previousQuote {
                    // '' inside a member: still the same member.
                    inside = true
                    previousQuote = false
                    continue
                }
                inside = true
                count += 1
            }
            previousQuote = false
        }
        return count
    }

    private static func quoted(_ name: String) -> String {
        "'" + name.replacingQuotes.split(separator: "\\", omittingEmptySubsequences: false).joined(separator: "\\\\") + "'"
    }

    private static func memberNames(
        column: String, count: Int, isSet: Bool, table: SeedTable, on source: MySQLConnection
    ) throws(MySQLError) -> [String] {
        let scratch = SeedTable.quote(table.schema) + ".`binlog_relay_members`"
        try source.execute("DROP TEMPORARY TABLE IF EXISTS \(scratch)")
        try source.execute(
            "CREATE TEMPORARY TABLE \(scratch) SELECT 0 AS i, \(SeedTable.quote(column)) AS m FROM \(table.sourceName) LIMIT 0")
        defer { try? source.execute("DROP TEMPORARY TABLE IF EXISTS \(scratch)") }
        let values = (1...count).map { "(\($0), \(isSet ? "CAST(1 AS UNSIGNED) << \($0 - 1)" : String($0)))" }.joined(separator: ",")
        try source.execute("SET STATEMENT sql_mode = '' FOR INSERT INTO \(scratch) VALUES \(values)")
        return try source.query("SELECT m FROM \(scratch) ORDER BY i").rows.map { ($0[0] ?? nil) ?? "" }
    }
}
