@testable import Applier
import Testing

/// CREATE/ALTER/DROP DATABASE under `--rewrite-schema`: the database the text names is renamed.
@Suite("Database statements under a schema rename")
struct DatabaseStatementTests {
    static func rewrite(_ text: String, from: String = "app", to: String = "copy") -> String? {
        let bytes = Array(text.utf8)
        let outcome = bytes.withUnsafeBytes { DatabaseStatement.rewrite($0, from: from, to: to) }
        switch outcome {
        case .unchanged: return text
        case .rewritten(let rewritten): return String(decoding: rewritten, as: UTF8.self)
        case .unreadable: return nil
        }
    }

    @Test("the name after DATABASE/SCHEMA [IF [NOT] EXISTS] is replaced, bare or quoted, inside versioned comments too")
    func renamed() {
        #expect(Self.rewrite("CREATE DATABASE app") == "CREATE DATABASE `copy`")
        #expect(Self.rewrite("create schema if not exists `app` character set utf8mb4") == "create schema if not exists `copy` character set utf8mb4")
        #expect(Self.rewrite("CREATE OR REPLACE DATABASE app") == "CREATE OR REPLACE DATABASE `copy`")
        #expect(Self.rewrite("DROP DATABASE IF EXISTS app") == "DROP DATABASE IF EXISTS `copy`")
        #expect(Self.rewrite("drop schema\n  /* why */ `app`") == "drop schema\n  /* why */ `copy`")
        #expect(Self.rewrite("ALTER DATABASE app CHARACTER SET latin1") == "ALTER DATABASE `copy` CHARACTER SET latin1")
        #expect(
            Self.rewrite("CREATE DATABASE /*!32312 IF NOT EXISTS*/ `app` /*!40100 DEFAULT CHARACTER SET utf8mb4 */")
                == "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `copy` /*!40100 DEFAULT CHARACTER SET utf8mb4 */")
        #expect(Self.rewrite("CREATE DATABASE `a``pp`", from: "a`pp") == "CREATE DATABASE `copy`")
    }

    @Test("other statements, and ALTER DATABASE of the default schema, run unchanged; an unreadable name is refused")
    func unchangedOrRefused() {
        for text in ["CREATE TABLE app (id INT)", "ALTER TABLE t ADD COLUMN c INT", "DROP TABLE app.t", "ALTER DATABASE CHARACTER SET latin1",
                     "ALTER DATABASE DEFAULT COLLATE latin1_bin", "INSERT INTO t VALUES (1)"] {
            #expect(Self.rewrite(text) == text, "\(text)")
        }
        #expect(Self.rewrite("CREATE DATABASE other") == nil)
        #expect(Self.rewrite("DROP DATABASE IF app") == nil)
        #expect(Self.rewrite("DROP DATABASE") == nil)
    }
}

/// CREATE TRIGGER bodies wrapped so that the applier's session skips them.
@Suite("Trigger statements")
struct TriggerStatementTests {
    static func guarded(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        switch bytes.withUnsafeBytes({ TriggerStatement.guardBody($0) }) {
        case .unchanged: return text
        case .guarded(let guarded): return String(decoding: guarded, as: UTF8.self)
        case .unreadable: return nil
        }
    }

    @Test("the body after FOR EACH ROW [FOLLOWS|PRECEDES name] is wrapped; other statements are not")
    func bodies() {
        #expect(
            Self.guarded("CREATE DEFINER=`root`@`localhost` TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO a VALUES (NEW.id)")
                == "CREATE DEFINER=`root`@`localhost` TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW IF @binlog_relay_applying IS NULL THEN INSERT INTO a VALUES (NEW.id)\n; END IF")
        #expect(
            Self.guarded("create trigger `for each row` before update on `t` for each row precedes other begin set new.x = 1; end")
                == "create trigger `for each row` before update on `t` for each row precedes other IF @binlog_relay_applying IS NULL THEN begin set new.x = 1; end\n; END IF")
        for text in ["CREATE TABLE t (id INT)", "CREATE PROCEDURE p() INSERT INTO t VALUES (1)", "DROP TRIGGER t_ai", "INSERT INTO t VALUES ('CREATE TRIGGER')"] {
            #expect(Self.guarded(text) == text, "\(text)")
        }
        #expect(Self.guarded("CREATE TRIGGER broken AFTER INSERT ON t") == nil)
    }
}
