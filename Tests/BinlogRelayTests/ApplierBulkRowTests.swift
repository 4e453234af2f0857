import Foundation
import MySQLClient
import TestSupport
import Testing

/// Row events of many rows become few statements on the target (UpdateChunk, `DELETE … IN`, and
/// one INSERT or DELETE for consecutive events of a table),
/// but only where the target, changing the rows in its own order, cannot end anywhere else than
/// the source did row after row: keys moved onto keys the same statement moves away, keys equal
/// under a collation but not in bytes, another unique key changed, a table whose foreign key
/// references itself, partial row images, ENUM index 0.
@Suite("Apply row events of many rows", .serialized)
struct ApplierBulkRowTests {
    static let workload = #"""
        SET NAMES utf8mb4;
        SET SESSION time_zone = '+00:00';
        CREATE DATABASE bulk;
        USE bulk;

        -- A plain bulk update of other columns: one statement per chunk of rows, not per row.
        CREATE TABLE plain (id INT PRIMARY KEY, a INT, b VARCHAR(20), c DATETIME(6) NULL, d DECIMAL(30,10));
        INSERT INTO plain SELECT seq, seq, CONCAT('b', seq), NULL, seq / 7 FROM seq_1_to_10000;
        UPDATE plain SET a = a + (id % 2), b = IF(id % 3 = 0, 'three', b), c = '2024-02-29 12:34:56.123456', d = -d;

        -- Keys moved one up, highest first: every new key is the old key of a row not yet moved.
        CREATE TABLE shift (id INT PRIMARY KEY, v VARCHAR(10));
        INSERT INTO shift SELECT seq, CONCAT('v', seq) FROM seq_1_to_300;
        UPDATE shift SET id = id + 1 ORDER BY id DESC;
        UPDATE shift SET id = id - 1 ORDER BY id ASC;
        UPDATE shift SET id = id + 300;

        -- A key of an integer and a string under a case-insensitive collation: (1,'a') moves onto
        -- (2,'a'), which the target calls equal to (2,'A'), moved away just before.
        CREATE TABLE ci (n INT NOT NULL, s VARCHAR(10) COLLATE utf8mb4_general_ci NOT NULL, v INT, PRIMARY KEY (n, s));
        INSERT INTO ci SELECT seq, IF(seq % 2 = 0, 'A', 'a'), seq FROM seq_1_to_200;
        UPDATE ci SET n = n + 1 ORDER BY n DESC;
        UPDATE ci SET v = v * 2 WHERE s = 'a';

        -- A string key: found by CASE and IN through its collation; a date key moved.
        CREATE TABLE skey (k VARCHAR(40) COLLATE utf8mb4_unicode_ci PRIMARY KEY, v INT);
        INSERT INTO skey SELECT CONCAT('Key-', seq, '-ü'), seq FROM seq_1_to_500;
        UPDATE skey SET v = v + 1;
        CREATE TABLE dkey (d DATE PRIMARY KEY, v INT);
        INSERT INTO dkey SELECT '2020-01-01' + INTERVAL seq DAY, seq FROM seq_1_to_100;
        UPDATE dkey SET d = d + INTERVAL 1 DAY ORDER BY d DESC;

        -- Another unique key shifted: row by row.
        CREATE TABLE uniq (id INT PRIMARY KEY, u INT NOT NULL UNIQUE, v INT);
        INSERT INTO uniq SELECT seq, seq, 0 FROM seq_1_to_200;
        UPDATE uniq SET u = u + 1, v = v + 1 ORDER BY u DESC;

        -- A chain of rows referencing each other, deleted children first: one DELETE of them
        -- all would meet a parent before its child.
        CREATE TABLE tree (id INT PRIMARY KEY, parent INT NULL, note VARCHAR(10), FOREIGN KEY (parent) REFERENCES tree (id));
        INSERT INTO tree VALUES (1, NULL, 'root');
        INSERT INTO tree SELECT seq, seq - 1, 'node' FROM seq_2_to_200;
        UPDATE tree SET note = 'changed';
        DELETE FROM tree WHERE id > 150 ORDER BY id DESC;

