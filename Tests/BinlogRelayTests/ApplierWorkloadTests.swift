import Foundation
import MySQLClient
import TestSupport
import Testing

/// `binlog-relay run` applying a live sysbench write workload while DDL changes the tables under it.
@Suite("Apply a live workload with DDL", .serialized)
struct ApplierWorkloadTests {
    static let sysbench = "/usr/bin/sysbench"

    static func sysbenchArguments(_ server: MariaDBSandbox, _ command: String, _ extra: [String] = []) -> [String] {
        [
            "oltp_write_only", "--db-driver=mysql", "--mysql-host=127.0.0.1", "--mysql-port=\(server.port)",
            "--mysql-user=root", "--mysql-db=sbtest", "--tables=4", "--table-size=2000",
        ] + extra + [command]
    }

    /// DDL run on the source while sysbench writes: columns added, changed and dropped under the
    /// writes, tables created, renamed and dropped, and a 1 MB transaction (larger than
    /// --batch-bytes, so it reaches the target in pieces of one target transaction).
    static let ddl: [[String]] = [
        ["ALTER TABLE sbtest.sbtest1 ADD COLUMN extra VARCHAR(32) NOT NULL DEFAULT 'added'"],
        ["CREATE TABLE sbtest.side (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(40), amount DECIMAL(10,2))",
         "INSERT INTO sbtest.side (note, amount) SELECT CONCAT('row ', seq), seq / 7 FROM seq_1_to_50"],
        ["ALTER TABLE sbtest.sbtest2 MODIFY COLUMN pad VARCHAR(100) NOT NULL"],
        ["RENAME TABLE sbtest.side TO sbtest.side_renamed",
         "INSERT INTO sbtest.side_renamed (note, amount) VALUES ('after rename', 1.5)",
         "UPDATE sbtest.side_renamed SET amount = amount * 2 WHERE id % 3 = 0"],
        ["CREATE TABLE sbtest.big (id INT PRIMARY KEY, payload VARCHAR(200) NOT NULL)",
         "INSERT INTO sbtest.big SELECT seq, REPEAT(CHAR(65 + seq % 26), 200) FROM seq_1_to_5000"],
        ["ALTER TABLE sbtest.sbtest1 DROP COLUMN extra",
         "ALTER TABLE sbtest.side_renamed ADD COLUMN flag TINYINT NOT NULL DEFAULT 1 FIRST",
         "INSERT INTO sbtest.side_renamed (flag, note, amount) VALUES (7, 'flag first', 2.25)"],
        ["CREATE TABLE sbtest.scratch (id INT PRIMARY KEY)", "INSERT INTO sbtest.scratch VALUES (1), (2)",
         "DROP TABLE sbtest.scratch"],
        ["ALTER TABLE sbtest.sbtest3 ADD COLUMN stamp DATETIME(6) NULL, ADD INDEX c_prefix (c(8))",
         "UPDATE sbtest.big SET payload = 'changed' WHERE id <= 2500",
         "DELETE FROM sbtest.big WHERE id > 4000"],
    ]

    @Test(
        "sysbench oltp_write_only with ADD/DROP/MODIFY COLUMN, RENAME, CREATE/DROP TABLE mid-stream, applied live: every table equal",
        arguments: [1, 4])
    func sysbenchWithDDL(workers: Int) throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute(["CREATE DATABASE sbtest"])
        let prepare = try runProgram(Self.sysbench, Self.sysbenchArguments(pair.source, "prepare"))
        try #require(prepare.status == 0, "sysbench prepare: \(prepare.outputText) \(prepare.errorText)")

        let relay = try pair.relay(targetURL: pair.targetURL(), extra: ["--batch-bytes", "65536", "--workers", String(workers)])
        defer { relay.killIfRunning() }
        let load = try ChildProcess(
            Self.sysbench, Self.sysbenchArguments(pair.source, "run", ["--threads=4", "--time=6", "--rate=500", "--report-interval=0"]),
            output: pair.work.appendingPathComponent("sysbench.out").path)
        defer { load.killIfRunning() }
        let admin = try pair.source.connect()
        try admin.execute("USE sbtest")
        for step in Self.ddl {
            Thread.sleep(forTimeInterval: 0.5)  // spread the DDL over the run (pacing, not a check)
            for statement in step { try admin.execute(statement) }
        }
        admin.close()
        #expect(load.wait(seconds: 60) == 0, "sysbench: \(load.output)")
        #expect(load.output.contains("transactions:"), "\(load.output)")

        #expect(try Replication.waitUntilApplied(source: pair.source, target: pair.target, timeout: 120, relay: relay), "\(relay.output)")
        let problems = try pair.differences(["sbtest"])
        #expect(problems.isEmpty, "\(problems.summary)")
        let tables = try SchemaComparison.tables(try pair.target.connect(), schema: "sbtest")
        #expect(tables == ["big", "sbtest1", "sbtest2", "sbtest3", "sbtest4", "side_renamed"])
        let checkpoint = try #require(try CheckpointRow.read(pair.target))
        #expect(checkpoint.transactions == (try Replication.binlogTransactions(pair.source)).count)

        relay.signal(SIGTERM)
        #expect(relay.wait(seconds: 30) == 0, "SIGTERM: a clean exit: \(relay.output)")
    }
}
