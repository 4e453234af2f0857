import Foundation
import MySQLClient
import TestSupport
import Testing

/// `--include`, `--exclude` and `--rewrite-schema` as Sources/Applier/TableFilter.swift documents
/// them: `schema` or `schema.table` patterns with `*` and `?`, case-sensitive; no include means
/// everything; an exclude wins; DDL filtered by its default schema; rows by their table.
@Suite("Apply with filters", .serialized)
struct ApplierFilterTests {
    static let source: [String] = [
        // Databases first, with no default schema (a CREATE DATABASE has none to be filtered by).
        "CREATE DATABASE app", "CREATE DATABASE app_tmp", "CREATE DATABASE shop", "CREATE DATABASE App",
        "USE app",
        "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(20))",
        "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, total DECIMAL(10,2))",
        "CREATE TABLE audit_log (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(40))",
        "USE app_tmp", "CREATE TABLE scratch (id INT PRIMARY KEY)",
        "USE shop", "CREATE TABLE items (id INT PRIMARY KEY, price DECIMAL(8,2))",
        "USE App", "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(20))",
    ] + (1...20).flatMap { index in
        [
            "BEGIN",
            "INSERT INTO app.users VALUES (\(index), 'user \(index)')",
            "INSERT INTO app.orders VALUES (\(index), \(index), \(index).5)",
            "INSERT INTO app.audit_log (what) VALUES ('order \(index)')",
            "INSERT INTO app_tmp.scratch VALUES (\(index))",
            "INSERT INTO shop.items VALUES (\(index), \(index).99)",
            "INSERT INTO App.users VALUES (\(index), 'upper \(index)')",
            "COMMIT",
        ]
    } + [
        "USE app",
        "ALTER TABLE audit_log ADD COLUMN at DATETIME NULL",
        "UPDATE users SET name = CONCAT(name, '!') WHERE id % 3 = 0",
        "DELETE FROM orders WHERE id > 15",
        "UPDATE shop.items SET price = price * 2 WHERE id < 5",
        "DELETE FROM app_tmp.scratch WHERE id < 10",
        "USE app_tmp", "DROP TABLE scratch",
    ]

    static func schemas(_ server: MariaDBSandbox) throws -> Set<String> {
        let connection = try server.connect()
        defer { connection.close() }
        return Set(try connection.query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA").rows.compactMap { $0[0] ?? nil })
    }

    static func count(_ server: MariaDBSandbox, _ table: String) throws -> String? {
        let connection = try server.connect()
        defer { connection.close() }
        return try connection.query("SELECT COUNT(*) FROM \(table)").scalar
    }

    @Test("include/exclude with * and ?, rewrite-schema, and no filter at all: exactly the selected tables, under their new schema")
    func filters() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute(Self.source)
        try pair.fillLog()
        let system: Set<String> = ["information_schema", "mysql", "performance_schema", "sys", "binlog_relay"]

        // 1. Everything of app* except the audit_* tables of app and the whole of app_tmp, into copy1.
        var run = try pair.apply(extra: [
            "--channel", "one", "--include", "app*", "--exclude", "app.audit_*", "--exclude", "app_tmp", "--rewrite-schema", "app=copy1",
        ])
        #expect(run.code == 0, "\(run.output)")
        var problems = try pair.differences([("app", "copy1")], tables: ["users", "orders"])
        #expect(problems.isEmpty, "\(problems.summary)")
        let target = try pair.target.connect()
        #expect(try SchemaComparison.tables(target, schema: "copy1") == ["audit_log", "orders", "users"], "DDL of app applied, into copy1")
        #expect(try Self.count(pair.target, "copy1.audit_log") == "0", "an excluded table's rows are not applied")
        // CREATE DATABASE app made copy1 (not a stray app); nothing else: no app_tmp, shop, App.
        #expect(try Self.schemas(pair.target).subtracting(system) == ["copy1"])

        // 2. app.us?rs (one character) and the whole of shop, each renamed.
        run = try pair.apply(extra: [
            "--channel", "two", "--include", "app.us?rs", "--include", "shop", "--rewrite-schema", "app=copy2",
            "--rewrite-schema", "shop=shop2",
        ])
        #expect(run.code == 0, "\(run.output)")
        problems = try pair.differences([("app", "copy2")], tables: ["users"]) + pair.differences([("shop", "shop2")])
        #expect(problems.isEmpty, "\(problems.summary)")
        #expect(try Self.count(pair.target, "copy2.orders") == "0" && Self.count(pair.target, "copy2.audit_log") == "0")
        #expect(try Self.schemas(pair.target).subtracting(system) == ["copy1", "copy2", "shop2"], "App.users does not match app.us?rs")

        // 3. No filter: every schema as it is, exactly.
        run = try pair.apply(extra: ["--channel", "all"])
        #expect(run.code == 0, "\(run.output)")
        problems = try pair.differences(["app", "app_tmp", "shop", "App"])
        #expect(problems.isEmpty, "\(problems.summary)")
        #expect(try SchemaComparison.tables(target, schema: "app_tmp").isEmpty, "the DROP TABLE applied too")
        target.close()

        // Each channel keeps its own checkpoint; the unfiltered one counts every source transaction.
        #expect(try CheckpointRow.read(pair.target, channel: "all")?.transactions == Replication.binlogTransactions(pair.source).count)
        #expect(try CheckpointRow.read(pair.target, channel: "one") != nil && CheckpointRow.read(pair.target, channel: "two") != nil)
    }
}
