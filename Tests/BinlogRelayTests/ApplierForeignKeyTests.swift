import Foundation
import MySQLClient
import TestSupport
import Testing

/// Foreign keys: InnoDB's cascades (ON DELETE/UPDATE CASCADE, SET NULL) are not in the binlog, so
/// the target must check and cascade them itself, as a MySQL replica does; a source session that
/// turned the checks off must not have its rows refused on the target.
@Suite("Apply with foreign keys", .serialized)
struct ApplierForeignKeyTests {
    static let schema = [
        "CREATE DATABASE fk",
        "CREATE TABLE fk.parent (id INT PRIMARY KEY, v INT)",
        "CREATE TABLE fk.child (id INT PRIMARY KEY, parent_id INT, note VARCHAR(20), FOREIGN KEY (parent_id) REFERENCES fk.parent (id) ON DELETE CASCADE ON UPDATE CASCADE)",
        "CREATE TABLE fk.grandchild (id INT PRIMARY KEY, child_id INT NULL, FOREIGN KEY (child_id) REFERENCES fk.child (id) ON DELETE SET NULL)",
        "CREATE TABLE fk.other (id INT PRIMARY KEY, n INT)",
    ]

    /// A parent, two children of the previous transaction's parent (another group may hold it:
    /// the write sets do not say so) and a grandchild; now and then a parent deleted or renumbered
    /// (the cascades reach the children and grandchildren), and a table without foreign keys.
    static func transaction(_ index: Int) -> [String] {
        var statements = [
            "BEGIN",
            "INSERT INTO fk.parent VALUES (\(index), \(index))",
            "INSERT INTO fk.child VALUES (\(index * 10), \(max(0, index - 1)), 'a'), (\(index * 10 + 1), \(max(0, index - 1)), 'b')",
            "INSERT INTO fk.grandchild VALUES (\(index), \(index * 10))",
            "INSERT INTO fk.other VALUES (\(index), \(index)) ON DUPLICATE KEY UPDATE n = n + 1",
            "UPDATE fk.other SET n = n + 1 WHERE id = \(index / 2)",
        ]
        if index % 5 == 4 { statements.append("DELETE FROM fk.parent WHERE id = \(index - 3)") }
        if index % 7 == 6 { statements.append("UPDATE fk.parent SET id = id + 100000 WHERE id = \(index - 2)") }
        statements.append("COMMIT")
        return statements
    }

    @Test("cascading deletes and updates, SET NULL, and rows written without foreign key checks: the target equals the source", arguments: [1, 4])
    func cascades(workers: Int) throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute(Self.schema)
        let relay = try pair.relay(targetURL: pair.targetURL(), extra: ["--workers", String(workers)])
        defer { relay.killIfRunning() }
        let writer = PacedWriter(server: pair.source, pause: 0, limit: 400, transaction: Self.transaction)
        writer.start()
        writer.join()
        #expect(writer.error == nil, "\(String(describing: writer.error))")
        // An orphan the source allowed: its session turned the checks off.
        try pair.source.execute(["SET SESSION foreign_key_checks = 0", "INSERT INTO fk.child VALUES (-1, -1, 'orphan')"])

        #expect(try Replication.waitUntilApplied(source: pair.source, target: pair.target, timeout: 120, relay: relay), "\(relay.output)")
        let problems = try pair.differences(["fk"])
        #expect(problems.isEmpty, "\(problems.summary)")
        let source = try pair.source.connect()
        defer { source.close() }
        #expect(try source.query("SELECT COUNT(*) FROM fk.grandchild WHERE child_id IS NULL").scalar != "0", "the workload set some to NULL")
        relay.signal(SIGTERM)
        #expect(relay.wait(seconds: 30) == 0, "\(relay.output)")
    }
}
