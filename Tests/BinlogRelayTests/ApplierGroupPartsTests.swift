import Foundation
import MySQLClient
import TestSupport
import Testing

/// Parallel apply beside the target: a group whose rows partly depend on groups still running
/// goes to its worker in two parts (ApplyBatch.split), the rows no running group wrote first,
/// side by side with the groups before it; the others once those have committed.
@Suite("Parallel apply of a group in two parts", .serialized)
struct ApplierGroupPartsTests {
    /// Rounds as in every-type's benchmark: each round inserts new rows into every table (keys
    /// nobody wrote), moves the rows the round before inserted (keys the group before wrote) and
    /// deletes some the round before moved. Every group depends on the one before it.
    /// `prelude`: SQL run on the source after the tables are made.
    static func workload(rounds: Int, prelude: String = "") -> String {
        var sql = """
            CREATE DATABASE parts;
            USE parts;

            """
        for table in 1...4 {
            sql += "CREATE TABLE t\(table) (id INT PRIMARY KEY, v VARCHAR(300), n INT, UNIQUE KEY n (n));\n"
        }
        sql += prelude + "\n"
        for round in 1...rounds {
            let start = round * 2000
            for table in 1...4 {
                sql += """
                    INSERT INTO t\(table) SELECT \(start) + seq, REPEAT(CHAR(64 + \(table)), 300), \(start) + seq FROM seq_0_to_99;
                    UPDATE t\(table) SET id = id + 1000, n = n + 1000, v = 'moved' WHERE id >= \(start - 2000) AND id < \(start - 1000);
                    DELETE FROM t\(table) WHERE id >= \(start - 3000) AND id < \(start - 2900) AND id % 2 = 0;

                    """
            }
        }
        return sql
    }

    static let options = ["--workers", "4", "--batch-bytes", "200000"]
    /// Which groups go in parts depends on which have committed when the next is gathered: a
    /// debug build of the relay, slower than the target, finds every one committed. This makes
    /// the applier count every key an earlier group wrote as still being written (see Applier).
    static let split = ["BINLOG_RELAY_TEST_SPLIT_GROUPS": "1"]

    @Test("a chain of groups, each changing the rows the one before inserted: groups run in parts, the copy ends exact")
    func chain() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(Self.workload(rounds: 12))
        try pair.fillLog()
        let result = try pair.apply(extra: Self.options, environment: Self.split)
        #expect(result.code == 0, "\(result.output)")
        #expect(ApplyPair.summaryCounter("groups_in_parts", in: result.output) > 5, "\(result.output)")
        // No part ran before what it depends on: no row conflict, no retry one group at a time.
        #expect(!result.output.contains("one group at a time"), "\(result.output)")
        let problems = try pair.differences(["parts"])
        #expect(problems.isEmpty, "\(problems.summary)")
        let target = try pair.target.connect()
        defer { target.close() }
        // Rounds 2-12 moved 100 rows of each table; rounds 3-12 deleted half of those of the
        // round two before (rounds 1-10's): 1,100 - 500 moved rows left.
        #expect(try target.query("SELECT COUNT(*) FROM parts.t3 WHERE v = 'moved'").scalar == "600")

