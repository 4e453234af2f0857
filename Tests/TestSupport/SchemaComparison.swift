import Foundation
import MySQLClient

/// Compares tables of two servers: `CHECKSUM TABLE`, and every row, ordered by all its columns,
/// in a text that shows any difference in the stored value: integers, DECIMAL and temporal types
/// as the server prints them (exact), FLOAT/DOUBLE through `CAST(… AS DOUBLE)` (the shortest text
/// that reads back as the same double, so one ulp shows), everything else (strings, BLOBs, BIT,
/// ENUM/SET, JSON, spatial) as `HEX()` of its bytes, so a trailing byte or a charset difference shows.
public enum SchemaComparison {
    /// One side: a server and a schema on it.
    public struct Side {
        public var connection: MySQLConnection
        public var schema: String

        public init(_ connection: MySQLConnection, _ schema: String) {
            self.connection = connection
            self.schema = schema
        }
    }

    /// Base tables of a schema, sorted.
    public static func tables(_ connection: MySQLConnection, schema: String) throws -> [String] {
        try connection.query(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '\(connection.escape(schema))' AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
        ).rows.compactMap { $0[0] ?? nil }
    }

    /// `CHECKSUM TABLE`'s figure.
    public static func checksum(_ connection: MySQLConnection, schema: String, table: String) throws -> String? {
        try connection.query("CHECKSUM TABLE \(quote(schema)).\(quote(table))").rows.first?.last ?? nil
    }

    /// Every row of a table, as described above, in order.
    public static func rows(_ connection: MySQLConnection, schema: String, table: String) throws -> [[String?]] {
        let columns = try connection.query(
            """
            SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
            WHERE TABLE_SCHEMA = '\(connection.escape(schema))' AND TABLE_NAME = '\(connection.escape(table))' ORDER BY ORDINAL_POSITION
            """
        ).rows
        guard !columns.isEmpty else { return [] }
        let expressions = columns.map { row -> String in
            let name = quote(row[0] ?? "")
            switch (row[1] ?? "").lowercased() {
            case "tinyint", "smallint", "mediumint", "int", "bigint", "decimal", "year", "date", "time", "datetime", "timestamp":
                return name
            case "float", "double", "real":
                return "CAST(\(name) AS DOUBLE)"
            default:
                return "HEX(\(name))"
            }
        }
        let order = (1...expressions.count).map(String.init).joined(separator: ",")
        return try connection.query(
            "SELECT \(expressions.joined(separator: ",")) FROM \(quote(schema)).\(quote(table)) ORDER BY \(order)"
        ).rows
    }

    /// What differs between the two schemas (table lists, checksums, rows); empty when they are equal.
    /// `tables`: only these (default: every table of either side).
    public static func differences(_ source: Side, _ target: Side, tables only: [String]? = nil) throws -> [String] {
        try prepare(source.connection)
        try prepare(target.connection)
        var problems: [String] = []
        let sourceTables = try tables(source.connection, schema: source.schema)
        let targetTables = try tables(target.connection, schema: target.schema)
        if only == nil && sourceTables != targetTables {
            problems.append(
                "tables differ: source \(source.schema) has \(sourceTables), target \(target.schema) has \(targetTables)")
        }
        for table in only ?? sourceTables {
            let label = "\(source.schema).\(table)"
            guard targetTables.contains(table) else {
                problems.append("\(label): not on the target")
                continue
            }
            let sourceSum = try checksum(source.connection, schema: source.schema, table: table)
            let targetSum = try checksum(target.connection, schema: target.schema, table: table)
            if sourceSum != targetSum {
                problems.append("\(label): CHECKSUM TABLE \(sourceSum ?? "NULL") on the source, \(targetSum ?? "NULL") on the target")
            }
            problems += rowDifferences(
                label,
                try rows(source.connection, schema: source.schema, table: table),
                try rows(target.connection, schema: target.schema, table: table))
        }
        return problems
    }

    /// The row lists' differences, at most a few, in words.
    public static func rowDifferences(_ label: String, _ source: [[String?]], _ target: [[String?]]) -> [String] {
        guard source != target else { return [] }
        var problems = ["\(label): \(source.count) rows on the source, \(target.count) on the target"]
        func text(_ row: [String?]) -> String { "(" + row.map { $0.map { String($0.prefix(80)) } ?? "NULL" }.joined(separator: ", ") + ")" }
        for (index, (a, b)) in zip(source, target).enumerated() where a != b {
            problems.append("\(label): row \(index) is \(text(a)) on the source, \(text(b)) on the target")
            if problems.count > 4 { break }
        }
        if source.count != target.count {
            let longer = source.count > target.count ? source : target
            problems.append("\(label): first extra row \(text(longer[min(source.count, target.count)]))")
        }
        return problems
    }

    static func prepare(_ connection: MySQLConnection) throws {
        try connection.execute("SET NAMES utf8mb4")
        try connection.execute("SET SESSION time_zone = '+00:00'")
    }

    static func quote(_ name: String) -> String { "`" + name.replacingOccurrences(of: "`", with: "``") + "`" }
}
