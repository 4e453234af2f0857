import Foundation
import MySQLClient
import TestSupport
import Testing

/// Groups sent behind one another: a group that commits itself (its INSERTs fail with an error,
/// its UPDATEs and DELETEs are checked by the target) is followed on the connection by the next
/// before its answer has come (Applier.pipelines). The next begins with a check that the one
/// before reached its end: when that one stopped on the target, nothing of the next may run, not
/// even its BEGIN, which would commit what the failed group left open.
@Suite("Apply: groups sent behind one another", .serialized)
struct ApplierPipelineTests {
    static func scalar(_ server: MariaDBSandbox, _ sql: String) throws -> String? {
        let connection = try server.connect()
        defer { connection.close() }
        return try connection.query(sql).scalar
    }

    /// Source transactions inserting rows `ids` of `pipe.t`, one each.
    static func inserts(_ ids: ClosedRange<Int>) -> [String] { ids.map { "INSERT INTO pipe.t VALUES (\($0), 'new', 0)" } }

    static func prepare(_ pair: ApplyPair) throws {
        try pair.source.execute([
            "CREATE DATABASE pipe", "CREATE TABLE pipe.t (id INT PRIMARY KEY, v VARCHAR(20), n INT)",
            "INSERT INTO pipe.t SELECT seq, 'old', 0 FROM pipe.seq_1_to_100",
            "CREATE TABLE pipe.u (id INT PRIMARY KEY, v VARCHAR(20), n INT)",
            "INSERT INTO pipe.u SELECT seq, 'old', 0 FROM pipe.seq_1_to_100",
        ])
        try pair.fillLog()
        let first = try pair.apply()
        #expect(first.code == 0, "\(first.output)")
    }

    @Test("beside the target: groups go behind one another; one that stops on a duplicate key or a missing row takes none after it along, and the checkpoint is the last group's that ran whole")
    func stopTakesNothingAlong() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try Self.prepare(pair)
        let oneEach = ["--batch-transactions", "1"]

        // A run of INSERT groups, all sent behind one another.
        try pair.source.execute(Self.inserts(101...110))
        try pair.fillLog()
        let clean = try pair.apply(extra: oneEach)
        #expect(clean.code == 0, "\(clean.output)")
        #expect(ApplyPair.summaryCounter("pipelined", in: clean.output) >= 5, "\(clean.output)")
        #expect(try pair.differences(["pipe"]).isEmpty)

        // The fifth group meets a row the target holds already: it stops there; the sixth, sent
        // behind it, must not run (without the check its BEGIN would commit the fifth's open
        // transaction and it would commit itself: row 206 on the target, the checkpoint past 205).
        try pair.target.execute(["INSERT INTO pipe.t VALUES (205, 'planted', 0)"])
        try pair.source.execute(Self.inserts(201...204))
        let beforeDuplicate = try Replication.gtidBinlogPos(pair.source)
        try pair.source.execute(Self.inserts(205...212))
        try pair.fillLog()
        let duplicate = try pair.apply(extra: oneEach)
        #expect(duplicate.code != 0 && duplicate.code != nil, "\(duplicate.output)")
        #expect(duplicate.output.contains("Duplicate entry '205'"), "\(duplicate.output)")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM pipe.t WHERE id BETWEEN 201 AND 204") == "4", "the groups before it ran")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM pipe.t WHERE id > 205") == "0", "nothing after the failing group")
        #expect(try CheckpointRow.read(pair.target)?.gtidSet == beforeDuplicate, "the checkpoint is the last whole group's")
        try pair.target.execute(["DELETE FROM pipe.t WHERE id = 205"])
        let fixed = try pair.apply(extra: oneEach)
        #expect(fixed.code == 0, "\(fixed.output)")
        #expect(try pair.differences(["pipe"]).isEmpty)

        // The same with an UPDATE whose row is missing (checked by the target: its group commits
        // itself, so the next goes behind it).
        try pair.target.execute(["DELETE FROM pipe.t WHERE id = 7"])
        try pair.source.execute(Self.inserts(301...303))
        let beforeMissing = try Replication.gtidBinlogPos(pair.source)
        try pair.source.execute(["UPDATE pipe.t SET n = n + 1 WHERE id = 7"] + Self.inserts(304...310))
        try pair.fillLog()
        let missing = try pair.apply(extra: oneEach)
        #expect(missing.code != 0 && missing.code != nil, "\(missing.output)")
        #expect(missing.output.contains("1 of the 1 rows"), "\(missing.output)")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM pipe.t WHERE id BETWEEN 301 AND 303") == "3")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM pipe.t WHERE id >= 304") == "0", "nothing after the failing group")
        #expect(try CheckpointRow.read(pair.target)?.gtidSet == beforeMissing)
        try pair.target.execute(["INSERT INTO pipe.t VALUES (7, 'old', 0)"])
        let again = try pair.apply(extra: oneEach)
        #expect(again.code == 0, "\(again.output)")
        #expect(try pair.differences(["pipe"]).isEmpty)
        #expect(try CheckpointRow.read(pair.target)?.gtidSet == (try Replication.gtidBinlogPos(pair.source)))
    }

    @Test("across a slow link (20 ms through a delaying proxy): groups of UPDATEs checked by the target go behind one another; a missing row stops its group and nothing after it runs")
    func slowLink() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try Self.prepare(pair)
        let (proxy, url) = try pair.delayedTarget(rttMs: 20)
        defer { proxy.killIfRunning() }
        // Transactions of 120 one-row UPDATEs, of two tables in turn (so that each stays a
        // statement of its own on the target), each checked by the target in its compound block.
        func round(_ value: Int) -> [String] {
            ["BEGIN"]
                + (1...60).flatMap { ["UPDATE pipe.t SET n = \(value) WHERE id = \($0)", "UPDATE pipe.u SET n = \(value) WHERE id = \($0)"] }
                + ["COMMIT"]
        }
        try pair.source.execute((1...6).flatMap(round))
        try pair.fillLog()
        let clean = try pair.apply(targetURL: url, extra: ["--batch-transactions", "1"])
        #expect(clean.code == 0, "\(clean.output)")
        #expect(ApplyPair.summaryCounter("pipelined", in: clean.output) >= 3, "\(clean.output)")
        #expect(try pair.differences(["pipe"]).isEmpty)

        try pair.target.execute(["DELETE FROM pipe.t WHERE id = 80"])
        try pair.source.execute(round(7))
        let beforeMissing = try Replication.gtidBinlogPos(pair.source)
        try pair.source.execute(["UPDATE pipe.t SET v = 'gone' WHERE id = 80"] + round(8) + round(9))
        try pair.fillLog()
        let missing = try pair.apply(targetURL: url, extra: ["--batch-transactions", "1"])
        #expect(missing.code != 0 && missing.code != nil, "\(missing.output)")
        #expect(missing.output.contains("1 of the 1 rows"), "\(missing.output)")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM pipe.u WHERE n >= 8") == "0", "nothing after the failing group")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM pipe.u WHERE n = 7") == "60", "the group before it ran")
        #expect(try CheckpointRow.read(pair.target)?.gtidSet == beforeMissing)
        try pair.target.execute(["INSERT INTO pipe.t VALUES (80, 'old', 0)"])
        let again = try pair.apply(targetURL: url, extra: ["--batch-transactions", "1"])
        #expect(again.code == 0, "\(again.output)")
        #expect(try pair.differences(["pipe"]).isEmpty)
    }
}
