import MySQLClient

/// A table as the target's `information_schema` describes it.
struct TargetTable: Sendable, Equatable {
    struct Column: Sendable, Equatable {
        var name: String
        /// `DATA_TYPE`, lower case: `int`, `varchar`, `json`, …
        var dataType: String
        var isUnsigned: Bool
        /// A generated (virtual or stored) column: the server computes it, a statement may not set it.
        var isGenerated: Bool
        var isNullable: Bool
        /// `ON UPDATE CURRENT_TIMESTAMP`: the server sets it in an UPDATE that does not.
        var updatesItself = false
    }

    enum KeyKind: String, Sendable {
        case primary = "primary key"
        case unique = "unique not-null key"
        case none = "no key"
    }

    var schema: String
    var name: String
    var columns: [Column]
    /// Target column indexes of the key that identifies a row; empty for `.none`.
    var key: [Int]
    var keyKind: KeyKind
    /// Every unique key (target column indexes), for the parallel applier's write sets: two
    /// transactions that write the same value of any of them must not run side by side.
    var uniqueKeys: [[Int]] = []
    /// Triggers on the table whose body does not skip the applier's session (see TriggerStatement).
    var unguardedTriggers: [String] = []
    /// MariaDB's `WITH SYSTEM VERSIONING` (`TABLES.TABLE_TYPE` 'SYSTEM VERSIONED'): its history
    /// rows and their `row_start`/`row_end` times are the source's, which the relay cannot write
    /// (see Applier+Tables).
    var isSystemVersioned = false
    /// The table has foreign keys, or others reference it.
    var hasForeignKeys = false
    /// A foreign key of the table references the table itself: checked row by row, in the order
    /// a statement meets the rows, so a statement of many rows may fail (or cascade) where the
    /// source's rows one after another did not (see ``UpdateChunk``).
    var referencesItself = false

    /// The tables other schemas' foreign keys reference, as (schema, table) rows. Looked up by the
    /// referenced schema, REFERENTIAL_CONSTRAINTS opens every table of the server (2 ms for 300
    /// tables here, and a DDL statement is followed by a read of its schema), so the applier reads
    /// this once a session and learns the rest from each schema's own constraints
    /// (``crossSchemaReferences(_:schema:)``).
    static let crossSchemaQuery = """
        SELECT UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
        WHERE UNIQUE_CONSTRAINT_SCHEMA <> CONSTRAINT_SCHEMA
        """

    /// ``crossSchemaQuery``'s result as ``qualifiedKey(_:_:)``s.
    static func referencedElsewhere(_ result: MySQLResult) -> Set<String> {
        Set(
            result.rows.compactMap { row in
                guard let schema = row[0] ?? nil, let table = row[1] ?? nil else { return nil }
                return qualifiedKey(schema, table)
            })
    }

    /// `schema` and `table` as one key of a set of tables.
    static func qualifiedKey(_ schema: String, _ table: String) -> String { schema + "\u{0}" + table }

    /// The tables of other schemas that `schema`'s foreign keys reference, from the fourth result
    /// set of ``query(_:escape:)``, as ``qualifiedKey(_:_:)``s.
    static func crossSchemaReferences(_ results: [MySQLResult], schema: String) -> [String] {
        guard results.count == 4 else { return [] }
        return results[3].rows.compactMap { row in
            guard let referenced = row[2] ?? nil, referenced != schema, let table = row[3] ?? nil else { return nil }
            return qualifiedKey(referenced, table)
        }
    }

    /// The statements that read a schema's tables (four result sets, for ``parse(_:schema:)``),
    /// separated by `;`: they may also ride in the round trip of a DDL statement.
    static func query(_ schema: String, escape: (String) -> String) -> String {
        let name = escape(schema)
        return """
            SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, EXTRA, TABLE_NAME IN \
            (SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '\(name)' AND TABLE_TYPE = 'SYSTEM VERSIONED') \
            FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '\(name)' ORDER BY TABLE_NAME, ORDINAL_POSITION;
            SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, NULLABLE FROM information_schema.STATISTICS \
            WHERE TABLE_SCHEMA = '\(name)' ORDER BY TABLE_NAME, INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX;
            SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS \
            WHERE EVENT_OBJECT_SCHEMA = '\(name)' ORDER BY TRIGGER_NAME;
            SELECT CONSTRAINT_SCHEMA, TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME \
            FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = '\(name)'
            """
    }

