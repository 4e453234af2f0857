import Applier
import MySQLClient

/// A column as `verify` reads it from `information_schema.COLUMNS`.
struct VerifyColumn: Equatable {
    var name: String
    /// `DATA_TYPE`, lower-cased: `int`, `varchar`, `double`, …
    var dataType: String
    var charset: String?
    var collation: String?
    var nullable: Bool
}

/// A table to compare: its columns, and the key its chunks are walked by (empty: compared whole).
struct VerifyTable {
    var schema: String
    var name: String
    var columns: [VerifyColumn]
    /// The primary key, else a unique key of NOT NULL columns; empty when there is none or a column
    /// of it cannot be written back as an exact literal (FLOAT, ENUM, a prefix, …).
    var key: [VerifyColumn]
    /// The index the key comes from, for `FORCE INDEX`.
    var keyIndex: String?

    var qualifiedName: String { "\(schema).\(name)" }
}

/// Reads the tables of one server: every base table outside the system schemas and the relay's
/// own, with columns and keys, in three queries.
enum VerifySchema {
    static let systemSchemas: Set<String> = ["mysql", "information_schema", "performance_schema", "sys"]

    /// Key column types whose values `verify` can write back as literals that compare exactly as
    /// the index orders them.
    static func chunkable(_ column: VerifyColumn) -> Bool {
        switch column.dataType {
        case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "year",
            "date", "time", "datetime", "timestamp", "binary", "varbinary":
            true
        case "char", "varchar":
            column.charset != nil && column.collation != nil
        default:
            false
        }
    }

    /// Tables of `schemas` (nil: every schema but the system ones and `excluded`), keyed by
    /// `schema.table`. MariaDB's sequences are among them: each is a table of one state row
    /// (compared whole), which the relay keeps equal to the source's (docs/seed.md).
    static func tables(_ connection: MySQLConnection, schemas: [String]?, excluded: Set<String>) throws(MySQLError) -> [String: VerifyTable] {
        let skip = systemSchemas.union(excluded)
        let schemaCondition: String
        if let schemas {
            if schemas.isEmpty { return [:] }
            schemaCondition = "TABLE_SCHEMA IN (\(schemas.map { "'\(connection.escape($0))'" }.joined(separator: ",")))"
        } else {
            schemaCondition = "TABLE_SCHEMA NOT IN (\(skip.sorted().map { "'\(connection.escape($0))'" }.joined(separator: ",")))"
        }
        var tables: [String: VerifyTable] = [:]
        let listed = try connection.query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE \(schemaCondition) AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'SEQUENCE')"
        )
        for row in listed.rows {
            guard let schema = row[0] ?? nil, let name = row[1] ?? nil, !skip.contains(schema) else { continue }
            tables["\(schema).\(name)"] = VerifyTable(schema: schema, name: name, columns: [], key: [], keyIndex: nil)
        }
        if tables.isEmpty { return tables }

        // Columns; a system-versioned table's ROW START/ROW END hold each server's own times.
        let columns = try connection.query(
            """
            SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, LOWER(DATA_TYPE), CHARACTER_SET_NAME, COLLATION_NAME, IS_NULLABLE, EXTRA
            FROM information_schema.COLUMNS WHERE \(schemaCondition) ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION
            """)
        for row in columns.rows {
            guard let schema = row[0] ?? nil, let name = row[1] ?? nil, let column = row[2] ?? nil else { continue }
            let extra = (row[7] ?? nil)?.uppercased() ?? ""
            if extra.contains("ROW START") || extra.contains("ROW END") { continue }
            tables["\(schema).\(name)"]?.columns.append(
                VerifyColumn(name: column, dataType: row[3] ?? "", charset: row[4] ?? nil, collation: row[5] ?? nil, nullable: row[6] == "YES"))
        }

        // Unique keys: the primary key first, then the others by name.
        let keys = try connection.query(
            """
            SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS
            WHERE \(schemaCondition) AND NON_UNIQUE = 0
            ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX
            """)
        var candidates: [String: [(index: String, columns: [String], prefix: Bool)]] = [:]
        for row in keys.rows {
            guard let schema = row[0] ?? nil, let name = row[1] ?? nil, let index = row[2] ?? nil, let column = row[3] ?? nil else { continue }
            let id = "\(schema).\(name)"
            let prefix = (row[4] ?? nil) != nil
            if var last = candidates[id]?.last, last.index == index {
                last.columns.append(column)
                last.prefix = last.prefix || prefix
                candidates[id]![candidates[id]!.count - 1] = last
            } else {
                candidates[id, default: []].append((index, [column], prefix))
            }
        }
        for (id, indexes) in candidates {
            guard var table = tables[id] else { continue }
            for index in indexes where !index.prefix {
                let columns = index.columns.compactMap { name in table.columns.first { $0.name == name } }
                guard columns.count == index.columns.count, columns.allSatisfy({ !$0.nullable }) else { continue }
                if columns.allSatisfy(chunkable) {
                    table.key = columns
                    table.keyIndex = index.index
                }
                break  // the best key decides: if it cannot be chunked, the table is compared whole
            }
            tables[id] = table
        }
        return tables
    }
}

/// Which source tables verify compares, and under which names on the target: the applier's
/// filter and schema renames.
struct VerifySelection {
    var filter: TableFilter
    var relaySchema: String

    /// The source schema a target schema holds (the inverse of the renames), or nil when the
    /// target schema is what some source schema was renamed away from.
    func sourceSchema(ofTarget schema: String) -> String? {
        if let from = filter.schemaRenames.first(where: { $0.value == schema })?.key { return from }
        return filter.schemaRenames[schema] == nil ? schema : nil
    }
}
