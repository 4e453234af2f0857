import Foundation
import MySQLClient
import TestSupport
import Testing

/// Bulk INSERTs (BulkRows, Wire): the rows of large insert events go to a MariaDB target as one
/// prepared INSERT executed for all of them, a command of its own between the group's queries.
/// The target runs each command whatever happened to the one before it, so a failure anywhere in
/// a group must leave nothing of it committed: not the rows of a bulk behind a failed statement,
/// not the statements behind a failed bulk, not a group sent behind it.
@Suite("Apply: bulk INSERTs", .serialized)
struct ApplierBulkInsertTests {
    /// One statement inserting rows `ids` of `bk.t` with 2 KB BLOBs: events of several KB, each
    /// applied as a bulk INSERT.
    static func insert(_ ids: ClosedRange<Int>) -> String {
        "INSERT INTO bk.t SELECT seq, REPEAT(CHAR(seq % 256 USING binary), 2000), 0 FROM bk.seq_\(ids.lowerBound)_to_\(ids.upperBound)"
    }

    static func prepare(_ pair: ApplyPair) throws {
        try pair.source.execute([
            "CREATE DATABASE bk", "CREATE TABLE bk.t (id INT PRIMARY KEY, b BLOB, n INT)",
            "INSERT INTO bk.t SELECT seq, 'small', 0 FROM bk.seq_1_to_100",
        ])
        try pair.fillLog()
        let first = try pair.apply()
        #expect(first.code == 0, "\(first.output)")
    }

    static func scalar(_ server: MariaDBSandbox, _ sql: String) throws -> String? {
        try ApplierPipelineTests.scalar(server, sql)
    }

    @Test("a bulk INSERT the target refuses stops its group: nothing of the group or of the groups sent behind it is committed", arguments: [1, 4])
    func refusedBulk(workers: Int) throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try Self.prepare(pair)
        let extra = ["--batch-transactions", "1", "--workers", String(workers)]
        let executedBefore = try ApplierEveryTypeTests.bulkExecutions(pair.target)

        try pair.target.execute(["INSERT INTO bk.t VALUES (2050, 'planted', 0)"])
        try pair.source.execute([Self.insert(2001...2040)])
        let beforeRefused = try Replication.gtidBinlogPos(pair.source)
        // The refused group changes a row before its bulk, then a group goes behind it.
        try pair.source.execute(["BEGIN", "UPDATE bk.t SET n = 1 WHERE id = 1", Self.insert(2041...2060), "COMMIT"])
        try pair.source.execute([Self.insert(2061...2080)])
        try pair.fillLog()
        let refused = try pair.apply(extra: extra)
        #expect(refused.code != 0 && refused.code != nil, "\(refused.output)")
        for text in ["Duplicate entry '2050'", "INSERT", "`bk`.`t`"] {
            #expect(refused.output.contains(text), "\(text): \(refused.output)")
        }
        #expect(try ApplierEveryTypeTests.bulkExecutions(pair.target) > executedBefore, "the rows went as bulk INSERTs")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM bk.t WHERE id BETWEEN 2001 AND 2040") == "40", "the group before it")
        #expect(try Self.scalar(pair.target, "SELECT n FROM bk.t WHERE id = 1") == "0", "the refused group's UPDATE is not committed")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM bk.t WHERE id > 2040 AND id <> 2050") == "0", "nothing of it or after it")
        #expect(try CheckpointRow.read(pair.target)?.gtidSet == beforeRefused, "the checkpoint is the last whole group's")