    /// The tables of `schema` from the four result sets of ``query(_:escape:)``;
    /// `referencedElsewhere`: tables (``qualifiedKey(_:_:)``) other schemas' foreign keys reference.
    static func parse(_ results: [MySQLResult], schema: String, referencedElsewhere: Set<String> = []) -> [String: TargetTable] {
        guard results.count == 4 else { return [:] }
        var columnRows: [String: [[String?]]] = [:]
        for row in results[0].rows { columnRows[row[0] ?? "", default: []].append(Array(row.dropFirst())) }
        var keyRows: [String: [[String?]]] = [:]
        for row in results[1].rows { keyRows[row[0] ?? "", default: []].append(Array(row.dropFirst())) }
        var unguarded: [String: [String]] = [:]
        for row in results[2].rows where !TriggerStatement.isGuarded(row[2] ?? "") {
            unguarded[row[0] ?? "", default: []].append(row[1] ?? "")
        }
        let related = Self.related(results[3].rows, schema: schema)
        let selfReferencing = Set(
            results[3].rows.compactMap { row in row[0] == schema && row[2] == schema && row[1] == row[3] ? row[1] ?? nil : nil })
        var tables: [String: TargetTable] = [:]
        for (name, columns) in columnRows {
            tables[name] = build(
                schema: schema, table: name, columnRows: columns, keyRows: keyRows[name] ?? [],
                unguardedTriggers: unguarded[name] ?? [],
                hasForeignKeys: related.contains(name) || referencedElsewhere.contains(qualifiedKey(schema, name)))
            tables[name]?.referencesItself = selfReferencing.contains(name)
        }
        return tables
    }

    /// Tables of `schema` with foreign keys or referenced by one, from REFERENTIAL_CONSTRAINTS rows
    /// (constraint schema, table, referenced schema, referenced table).
    static func related(_ rows: [[String?]], schema: String) -> Set<String> {
        var names: Set<String> = []
        for row in rows {
            if row[0] == schema, let table = row[1] ?? nil { names.insert(table) }
            if row[2] == schema, let table = row[3] ?? nil { names.insert(table) }
        }
        return names
    }

    /// A table from its `information_schema` rows: COLUMNS (name, data type, column type,
    /// nullable, extra, and when read from the target whether TABLES.TABLE_TYPE is 'SYSTEM
    /// VERSIONED': an IN subquery the server runs once; a join with TABLES scanned every schema,
    /// 60 ms against 10 for 300 tables) and STATISTICS (index, non-unique, column, sub-part, nullable).
    static func build(
        schema: String, table: String, columnRows: [[String?]], keyRows: [[String?]], unguardedTriggers: [String] = [],
        hasForeignKeys: Bool = false
    ) -> TargetTable {
        let columns = columnRows.map { row in
            let extra = (row[4] ?? "").uppercased()
            return Column(
                name: row[0] ?? "", dataType: (row[1] ?? "").lowercased(),
                isUnsigned: (row[2] ?? "").lowercased().contains("unsigned"),
                isGenerated: extra.contains("GENERATED") || extra.contains("VIRTUAL") || extra.contains("PERSISTENT")
                    || extra.contains("STORED"),
                isNullable: row[3] == "YES", updatesItself: extra.contains("ON UPDATE"))
        }
        // Keys: the primary key, else the first unique key whose columns are all NOT NULL and whole
        // (no prefix): such a key names exactly one row.
        var indexes: [(name: String, columns: [String], usable: Bool)] = []
        for row in keyRows where row[1] == "0" {
            let name = row[0] ?? ""
            let usable = row[3] == nil && (row[4] ?? "") != "YES"
            if let last = indexes.last, last.name == name {
                indexes[indexes.count - 1].columns.append(row[2] ?? "")
                indexes[indexes.count - 1].usable = last.usable && usable
            } else {
                indexes.append((name, [row[2] ?? ""], usable))
            }
        }
        var key: [Int] = []
        var kind = KeyKind.none
        if let chosen = indexes.first(where: { $0.usable }) {
            let positions = chosen.columns.compactMap { name in columns.firstIndex { $0.name.lowercased() == name.lowercased() } }
            if positions.count == chosen.columns.count, !positions.contains(where: { columns[$0].isGenerated && chosen.name != "PRIMARY" }) {
                key = positions
                kind = chosen.name == "PRIMARY" ? .primary : .unique
            }
        }
        let uniqueKeys = indexes.map { index in
            index.columns.compactMap { name in columns.firstIndex { $0.name.lowercased() == name.lowercased() } }
        }
        return TargetTable(
            schema: schema, name: table, columns: columns, key: key, keyKind: kind, uniqueKeys: uniqueKeys,
            unguardedTriggers: unguardedTriggers, isSystemVersioned: columnRows.contains { $0.count > 5 && $0[5] == "1" },
            hasForeignKeys: hasForeignKeys)
    }
}

