import Foundation
import MySQLClient
import TestSupport
import Testing

/// `binlog-relay apply` against a target that is not what the log expects: a row missing, a
/// table missing, different columns, an XA transaction; and a target it cannot or should not
/// trust (another CA, a wrong password, TLS off). Each stops with one clear line naming what to
/// fix, exits non-zero, applies nothing after the failing transaction, never prints a password;
/// once the target is fixed, the next run applies the rest.
@Suite("Apply: bad input", .serialized)
struct ApplierBadInputTests {
    static func errorLines(_ output: String) -> [Substring] {
        output.split(separator: "\n").filter { $0.hasPrefix("binlog-relay apply:") }
    }

    /// Runs `apply`, expects it to fail with one error line holding every text of `expect`, and
    /// returns that line.
    @discardableResult
    static func failing(_ pair: ApplyPair, _ expect: [String], url: String? = nil, environment: [String: String] = [:],
                        extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let (code, output) = try pair.apply(targetURL: url, extra: extra, environment: environment)
        #expect(code != nil && code != 0, "exit \(String(describing: code)): \(output)", sourceLocation: sourceLocation)
        let errors = errorLines(output)
        #expect(errors.count == 1, "one error line: \(output)", sourceLocation: sourceLocation)
        for text in expect {
            #expect(errors.first?.contains(text) == true, "'\(text)' in: \(output)", sourceLocation: sourceLocation)
        }
        return String(errors.first ?? "")
    }

    static func succeeding(_ pair: ApplyPair, url: String? = nil, extra: [String] = [], environment: [String: String] = [:],
                           sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let (code, output) = try pair.apply(targetURL: url, extra: extra, environment: environment)
        #expect(code == 0, "\(output)", sourceLocation: sourceLocation)
        return output
    }

    /// Where the source's binlog has its last event of `type` (`SHOW BINLOG EVENTS` name).
    static func lastEvent(_ server: MariaDBSandbox, _ type: String) throws -> String? {
        let connection = try server.connect()
        defer { connection.close() }
        var found: String?
        for file in try connection.query("SHOW BINARY LOGS").rows.compactMap({ $0[0] ?? nil }) {
            for row in try connection.query("SHOW BINLOG EVENTS IN '\(file)'").rows where row[2] == type {
                found = "\(file):\(row[1] ?? "")"
            }
        }
        return found
    }

    static func scalar(_ server: MariaDBSandbox, _ sql: String) throws -> String? {
        let connection = try server.connect()
        defer { connection.close() }
        return try connection.query(sql).scalar
    }

    @Test("a row, a table or a column missing on the target, then an XA transaction: each stops apply at its transaction; fixed, the rest applies")
    func targetDiffers() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute([
            "CREATE DATABASE bad",
            "CREATE TABLE bad.t (id INT PRIMARY KEY, v VARCHAR(20))",
            "INSERT INTO bad.t VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')",
            "CREATE TABLE bad.m (id INT PRIMARY KEY)",
            "CREATE TABLE bad.c (id INT PRIMARY KEY, v INT)",
            "CREATE TABLE bad.c2 (id INT PRIMARY KEY, v INT, w INT)",
        ])
        try pair.fillLog()
        _ = try Self.succeeding(pair)

        // 1. A row deleted on the target by hand before the source's UPDATE of it arrives.
        try pair.target.execute(["DELETE FROM bad.t WHERE id = 5"])
        let before = try Replication.gtidBinlogPos(pair.source)
        try pair.source.execute(["UPDATE bad.t SET v = 'changed' WHERE id = 5", "INSERT INTO bad.t VALUES (100, 'after')"])
        try pair.fillLog()
        let update = try #require(try Self.lastEvent(pair.source, "Update_rows_v1"))
        let line = try Self.failing(pair, ["`bad`.`t`", "UPDATE", "source \(update)", "relay log relay-", "not a copy of the source"])
        #expect(line.contains("1 of the 1 rows"), "\(line)")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM bad.t WHERE id = 100") == "0", "nothing after the failing transaction")
        #expect(try CheckpointRow.read(pair.target)?.gtidSet == before, "the checkpoint stays before the failing transaction")
        // Run again unchanged: the same stop, still nothing applied after it.
        try Self.failing(pair, ["`bad`.`t`", "UPDATE", "source \(update)"])
        try pair.target.execute(["INSERT INTO bad.t VALUES (5, 'e')"])
        _ = try Self.succeeding(pair)
        #expect(try pair.differences([("bad", "bad")], tables: ["t"]).isEmpty)

        // 2. A table dropped on the target by hand.
        try pair.target.execute(["DROP TABLE bad.m"])
        try pair.source.execute(["INSERT INTO bad.m VALUES (1), (2)"])
        try pair.fillLog()
        let write = try #require(try Self.lastEvent(pair.source, "Write_rows_v1"))
        try Self.failing(pair, ["table `bad`.`m` is not on the target", "INSERT", "source \(write)", "relay log relay-"])
        try pair.target.execute(["CREATE TABLE bad.m (id INT PRIMARY KEY)"])
        _ = try Self.succeeding(pair)

