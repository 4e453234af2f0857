import MySQLClient

/// A source table the seed copies: its columns, primary key and target name.
struct SeedTable {
    struct Column {
        var name: String
        var dataType: String
        /// Character set and collation of a character column (nil for others).
        var characterSet: String?
        var collation: String?
        /// Generated (virtual or stored): computed by the target, never copied.
        var isGenerated: Bool

        var isInteger: Bool { ["tinyint", "smallint", "mediumint", "int", "bigint"].contains(dataType) }
        var literal: SeedLiteral.Kind { SeedLiteral.Kind(dataType: dataType, characterSet: characterSet) }
        /// The column in a SELECT: a FLOAT as the DOUBLE it equals (see ``SeedLiteral/Kind/number``).
        var selectExpression: String { dataType == "float" ? "CAST(\(SeedTable.quote(name)) AS DOUBLE)" : SeedTable.quote(name) }
    }

    var schema: String
    var name: String
    var targetSchema: String
    var estimatedRows: UInt64
    /// Every column, in table order (invisible ones included).
    var columns: [Column]
    /// Indexes in ``columns`` of the primary key; empty when the table has none.
    var key: [Int]
    /// The table has a unique key besides the primary key: rows copied under different snapshots
    /// may meet on it (a value that moved from one row to another in between), so its rows go in
    /// with REPLACE, which removes the stale row; the window's changes then restore it.
    var hasSecondaryUniqueKey = false
    /// The table has a primary key (``key`` may still be empty: an ENUM/SET key is not used).
    var hasPrimaryKey = false
    /// InnoDB: its rows commit and roll back with the progress row. Others (MyISAM, Aria) keep the
    /// rows of a piece whose progress was lost in a crash: they are written with REPLACE, so the
    /// piece copied again overwrites them.
    var isTransactional = true
    /// MariaDB's `WITH SYSTEM VERSIONING` (TABLE_TYPE 'SYSTEM VERSIONED'): listed so that the seed
    /// refuses it by name (see Seeder) rather than leave it out.
    var isSystemVersioned = false

    /// The columns copied: all but generated ones.
    var copied: [Int] { columns.indices.filter { !columns[$0].isGenerated } }

    var sourceName: String { Self.quote(schema) + "." + Self.quote(name) }
    var targetName: String { Self.quote(targetSchema) + "." + Self.quote(name) }
    var displayName: String { schema == targetSchema ? "\(schema).\(name)" : "\(schema).\(name) → \(targetSchema).\(name)" }

    /// Whether its key ranges can be split by the first key column's value.
    var splittable: Bool { key.first.map { columns[$0].isInteger } ?? false }

    static func quote(_ name: String) -> String { String(decoding: SQLText.identifier(name), as: UTF8.self) }

    /// Schemas never copied: the server's own, and the relay's.
    static let systemSchemas: Set<String> = ["mysql", "information_schema", "performance_schema", "sys"]