        // One connection: nothing in parts.
        try pair.target.execute(["DROP DATABASE parts", "DROP DATABASE binlog_relay"])
        let one = try pair.apply(extra: ["--batch-bytes", "200000"], environment: Self.split)
        #expect(one.code == 0 && ApplyPair.summaryCounter("groups_in_parts", in: one.output) == 0, "\(one.output)")
        #expect(try pair.differences(["parts"]).isEmpty)
    }

    @Test(
        "a row missing under an UPDATE of a chained group, a row in the way of an INSERT of new keys: the applier stops on it, nothing of its group committed",
        arguments: ["UPDATE", "INSERT"])
    func divergence(statement: String) throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        let prelude =
            statement == "UPDATE"
            // A row the source's round 8 moves with those round 7 inserted, which the target never gets.
            ? "SET sql_log_bin = 0; INSERT INTO t2 VALUES (14500, 'hidden', 14500); SET sql_log_bin = 1;"
            // A row the target keeps that the source deletes unlogged, then inserts again in round 9.
            : "INSERT INTO t1 VALUES (18050, 'early', 999999); SET sql_log_bin = 0; DELETE FROM t1 WHERE id = 18050; SET sql_log_bin = 1;"
        try pair.sourceSQL(Self.workload(rounds: 12, prelude: prelude))
        try pair.fillLog()
        let failed = try pair.apply(extra: Self.options, environment: Self.split)
        #expect(failed.code != 0 && failed.code != nil, "\(failed.output)")
        let says = statement == "UPDATE" ? "the target is not a copy of the source" : "Duplicate entry '18050'"
        for text in [statement == "UPDATE" ? "`parts`.`t2`" : "`parts`.`t1`", statement, says] {
            #expect(failed.output.contains(text), "missing \(text): \(failed.output)")
        }
        let target = try pair.target.connect()
        defer { target.close() }
        if statement == "UPDATE" {
            #expect(try target.query("SELECT COUNT(*) FROM parts.t2 WHERE id BETWEEN 15000 AND 15099").scalar == "0")
            #expect(try target.query("SELECT COUNT(*) FROM parts.t2 WHERE id BETWEEN 14000 AND 14099").scalar == "100")
        } else {
            #expect(try target.query("SELECT COUNT(*) FROM parts.t1 WHERE id BETWEEN 18000 AND 18099").scalar == "1")
        }
    }

    @Test("the second part of a group waits for the group it depends on, held up on the target by a lock")
    func secondPartWaits() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(
            """
            CREATE DATABASE parts;
            CREATE TABLE parts.t1 (id INT PRIMARY KEY, v VARCHAR(20));
            CREATE TABLE parts.t2 (id INT PRIMARY KEY, v VARCHAR(20));
            INSERT INTO parts.t1 VALUES (1, 'a');
            """)
        try pair.fillLog()
        #expect(try pair.apply().code == 0)
        // Group 1 changes the row the test holds locked on the target, then inserts rows;
        // group 2 inserts rows nobody wrote (its first part), then changes group 1's rows (its
        // second part, which must wait for group 1's COMMIT: run earlier it finds no rows).
        try pair.sourceSQL(
            """
            USE parts;
            BEGIN;
            UPDATE parts.t1 SET v = 'b' WHERE id = 1;
            INSERT INTO parts.t2 SELECT seq, 'new' FROM seq_100_to_199;
            COMMIT;
            BEGIN;
            INSERT INTO parts.t1 SELECT seq, 'new' FROM seq_1000_to_1099;
            UPDATE parts.t2 SET v = 'changed' WHERE id BETWEEN 100 AND 199;
            COMMIT;
            """)
        try pair.fillLog()
        let holder = try pair.target.connect()
        defer { holder.close() }
        try holder.execute("BEGIN")
        _ = try holder.query("SELECT * FROM parts.t1 WHERE id = 1 FOR UPDATE")
        let process = try ChildProcess(
            SourceRelayTests.executable,
            ["apply", "--log-dir", pair.log.path, "--until-end", "--target-url", pair.targetURL(), "--workers", "2", "--batch-transactions", "1"],
            output: pair.output("apply-locked"))
        defer { process.killIfRunning() }
        Thread.sleep(forTimeInterval: 1.5)
        try holder.execute("COMMIT")
        #expect(process.wait(seconds: 60) == 0, "\(process.output)")
        #expect(ApplyPair.summaryCounter("groups_in_parts", in: process.output) == 1, "\(process.output)")
        #expect(!process.output.contains("one group at a time"), "\(process.output)")
        #expect(try pair.differences(["parts"]).isEmpty)
    }

    @Test("across a slow link (20 ms through a delaying proxy) groups stay whole, on the applier's own connection first: the copy ends exact")
    func slowLink() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(Self.workload(rounds: 8))
        try pair.fillLog()
        let (proxy, url) = try pair.delayedTarget(rttMs: 20)
        defer { proxy.killIfRunning() }
        let result = try pair.apply(targetURL: url, extra: Self.options, environment: Self.split)
        #expect(result.code == 0, "\(result.output)")
        // Beside the target these groups go in parts (chain()); across the link, never.
        #expect(ApplyPair.summaryCounter("groups_in_parts", in: result.output) == 0, "\(result.output)")
        #expect(try pair.differences(["parts"]).isEmpty)
    }

    @Test("a group that could not be split runs on the main connection: a missing row still stops it before its COMMIT")
    func unsplitGroupKeepsItsCheck() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(
            """
            CREATE DATABASE parts;
            CREATE TABLE parts.t (id INT PRIMARY KEY, v INT);
            INSERT INTO parts.t VALUES (1, 0), (2, 0);
            """)
        try pair.fillLog()
        #expect(try pair.apply().code == 0)
        try pair.target.execute(["DELETE FROM parts.t WHERE id = 2"])
        // Group 2 depends on group 1 (row 1) and changes the session's foreign_key_checks between
        // its rows, so it cannot go in parts: it runs on the main connection, where the target
        // checks its UPDATEs in their compound blocks (or the applier, before the COMMIT goes).
        try pair.sourceSQL(
            """
            UPDATE parts.t SET v = 1 WHERE id = 1;
            BEGIN;
            UPDATE parts.t SET v = 2 WHERE id = 1;
            SET SESSION foreign_key_checks = 0;
            UPDATE parts.t SET v = 2 WHERE id = 2;
            COMMIT;
            """)
        try pair.fillLog()
        let failed = try pair.apply(extra: ["--workers", "2", "--batch-transactions", "1"], environment: Self.split)
        #expect(failed.code != 0 && failed.code != nil, "\(failed.output)")
        #expect(failed.output.contains("the target is not a copy of the source"), "\(failed.output)")
        let target = try pair.target.connect()
        defer { target.close() }
        #expect(try target.query("SELECT v FROM parts.t WHERE id = 1").scalar == "1", "group 2 must not be committed")
    }
}