        // 3. A column more on the target (binlog_row_metadata=NO_LOG: columns matched by position).
        try pair.target.execute(["ALTER TABLE bad.c ADD COLUMN extra INT"])
        try pair.source.execute(["INSERT INTO bad.c VALUES (1, 1)"])
        try pair.fillLog()
        try Self.failing(pair, ["`bad`.`c`", "the source has 2 columns, the target 3", "`extra`", "INSERT"])
        try pair.target.execute(["ALTER TABLE bad.c DROP COLUMN extra"])
        _ = try Self.succeeding(pair)

        // 4. A column fewer on the target (binlog_row_metadata=FULL: columns matched by name).
        try pair.source.execute(["SET GLOBAL binlog_row_metadata = 'FULL'"])
        try pair.target.execute(["ALTER TABLE bad.c2 DROP COLUMN w"])
        try pair.source.execute(["INSERT INTO bad.c2 VALUES (1, 2, 3)"])
        try pair.fillLog()
        try Self.failing(pair, ["`bad`.`c2`", "column 3 `w` is not on the target", "INSERT"])
        try pair.target.execute(["ALTER TABLE bad.c2 ADD COLUMN w INT"])
        _ = try Self.succeeding(pair)
        let problems = try pair.differences(["bad"])
        #expect(problems.isEmpty, "\(problems.summary)")