    /// The source's base tables that the filter selects, with their columns and keys, in one round trip.
    static func list(
        on connection: MySQLConnection, filter: TableFilter, relaySchema: String
    ) throws(MySQLError) -> [SeedTable] {
        let results = try connection.queryAll(
            """
            SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS, 0), COALESCE(ENGINE, ''), TABLE_TYPE = 'SYSTEM VERSIONED'
            FROM information_schema.TABLES WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY TABLE_SCHEMA, TABLE_NAME;
            SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, EXTRA
            FROM information_schema.COLUMNS ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION;
            SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS
            WHERE INDEX_NAME = 'PRIMARY' ORDER BY TABLE_SCHEMA, TABLE_NAME, SEQ_IN_INDEX;
            SELECT DISTINCT TABLE_SCHEMA, TABLE_NAME FROM information_schema.STATISTICS
            WHERE INDEX_NAME <> 'PRIMARY' AND NON_UNIQUE = 0
            """)
        func selected(_ schema: String?, _ table: String?) -> Bool {
            guard let schema, let table else { return false }
            return !systemSchemas.contains(schema.lowercased()) && schema != relaySchema
                && filter.includes(schema: schema, table: table)
        }
        var columns: [String: [Column]] = [:]
        for row in results[1].rows where selected(row[0], row[1]) {
            let extra = (row[6] ?? "").uppercased()
            // MariaDB: VIRTUAL GENERATED / STORED GENERATED (older: VIRTUAL, PERSISTENT); MySQL the
            // same, but DEFAULT_GENERATED is a column with an expression default, not a generated one.
            let generated =
                extra.contains("VIRTUAL") || extra.contains("PERSISTENT") || extra.contains("STORED GENERATED")
            columns[row[0]! + "\u{0}" + row[1]!, default: []].append(
                Column(
                    name: row[2] ?? "", dataType: (row[3] ?? "").lowercased(), characterSet: row[4] ?? nil,
                    collation: row[5] ?? nil, isGenerated: generated))
        }
        var keys: [String: [String]] = [:]
        for row in results[2].rows where selected(row[0], row[1]) {
            keys[row[0]! + "\u{0}" + row[1]!, default: []].append(row[2] ?? "")
        }
        let uniques = Set(results[3].rows.map { ($0[0] ?? "") + "\u{0}" + ($0[1] ?? "") })
        var tables: [SeedTable] = []
        for row in results[0].rows where selected(row[0], row[1]) {
            let schema = row[0]!
            let name = row[1]!
            let id = schema + "\u{0}" + name
            let tableColumns = columns[id] ?? []
            var key = (keys[id] ?? []).compactMap { column in tableColumns.firstIndex { $0.name.lowercased() == column.lowercased() } }
            // An ENUM or SET key sorts by its index but its text compares by name: the pieces could
            // not follow the key's order, so such a table is copied whole, like one without a key.
            if key.contains(where: { ["enum", "set"].contains(tableColumns[$0].dataType) }) { key = [] }
            tables.append(
                SeedTable(
                    schema: schema, name: name, targetSchema: filter.targetSchema(schema),
                    estimatedRows: UInt64(row[2] ?? "0") ?? 0, columns: tableColumns,
                    key: key.count == (keys[id] ?? []).count ? key : [], hasSecondaryUniqueKey: uniques.contains(id),
                    hasPrimaryKey: keys[id] != nil, isTransactional: (row[3] ?? "").lowercased() == "innodb",
                    isSystemVersioned: row[4] == "1"))
        }
        return tables
    }

    /// The source's sequences (MariaDB's `CREATE SEQUENCE`, TABLE_TYPE 'SEQUENCE') that the filter
    /// selects, without columns or keys: the seed copies their definition and state row only.
    static func sequences(on connection: MySQLConnection, filter: TableFilter, relaySchema: String) throws(MySQLError) -> [SeedTable] {
        let rows = try connection.query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'SEQUENCE' ORDER BY TABLE_SCHEMA, TABLE_NAME"
        ).rows
        return rows.compactMap { row in
            guard let schema = row[0] ?? nil, let name = row[1] ?? nil, !systemSchemas.contains(schema.lowercased()), schema != relaySchema,
                filter.includes(schema: schema, table: name)
            else { return nil }
            return SeedTable(schema: schema, name: name, targetSchema: filter.targetSchema(schema), estimatedRows: 1, columns: [], key: [])
        }
    }

    /// `CREATE TABLE` as the source has it (run on the target in its target schema).
    func createStatement(on source: MySQLConnection) throws(MySQLError) -> String {
        let result = try source.query("SHOW CREATE TABLE \(sourceName)")
        return result.rows.first?[1] ?? ""
    }

    /// The table's triggers as `CREATE TRIGGER` statements (SHOW CREATE TRIGGER), by name.
    func triggers(on source: MySQLConnection) throws(MySQLError) -> [(name: String, statement: String, sqlMode: String)] {
        let names = try source.query(
            """
            SELECT TRIGGER_NAME FROM information_schema.TRIGGERS
            WHERE EVENT_OBJECT_SCHEMA = '\(source.escape(schema))' AND EVENT_OBJECT_TABLE = '\(source.escape(name))'
            ORDER BY ACTION_ORDER
            """
        ).rows.compactMap { $0[0] ?? nil }
        var triggers: [(String, String, String)] = []
        for trigger in names {
            let result = try source.query("SHOW CREATE TRIGGER \(Self.quote(schema)).\(Self.quote(trigger))")
            guard let row = result.firstRow, let statement = row["SQL Original Statement"] ?? nil else { continue }
            triggers.append((trigger, statement, (row["sql_mode"] ?? nil) ?? ""))
        }
        return triggers
    }
}