        -- ON UPDATE CURRENT_TIMESTAMP, set by the source's values, not the target's clock.
        CREATE TABLE stamped (id INT PRIMARY KEY, v INT,
            t TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6));
        SET TIMESTAMP = 1700000000.5;
        INSERT INTO stamped (id, v) SELECT seq, seq FROM seq_1_to_200;
        SET TIMESTAMP = 1700000100.25;
        UPDATE stamped SET v = v + 1;
        SET TIMESTAMP = DEFAULT;

        -- ENUM index 0 (a non-strict source's "error" value) in a bulk update.
        CREATE TABLE en (id INT PRIMARY KEY, e ENUM('x', 'y'), v INT);
        INSERT INTO en SELECT seq, 'x', seq FROM seq_1_to_100;
        SET SESSION sql_mode = '';
        UPDATE en SET e = 'bogus', v = v + 1 WHERE id % 2 = 0;
        SET SESSION sql_mode = DEFAULT;

        -- Partial images: the after-image holds only what changed, not always the same columns.
        CREATE TABLE minimal (id INT PRIMARY KEY, a INT, b INT, c BLOB);
        INSERT INTO minimal SELECT seq, seq, seq, REPEAT('c', seq) FROM seq_1_to_400;
        SET SESSION binlog_row_image = 'MINIMAL';
        UPDATE minimal SET a = IF(id % 2 = 0, a + 1, a), b = IF(id % 3 = 0, b + 1, b);
        UPDATE minimal SET id = id + 1000 WHERE id % 5 = 0;
        DELETE FROM minimal WHERE id % 7 = 0;
        SET SESSION binlog_row_image = 'NOBLOB';
        UPDATE minimal SET c = 'blob', a = 0 WHERE id % 11 = 0;
        SET SESSION binlog_row_image = DEFAULT;

        -- Deletes of many rows by a key of several columns.
        DELETE FROM ci WHERE n % 3 = 0;

        -- Names outside ASCII: the row session's character_set_client is binary, so their UTF-8
        -- bytes must reach the server as they are.
        CREATE TABLE `ünïcode_täble` (`ïd` INT PRIMARY KEY, `välue` VARCHAR(40) CHARACTER SET utf8mb4, `日付` DATE);
        INSERT INTO `ünïcode_täble` SELECT seq, CONCAT('wërt ', seq, ' 😀'), '2024-01-01' + INTERVAL seq DAY FROM seq_1_to_300;
        UPDATE `ünïcode_täble` SET `välue` = CONCAT(`välue`, ' ✓'), `日付` = `日付` + INTERVAL 1 YEAR;
        DELETE FROM `ünïcode_täble` WHERE `ïd` % 3 = 0;
        """#

    @Test("bulk updates and deletes, with keys moved onto each other's: the target equals the source", arguments: [1, 4])
    func bulk(workers: Int) throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(Self.workload)
        try pair.fillLog()
        let target = try pair.target.connect()
        defer { target.close() }
        let before = try Int(target.query("SHOW GLOBAL STATUS LIKE 'Com_update'").rows.first?[1] ?? "") ?? -1
        let result = try pair.apply(extra: ["--workers", String(workers)])
        #expect(result.code == 0, "\(result.output)")
        let problems = try pair.differences(["bulk"])
        #expect(problems.isEmpty, "\(problems.summary)")
        let after = try Int(target.query("SHOW GLOBAL STATUS LIKE 'Com_update'").rows.first?[1] ?? "") ?? -1

        // The workload's UPDATE statements changed ~15,000 rows, 10,000 of them in `plain`. The
        // target ran one UPDATE per chunk of rows where the rules allow, one per row only for the
        // shifts' rows (each moves onto the next one's key: 300 + 300, `ci` 200, `dkey` 100),
        // `uniq` (200) and `tree` (199): ~1,300 in all, not ~15,000.
        #expect(before >= 0 && after - before < 2_000, "UPDATE statements on the target: \(after - before)")
        #expect(try target.query("SELECT COUNT(*) FROM bulk.tree").scalar == "150")
        #expect(try target.query("SELECT COUNT(*) FROM bulk.en WHERE e = 0").scalar == "50")
        #expect(try target.query("SELECT COUNT(*) FROM bulk.`ünïcode_täble` WHERE `välue` LIKE '% 😀 ✓'").scalar == "200")

        // A row of a chunk missing on the target: the applier stops on that UPDATE, and nothing of
        // its transaction is committed.
        try pair.target.execute(["DELETE FROM bulk.plain WHERE id = 5000"])
        try pair.source.execute(["UPDATE bulk.plain SET a = a + 1"])
        try pair.fillLog()
        let failed = try pair.apply(extra: ["--workers", String(workers)])
        #expect(failed.code != 0 && failed.code != nil, "\(failed.output)")
        for text in ["`bulk`.`plain`", "UPDATE", "the target is not a copy of the source"] {
            #expect(failed.output.contains(text), "missing \(text): \(failed.output)")
        }
        #expect(try target.query("SELECT COUNT(*) FROM bulk.plain WHERE a = id + (id % 2) + 1").scalar == "0")
    }

    /// A bulk INSERT, UPDATE or DELETE of wide rows reaches the binlog as many events of a few rows
    /// each (binlog_row_event_max_size, 8 KB by default): consecutive events of one table continue
    /// one statement on the target, across the source's transactions in a group too. The second
    /// UPDATE changes other columns in other rows: a chunk cannot take a column it did not set for
    /// the rows of events before, and is cut there.
    static let wideRows = #"""
        CREATE DATABASE wide;
        USE wide;
        CREATE TABLE w (id INT PRIMARY KEY, a VARCHAR(2000), b BLOB, n INT NULL);
        INSERT INTO w (id, a, b) SELECT seq, REPEAT(CHAR(65 + seq % 26), 1500), REPEAT(X'00FF275C', 200 + seq % 7) FROM seq_1_to_600;
        INSERT INTO w (id, a, b, n) SELECT seq, REPEAT('z', 1800), NULL, seq FROM seq_601_to_800;
        DELETE FROM w WHERE id % 2 = 0;
        CREATE TABLE other (id INT PRIMARY KEY, a VARCHAR(3000));
        BEGIN;
        INSERT INTO w (id, a) SELECT seq, REPEAT('y', 1900) FROM seq_1001_to_1100;
        INSERT INTO other SELECT seq, REPEAT('o', 2500) FROM seq_1_to_50;
        INSERT INTO w (id, a) SELECT seq, REPEAT('x', 1900) FROM seq_1101_to_1200;
        COMMIT;
        DELETE FROM w WHERE id BETWEEN 1001 AND 1200 AND id % 3 = 0;
        UPDATE w SET n = id WHERE id < 600;
        UPDATE w SET a = IF(id % 3 = 0, 'changed', a), n = IF(id % 5 = 0, -id, n) WHERE id > 600 AND id <= 800;
        """#

    @Test("consecutive row events of a table: one INSERT, UPDATE or DELETE for them on the target", arguments: [1, 4])
    func consecutiveEvents(workers: Int) throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(Self.wideRows)
        try pair.fillLog()
        let target = try pair.target.connect()
        defer { target.close() }
        func count(_ name: String) throws -> Int {
            try Int(target.query("SHOW GLOBAL STATUS LIKE '\(name)'").rows.first?[1] ?? "") ?? -1
        }
        let insertsBefore = try count("Com_insert")
        let deletesBefore = try count("Com_delete")
        let updatesBefore = try count("Com_update")
        let result = try pair.apply(extra: ["--workers", String(workers)])
        #expect(result.code == 0, "\(result.output)")
        let problems = try pair.differences(["wide"])
        #expect(problems.isEmpty, "\(problems.summary)")
        // ~1,000 inserted rows of ~2 KB in ~330 events (3 an event): about 2 MB, cut at
        // statementBytes (1 MB) and at each change of table or columns, so a handful of INSERTs
        // (the count includes the relay's checkpoint INSERTs, one a group); ~370 deleted rows in
        // ~120 events: 2 DELETEs. Event by event it was ~330 and ~120.
        let inserts = try count("Com_insert") - insertsBefore
        let deletes = try count("Com_delete") - deletesBefore
        #expect(insertsBefore >= 0 && inserts >= 4 && inserts < 40, "INSERT statements on the target: \(inserts)")
        #expect(deletesBefore >= 0 && deletes >= 2 && deletes < 10, "DELETE statements on the target: \(deletes)")
        // 400 updated rows of ~2 KB, both images, in ~200 events: chunks of at most 128 rows
        // (and the relay's checkpoint UPDATEs, one a group).
        let updates = try count("Com_update") - updatesBefore
        #expect(updatesBefore >= 0 && updates >= 4 && updates < 40, "UPDATE statements on the target: \(updates)")
        #expect(try target.query("SELECT COUNT(*) FROM wide.w WHERE id < 600 AND n = id").scalar == "300")
        #expect(try target.query("SELECT COUNT(*) FROM wide.w WHERE a = 'changed'").scalar == "33")
        #expect(try target.query("SELECT COUNT(*), SUM(n) FROM wide.w WHERE id > 600 AND id <= 800").rows.first == ["100", "42000"])

        // A row missing on the target, deleted by the source in one of many events: the statement
        // that continued them finds one row fewer, and the applier stops on it.
        try pair.target.execute(["DELETE FROM wide.w WHERE id = 555"])
        try pair.source.execute(["DELETE FROM wide.w WHERE id < 1000"])
        try pair.fillLog()
        let failed = try pair.apply(extra: ["--workers", String(workers)])
        #expect(failed.code != 0 && failed.code != nil, "\(failed.output)")
        for text in ["`wide`.`w`", "DELETE", "the target is not a copy of the source"] {
            #expect(failed.output.contains(text), "missing \(text): \(failed.output)")
        }
        #expect(try target.query("SELECT COUNT(*) FROM wide.w WHERE id < 1000").scalar == "399")
    }
}