        try pair.target.execute(["DELETE FROM bk.t WHERE id = 2050"])
        let fixed = try pair.apply(extra: extra)
        #expect(fixed.code == 0, "\(fixed.output)")
        #expect(try pair.differences(["bk"]).isEmpty)
        #expect(try CheckpointRow.read(pair.target)?.gtidSet == (try Replication.gtidBinlogPos(pair.source)))
    }

    @Test("a statement before a bulk INSERT fails: the bulk's rows, which the target inserts anyway, are not committed", arguments: [1, 4])
    func failureBeforeBulk(workers: Int) throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try Self.prepare(pair)
        let extra = ["--batch-transactions", "1", "--workers", String(workers)]

        try pair.target.execute(["DELETE FROM bk.t WHERE id = 7"])
        try pair.source.execute([Self.insert(3001...3010)])
        let beforeFailing = try Replication.gtidBinlogPos(pair.source)
        // Its UPDATE finds no row on the target (the check in its compound block stops the query);
        // the bulk after it runs on the target all the same; the statements after the bulk, the
        // checkpoint and COMMIT among them, must not.
        try pair.source.execute(["BEGIN", "UPDATE bk.t SET n = 5 WHERE id = 7", Self.insert(3011...3030), "COMMIT"])
        try pair.source.execute([Self.insert(3031...3040)])
        try pair.fillLog()
        let failed = try pair.apply(extra: extra)
        #expect(failed.code != 0 && failed.code != nil, "\(failed.output)")
        #expect(failed.output.contains("1 of the 1 rows"), "\(failed.output)")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM bk.t WHERE id BETWEEN 3001 AND 3010") == "10", "the group before it")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM bk.t WHERE id > 3010") == "0", "nothing of it or after it")
        #expect(try CheckpointRow.read(pair.target)?.gtidSet == beforeFailing)

        try pair.target.execute(["INSERT INTO bk.t VALUES (7, 'small', 0)"])
        let fixed = try pair.apply(extra: extra)
        #expect(fixed.code == 0, "\(fixed.output)")
        #expect(try pair.differences(["bk"]).isEmpty)
    }

    @Test("a statement that commits by itself fails ahead of a group with a bulk INSERT in the same send: the bulk's rows, run outside any transaction, are not committed")
    func failedStatementBeforeBulk() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute(["CREATE DATABASE bk2"])
        try Self.prepare(pair)
        try pair.target.execute(["CREATE TABLE bk2.x (id INT PRIMARY KEY)"])
        // The first CREATE TABLE lets the applier learn the target's schemas; the second, which
        // the target refuses (its table is there already), is sent with the groups after it
        // (a predicted CREATE TABLE, Applier+HeldStatements). It fails after its implicit COMMIT:
        // no transaction is open when the bulk behind it runs, and with autocommit on the bulk's
        // rows would be committed there and then.
        try pair.source.execute(["USE bk", "CREATE TABLE bk.y (id INT PRIMARY KEY)"])
        let beforeFailing = try Replication.gtidBinlogPos(pair.source)
        try pair.source.execute(["USE bk", "CREATE TABLE bk2.x (id INT PRIMARY KEY)", Self.insert(4001...4020), Self.insert(4021...4040)])
        try pair.fillLog()
        let failed = try pair.apply()
        #expect(failed.code != 0 && failed.code != nil, "\(failed.output)")
        #expect(failed.output.contains("already exists"), "\(failed.output)")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM bk.t WHERE id > 4000") == "0", "nothing after the statement")
        #expect(try CheckpointRow.read(pair.target)?.gtidSet == beforeFailing)

        try pair.target.execute(["DROP TABLE bk2.x"])
        let fixed = try pair.apply()
        #expect(fixed.code == 0, "\(fixed.output)")
        #expect(try pair.differences(["bk", "bk2"]).isEmpty)
    }

    @Test("over a compressed connection (compress=true, with TLS): bulk INSERTs travel in the compressed protocol and the copy is exact")
    func compressed() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try Self.prepare(pair)
        let url = pair.targetURL(query: "ssl-ca=\(pair.certificates.ca)&compress=true")
        let executedBefore = try ApplierEveryTypeTests.bulkExecutions(pair.target)
        try pair.source.execute([Self.insert(5001...5100), "BEGIN", "UPDATE bk.t SET n = 2 WHERE id <= 50", Self.insert(5101...5200), "COMMIT"])
        try pair.fillLog()
        let applied = try pair.apply(targetURL: url)
        #expect(applied.code == 0, "\(applied.output)")
        #expect(try ApplierEveryTypeTests.bulkExecutions(pair.target) > executedBefore, "the rows went as bulk INSERTs")
        #expect(try pair.differences(["bk"]).isEmpty)
    }

    @Test("a target that holds no prepared statements (max_prepared_stmt_count=0): the applier goes on with INSERTs as text, exactly")
    func noPreparedStatements() throws {
        let pair = try ApplyPair(targetOptions: ["--max-prepared-stmt-count=0"])
        defer { pair.stop() }
        try Self.prepare(pair)
        try pair.source.execute([Self.insert(6001...6050), "BEGIN", "UPDATE bk.t SET n = 3 WHERE id <= 10", Self.insert(6051...6100), "COMMIT"])
        try pair.fillLog()
        let applied = try pair.apply()
        #expect(applied.code == 0, "\(applied.output)")
        #expect(applied.output.contains("with INSERTs as text"), "\(applied.output)")
        #expect(try pair.differences(["bk"]).isEmpty)
        #expect(try CheckpointRow.read(pair.target)?.gtidSet == (try Replication.gtidBinlogPos(pair.source)))
    }
}