        // 5. XA, which the applier does not apply: refused by name, nothing of it applied.
        try pair.source.execute([
            "XA START 'bad-xa'", "INSERT INTO bad.t VALUES (200, 'xa')", "XA END 'bad-xa'", "XA PREPARE 'bad-xa'", "XA COMMIT 'bad-xa'",
        ])
        try pair.fillLog()
        try Self.failing(pair, ["XA transactions are not supported", "source mariadb-bin.000001:"])
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM bad.t WHERE id = 200") == "0")
    }

    @Test(
        "a group whose row is missing is never committed, whether the target or the applier checks it, and whether its COMMIT would ride with the next group or a DDL statement; the group before it is",
        arguments: [false, true])
    func deferredCommit(plain: Bool) throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        // On a MariaDB target every UPDATE's count is checked by the target, in the compound block
        // it goes in (ApplyBatch.compound()), and every group carries its COMMIT. `plain`: no
        // blocks, as on a MySQL target, and as for the groups after an error inside a block: the
        // applier checks the counts and defers a group's COMMIT until it has. (One UPDATE of many
        // rows is one statement on the target, and so are the UPDATEs of consecutive events of a
        // table, RowStatements: each row's UPDATE here is followed by one of another table's, `u`.)
        let environment = plain ? ["BINLOG_RELAY_TEST_PLAIN_STATEMENTS": "1"] : [:]
        try pair.source.execute([
            "CREATE DATABASE late", "CREATE TABLE late.t (id INT PRIMARY KEY, v VARCHAR(20))",
            "INSERT INTO late.t SELECT seq, 'x' FROM late.seq_1_to_100",
            "CREATE TABLE late.u (id INT PRIMARY KEY, v VARCHAR(20))", "INSERT INTO late.u SELECT seq, 'x' FROM late.seq_1_to_100",
        ])
        try pair.fillLog()
        _ = try Self.succeeding(pair, environment: environment)

        // One source transaction per group. A (90 rows) is committed (plain: its COMMIT goes in
        // the round trip of B), B's DELETE finds no row; B, C and the DDL after them are not.
        func updates(_ rows: ClosedRange<Int>, _ value: String) -> [String] {
            rows.flatMap { ["UPDATE late.t SET v = '\(value)' WHERE id = \($0)", "UPDATE late.u SET v = '\(value)' WHERE id = \($0)"] }
        }
        try pair.source.execute(["BEGIN"] + updates(1...90, "A") + ["COMMIT"])
        let afterA = try Replication.gtidBinlogPos(pair.source)
        try pair.source.execute([
            "BEGIN", "UPDATE late.t SET v = 'B' WHERE id = 95", "DELETE FROM late.t WHERE id = 96", "COMMIT",
            "INSERT INTO late.t VALUES (200, 'C')", "ALTER TABLE late.t ADD COLUMN w INT",
        ])
        try pair.target.execute(["DELETE FROM late.t WHERE id = 96"])
        try pair.fillLog()
        try Self.failing(pair, ["`late`.`t`", "DELETE", "1 of the 1 rows"], environment: environment, extra: ["--batch-transactions", "1"])
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM late.t WHERE v = 'A'") == "90", "A, before the failing group, is committed")
        #expect(try Self.scalar(pair.target, "SELECT v FROM late.t WHERE id = 95") == "x", "B, in the failing group, is not")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM late.t WHERE id = 200") == "0", "nothing after the failing group")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'late' AND COLUMN_NAME = 'w'") == "0")
        #expect(try CheckpointRow.read(pair.target)?.gtidSet == afterA, "the checkpoint is A's")
        try pair.target.execute(["INSERT INTO late.t (id, v) VALUES (96, 'x')"])
        _ = try Self.succeeding(pair, extra: ["--batch-transactions", "1"], environment: environment)
        #expect(try pair.differences(["late"]).isEmpty)

        // A group of 100 UPDATEs whose last row is missing right before a DDL statement, whose
        // round trip would carry the group's COMMIT.
        try pair.target.execute(["DELETE FROM late.t WHERE id = 100"])
        let before = try Replication.gtidBinlogPos(pair.source)
        try pair.source.execute(
            ["BEGIN"] + updates(1...100, "D") + ["COMMIT", "ALTER TABLE late.t ADD COLUMN w2 INT"])
        try pair.fillLog()
        try Self.failing(pair, ["`late`.`t`", "UPDATE", "1 of the 1 rows"], environment: environment)
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM late.t WHERE v = 'D'") == "0")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'late' AND COLUMN_NAME = 'w2'") == "0")
        #expect(try CheckpointRow.read(pair.target)?.gtidSet == before)
        try pair.target.execute(["INSERT INTO late.t (id, v) VALUES (100, 'A')"])
        _ = try Self.succeeding(pair, environment: environment)
        #expect(try pair.differences(["late"]).isEmpty)
    }

    @Test("a duplicate key from inside a compound block: applied again without blocks, the stop names the statement; nothing of its transaction or after it is applied")
    func errorInBlock() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute(["CREATE DATABASE blk", "CREATE TABLE blk.a (id INT PRIMARY KEY)", "CREATE TABLE blk.b (id INT PRIMARY KEY)"])
        try pair.fillLog()
        _ = try Self.succeeding(pair)
        // One transaction whose INSERTs alternate between the tables (a statement each, a dozen in
        // one block); the target already has b's row 3.
        try pair.target.execute(["INSERT INTO blk.b VALUES (3)"])
        let before = try Replication.gtidBinlogPos(pair.source)
        try pair.source.execute(
            ["BEGIN"] + (1...6).flatMap { ["INSERT INTO blk.a VALUES (\($0))", "INSERT INTO blk.b VALUES (\($0))"] }
                + ["COMMIT", "INSERT INTO blk.a VALUES (100)"])
        try pair.fillLog()
        let (code, output) = try pair.apply()
        #expect(code != nil && code != 0, "\(output)")
        #expect(output.contains("a statement of a compound block failed: applying again from the checkpoint without blocks"), "\(output)")
        let errors = Self.errorLines(output)
        #expect(errors.count == 1, "\(output)")
        let line = String(errors.first ?? "")
        for text in ["`blk`.`b`", "INSERT", "Duplicate entry '3'", "refused"] {
            #expect(line.contains(text), "'\(text)' in: \(line)")
        }
        #expect(!line.contains("sent in one block"), "the statement itself is named: \(line)")
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM blk.a") == "0", "nothing of the failing transaction")
        #expect(try CheckpointRow.read(pair.target)?.gtidSet == before)
        try pair.target.execute(["DELETE FROM blk.b WHERE id = 3"])
        _ = try Self.succeeding(pair)
        #expect(try pair.differences(["blk"]).isEmpty)
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM blk.a") == "7")
    }

    @Test("another CA, a wrong password: one clear line without the password; ssl-mode=DISABLED applies but warns")
    func untrustedTarget() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        let secret = "Target-Secret-42"
        try pair.target.execute([
            "CREATE USER 'relay'@'127.0.0.1' IDENTIFIED BY '\(secret)'", "GRANT ALL ON *.* TO 'relay'@'127.0.0.1'",
        ])
        try pair.source.execute(["CREATE DATABASE tls", "CREATE TABLE tls.t (id INT PRIMARY KEY)", "INSERT INTO tls.t VALUES (1)"])
        try pair.fillLog()

        let untrusted = try Self.failing(
            pair, ["certificate is not trusted", "ssl-ca"],
            url: pair.targetURL(user: "relay", password: secret, query: "ssl-ca=\(pair.certificates.otherCA)"))
        #expect(!untrusted.contains(secret))
        let wrong = "Wrong-Secret-42"
        let denied = try Self.failing(pair, ["Access denied", "relay"], url: pair.targetURL(user: "relay", password: wrong))
        #expect(!denied.contains(wrong))
        // The same through BINLOG_RELAY_TARGET_PASSWORD_FILE.
        let file = pair.work.appendingPathComponent("target-password")
        try (wrong + "\n").write(to: file, atomically: true, encoding: .utf8)
        let fromFile = try Self.failing(
            pair, ["Access denied"], url: pair.targetURL(user: "relay"), environment: ["BINLOG_RELAY_TARGET_PASSWORD_FILE": file.path])
        #expect(!fromFile.contains(wrong))
        #expect(try Self.scalar(pair.target, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'tls'") == "0")

        let (code, output) = try pair.apply(targetURL: pair.targetURL(user: "relay", password: secret, query: "ssl-mode=DISABLED"))
        #expect(code == 0, "\(output)")
        #expect(output.contains("warning") && output.contains("ssl-mode=DISABLED"), "a warning about plaintext: \(output)")
        #expect(output.contains("tls=off"), "\(output)")
        #expect(!output.contains(secret), "no password in the output")
        #expect(try pair.differences(["tls"]).isEmpty)
    }
}