extension TargetTable {
    /// What ``build(schema:table:columnRows:keyRows:unguardedTriggers:hasForeignKeys:)`` reads of
    /// a table's `information_schema` rows, as one string: per column its name (hex), data type,
    /// whether it is unsigned, nullable, and plain (EXTRA empty or `auto_increment`: neither
    /// generated nor set by the server on update); per row of a unique index its index and column
    /// names (hex), whether it is whole (no prefix) and nullable; then no triggers and no foreign
    /// keys. ``predictionCheck(schema:table:expected:)`` computes the same on the target, so two
    /// tables with the same fingerprint build the same TargetTable (triggers and foreign keys
    /// absent).
    static func fingerprint(columnRows: [[String?]], keyRows: [[String?]]) -> String {
        func hex(_ text: String?) -> String {
            let digits = Array("0123456789ABCDEF".utf8)
            var out: [UInt8] = []
            for byte in (text ?? "").utf8 {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
            return String(decoding: out, as: UTF8.self)
        }
        func flag(_ value: Bool) -> String { value ? "1" : "0" }
        let columns = columnRows.map { row in
            [
                hex(row[0]), (row[1] ?? "").lowercased(), flag((row[2] ?? "").lowercased().contains("unsigned")),
                flag(row[3] == "YES"), flag(row[4] == "" || row[4] == "auto_increment"),
            ].joined(separator: ",")
        }
        let keys = keyRows.filter { $0[1] == "0" }.map { row in
            [hex(row[0]), hex(row[2]), flag(row[3] == nil), flag(row[4] == "YES")].joined(separator: ",")
        }
        return [columns.joined(separator: ";"), keys.joined(separator: ";"), "0", "0"].joined(separator: "#")
    }

    /// The `SIGNAL` this check raises.
    static let predictionMismatch = "binlog-relay: the table is not the one predicted from its CREATE TABLE"

    /// A statement for a MariaDB target (IF runs outside stored programs there) that fails with
    /// ``predictionMismatch`` unless table `schema`.`table` has the ``fingerprint(columnRows:keyRows:)``
    /// `expected`. `escape`: the connection's string escaping.
    static func predictionCheck(schema: String, table: String, expected: String, escape: (String) -> String) -> String {
        let where_ = "TABLE_SCHEMA = '\(escape(schema))' AND TABLE_NAME = '\(escape(table))'"
        return """
            IF NOT (BINARY CONCAT_WS('#', \
            COALESCE((SELECT GROUP_CONCAT(CONCAT_WS(',', HEX(COLUMN_NAME), LOWER(DATA_TYPE), LOWER(COLUMN_TYPE) LIKE '%unsigned%', \
            IS_NULLABLE = 'YES', EXTRA IN ('', 'auto_increment')) ORDER BY ORDINAL_POSITION SEPARATOR ';') \
            FROM information_schema.COLUMNS WHERE \(where_)), ''), \
            COALESCE((SELECT GROUP_CONCAT(CONCAT_WS(',', HEX(INDEX_NAME), HEX(COLUMN_NAME), SUB_PART IS NULL, NULLABLE = 'YES') \
            ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX SEPARATOR ';') \
            FROM information_schema.STATISTICS WHERE \(where_) AND NON_UNIQUE = 0), ''), \
            (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = '\(escape(schema))' \
            AND EVENT_OBJECT_TABLE = '\(escape(table))'), \
            (SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = '\(escape(schema))' \
            AND (TABLE_NAME = '\(escape(table))' OR REFERENCED_TABLE_NAME = '\(escape(table))'))) \
            <=> '\(escape(expected))') THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '\(predictionMismatch)'; END IF
            """
    }
}
