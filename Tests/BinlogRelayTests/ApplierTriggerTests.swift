import Foundation
import MySQLClient
import TestSupport
import Testing

/// Triggers: the source logs what its triggers did as rows of their own, so the target's copies
/// of those triggers must not run again for applied rows (Sources/Applier/TriggerStatement.swift),
/// while statement-logged DML, whose trigger effects are not logged, must fire them.
@Suite("Apply with triggers", .serialized)
struct ApplierTriggerTests {
    static let source = [
        "CREATE DATABASE trg", "USE trg",
        "CREATE TABLE t (id INT PRIMARY KEY, v INT, touched INT NOT NULL DEFAULT 0)",
        "CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, t_id INT, what VARCHAR(10))",
        "CREATE TABLE audit_nk (t_id INT, what VARCHAR(10))",  // no key: a second run of a trigger would double rows silently
        "CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO audit (t_id, what) VALUES (NEW.id, 'insert') -- a comment at the end",
        "CREATE DEFINER = CURRENT_USER TRIGGER t_ai2 AFTER INSERT ON t FOR EACH ROW FOLLOWS t_ai BEGIN\n  INSERT INTO audit_nk VALUES (NEW.id, 'each row');\nEND",
        "CREATE TRIGGER t_bu BEFORE UPDATE ON t FOR EACH ROW SET NEW.touched = OLD.touched + 1",
        "CREATE TRIGGER t_ad AFTER DELETE ON t FOR EACH ROW INSERT INTO audit_nk VALUES (OLD.id, 'delete')",
        "INSERT INTO t (id, v) VALUES (1, 1), (2, 2), (3, 3)",
        "UPDATE t SET v = v * 10",
        "DELETE FROM t WHERE id = 2",
        // Logged as a statement: the target runs it, and its triggers must fire there.
        "SET SESSION binlog_format = 'STATEMENT'",
        "INSERT INTO t (id, v) VALUES (4, 4)",
        "SET SESSION binlog_format = 'ROW'",
        "INSERT INTO t (id, v) VALUES (5, 5)",
    ]

    @Test("the source's triggers arrive guarded: applied rows do not fire them, statements and the application's sessions do")
    func triggers() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute(Self.source)
        try pair.fillLog()
        let run = try pair.apply()
        #expect(run.code == 0, "\(run.output)")
        let problems = try pair.differences(["trg"])
        #expect(problems.isEmpty, "\(problems.summary)")
        let target = try pair.target.connect()
        defer { target.close() }
        #expect(try target.query("SELECT COUNT(*) FROM trg.audit_nk").scalar == "6", "5 inserts, 1 delete, each once")
        for name in ["t_ai", "t_ai2", "t_bu", "t_ad"] {
            let body = try target.query("SELECT ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_NAME = '\(name)'").scalar ?? ""
            #expect(body.hasPrefix("IF @binlog_relay_applying IS NULL THEN"), "\(name): \(body)")
        }
        // After a failover the application writes to the target: its triggers work as on the source.
        try target.execute("INSERT INTO trg.t (id, v) VALUES (100, 1)")
        try target.execute("UPDATE trg.t SET v = 2 WHERE id = 100")
        #expect(try target.query("SELECT COUNT(*) FROM trg.audit WHERE t_id = 100").scalar == "1")
        #expect(try target.query("SELECT COUNT(*) FROM trg.audit_nk WHERE t_id = 100").scalar == "1")
        #expect(try target.query("SELECT touched FROM trg.t WHERE id = 100").scalar == "1")
        try target.execute("DELETE FROM trg.t WHERE id = 100")
        try target.execute("DELETE FROM trg.audit WHERE t_id = 100")
        try target.execute("DELETE FROM trg.audit_nk WHERE t_id = 100")

        // A trigger made on the target by hand would fire for applied rows: refused, by name.
        try target.execute("CREATE TRIGGER trg.by_hand AFTER INSERT ON trg.t FOR EACH ROW INSERT INTO trg.audit_nk VALUES (NEW.id, 'by hand')")
        try pair.source.execute(["INSERT INTO trg.t (id, v) VALUES (6, 6)"])
        try pair.fillLog()
        let refused = try pair.apply()
        #expect(refused.code != 0)
        #expect(refused.output.contains("`trg`.`t` has triggers on the target (`by_hand`)"), "\(refused.output)")
        #expect(try target.query("SELECT COUNT(*) FROM trg.t WHERE id = 6").scalar == "0")
        try target.execute("DROP TRIGGER trg.by_hand")
        #expect(try pair.apply().code == 0)
        let after = try pair.differences(["trg"])
        #expect(after.isEmpty, "\(after.summary)")
    }
}
