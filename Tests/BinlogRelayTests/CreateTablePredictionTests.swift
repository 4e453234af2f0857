import Foundation
import MySQLClient
import TestSupport
import Testing

@testable import Applier

/// The table a CREATE TABLE makes, told from its text (CreateTablePrediction), against the table a
/// real server makes of it; the check that guards a prediction on the target; and the applier
/// holding a run of CREATE TABLE statements and their rows for one round trip.
@Suite("Tables predicted from CREATE TABLE", .serialized)
struct CreateTablePredictionTests {
    static func predict(_ text: String, schema: String = "p", sqlMode: UInt64? = nil) -> CreateTablePrediction? {
        CreateTablePrediction.predict(Array(text.utf8), schema: schema, sqlMode: sqlMode, targetIsMariaDB: true)
    }

    /// Statements whose table is predicted, beyond every-type.sql's: synonyms, inline and named keys,
    /// prefixes, index options, comments and literals that hold keywords.
    static let predicted = [
        "CREATE TABLE syn (a INTEGER, b BOOL, c DEC(10,2), d NUMERIC, e DOUBLE PRECISION, f FLOAT8, g INT8 UNSIGNED, h CHARACTER VARYING(5), i NCHAR(3), j NVARCHAR(4), k INT4 ZEROFILL, l FLOAT(7,3), m DOUBLE(10,2) UNSIGNED, n YEAR, o BIT, p CHAR)",
        "CREATE TABLE IF NOT EXISTS inline_keys (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT KEY, email VARCHAR(100) NOT NULL UNIQUE, note TEXT COMMENT 'PRIMARY KEY GENERATED ALWAYS AS')",
        "create table `Quoted``Name` (`a b` int not null, `c,d` varchar(10) default 'x, y', primary key (`a b`))",
        "CREATE TABLE named_keys (a INT NOT NULL, b INT NOT NULL, c VARCHAR(50), d INT, CONSTRAINT pk PRIMARY KEY (a), UNIQUE KEY zeta (b), CONSTRAINT alpha UNIQUE (c(10)), UNIQUE INDEX Beta USING BTREE (d DESC) COMMENT 'x', KEY plain (c), FULLTEXT KEY ft (c), CHECK (a > 0), CONSTRAINT c1 CHECK (b < 100))",
        "CREATE TABLE nokey (a INT, b VARCHAR(3) CHARACTER SET latin1 COLLATE latin1_bin DEFAULT (concat('a', 'b')), c DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6), d JSON, e INET6, f UUID, g BIT(12), h ENUM('x','y'), i SET('a','b'), j POINT NOT NULL, SPATIAL INDEX (j))",
        "CREATE TABLE /* a comment */ uniq_only (a INT NOT NULL, b INT NULL, UNIQUE (a), UNIQUE KEY nb (b, a)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='t' PARTITION BY HASH (a) PARTITIONS 2",
        "CREATE TABLE charset_binary (a CHAR(4) CHARACTER SET binary, b VARCHAR(5) CHARSET binary, c TEXT CHARACTER SET binary, d ENUM('x') CHARACTER SET binary)",
        "CREATE TABLE /*!32312 IF NOT EXISTS*/ dumped (\n  `id` int(11) NOT NULL,\n  `v` varchar(10) DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB /*!40101 DEFAULT CHARSET=utf8mb4 */",
    ]

    /// Statements whose table is not predicted (each for its own reason).
    static let notPredicted = [
        "CREATE TABLE g (a INT, b INT AS (a + 1))",
        "CREATE TABLE g2 (a INT, b INT GENERATED ALWAYS AS (a * 2) STORED)",
        "CREATE TABLE fk (a INT PRIMARY KEY, b INT, FOREIGN KEY (b) REFERENCES other (id))",
        "CREATE TABLE fk2 (a INT PRIMARY KEY, b INT REFERENCES other (id))",
        "CREATE TABLE fk3 (a INT PRIMARY KEY, b INT, CONSTRAINT f FOREIGN KEY (b) REFERENCES other (id))",
        "CREATE TABLE l LIKE other",
        "CREATE TABLE l2 (LIKE other)",
        "CREATE TABLE s AS SELECT 1 AS a",
        "CREATE TABLE s2 (a INT) SELECT 1 AS a",
        "CREATE TEMPORARY TABLE tmp (a INT)",
        "CREATE OR REPLACE TABLE r (a INT)",
        "CREATE TABLE t100 (a TEXT(100))",
        "CREATE TABLE ts (id INT PRIMARY KEY, t TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)",
        "CREATE TABLE inv (a INT, b INT INVISIBLE)",
        "CREATE TABLE tsnn (id INT PRIMARY KEY, t TIMESTAMP NOT NULL)",
        "CREATE TABLE ser (a SERIAL)",
        "CREATE TABLE m (a INT) /*M!100000 WITH SYSTEM VERSIONING */",
        "CREATE TABLE v (a INT) WITH SYSTEM VERSIONING",
        "CREATE TABLE two_pk (a INT PRIMARY KEY, b INT, PRIMARY KEY (b))",
        "CREATE TABLE dup_unique (a INT, b INT, UNIQUE (a), UNIQUE (a, b))",
        "CREATE TABLE expr_key (a INT, UNIQUE KEY k ((a + 1)))",
        "CREATE TABLE unfinished (a INT, b VARCHAR(10) DEFAULT 'x)",
        "CREATE TABLE odd (a LONG VARCHAR)",
        "CREATE TABLE sized (a BLOB(300) CHARACTER SET binary)",
        "CREATE TABLE fp (a FLOAT(30))",
        "ALTER TABLE t ADD COLUMN c INT",
        "CREATE TABLE two (a INT); DROP TABLE x",
    ]

    @Test("what is not a plain CREATE TABLE, or holds what the reader does not know, is not predicted")
    func refusals() {
        for text in Self.notPredicted {
            #expect(Self.predict(text) == nil, "\(text)")
        }
        // REAL is FLOAT under REAL_AS_FLOAT: not predicted then; under ANSI_QUOTES "a" is a name.
        #expect(Self.predict("CREATE TABLE r (a REAL)", sqlMode: 1) == nil)
        let ansi = Self.predict(#"CREATE TABLE "q" ("a" INT PRIMARY KEY)"#, sqlMode: 4)
        #expect(ansi?.table == "q")
        #expect(ansi?.targetTable.columns.map(\.name) == ["a"])
        #expect(Self.predict(#"CREATE TABLE q ("a" INT)"#) == nil)
        #expect(Self.predict("CREATE TABLE p.q (a INT)")?.table == "q")
        #expect(Self.predict("CREATE TABLE q (a INT)", schema: "") == nil)
        let elsewhere = Self.predict("CREATE TABLE `else`.t (a INT)")
        #expect(elsewhere?.schema == "else" && elsewhere?.table == "t")
        #expect(Self.predict("CREATE TABLE `else`.t (a INT)", schema: "")?.schema == "else")
    }

    @Test("what DROP TABLE, RENAME TABLE, TRUNCATE and CREATE INDEX do to the tables is read from their text")
    func effects() {
        func effect(_ text: String) -> SchemaEffect? { SchemaEffect.of(Array(text.utf8), schema: "s", sqlMode: nil) }
        typealias Name = SchemaEffect.Name
        #expect(effect("TRUNCATE TABLE t") == .unchanged)
        #expect(effect("truncate `a`.`t`") == .unchanged)
        #expect(effect("CREATE INDEX i ON t (a, b(10))") == .unchanged)
        #expect(effect("CREATE ONLINE INDEX i USING BTREE ON o.t (a) COMMENT 'x'") == .unchanged)
        #expect(effect("DROP TABLE `scratch` /* generated by server */") == .drops([Name(schema: "s", table: "scratch")]))
        #expect(
            effect("DROP TABLE IF EXISTS a, o.b CASCADE")
                == .drops([Name(schema: "s", table: "a"), Name(schema: "o", table: "b")]))
        #expect(
            effect("RENAME TABLE a TO b, b TO o.c")
                == .renames([
                    (Name(schema: "s", table: "a"), Name(schema: "s", table: "b")),
                    (Name(schema: "s", table: "b"), Name(schema: "o", table: "c")),
                ]))
        for text in [
            "CREATE UNIQUE INDEX i ON t (a)", "CREATE FULLTEXT INDEX i ON t (a)", "CREATE INDEX IF NOT EXISTS i ON t (a)",
            "DROP TEMPORARY TABLE t", "DROP TABLE t; DROP TABLE u", "DROP INDEX i ON t", "RENAME TABLE a TO", "TRUNCATE t PARTITION p",
            "ALTER TABLE t RENAME TO u", "DROP DATABASE s", "CREATE TABLE t (a INT)", "/*M!100000 DROP TABLE t */",
        ] {
            #expect(effect(text) == nil, "\(text)")
        }
        #expect(SchemaEffect.of(Array("DROP TABLE t".utf8), schema: "", sqlMode: nil) == nil)
        #expect(SchemaEffect.of(Array("DROP TABLE o.t".utf8), schema: "", sqlMode: nil) == .drops([Name(schema: "o", table: "t")]))
    }

    /// every-type.sql's CREATE TABLE statements (the statement texts, one per table).
    static func everyTypeStatements() throws -> [String] {
        let text = try String(contentsOf: Repository.fixture("mariadb-10.11/every-type.sql"), encoding: .utf8)
        return text.components(separatedBy: ";\n").compactMap { chunk in
            let lines = chunk.split(separator: "\n", omittingEmptySubsequences: false).drop { line in
                line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("--")
            }
            let statement = lines.joined(separator: "\n")
            return statement.uppercased().hasPrefix("CREATE TABLE") ? statement : nil
        }
    }

    @Test("a predicted table is the table the server makes, read back as the applier reads it, and passes its check; another fails it")
    func predictionsMatchTheServer() throws {
        let server = try MariaDBSandbox.start()
        defer { server.stop() }
        var configuration = server.configuration()
        configuration.multiStatements = true
        let connection = try MySQLConnection(configuration: configuration)
        defer { connection.close() }
        try connection.execute("CREATE DATABASE p CHARACTER SET utf8mb4")
        try connection.execute("USE p")

        let everyType = try Self.everyTypeStatements()
        #expect(everyType.count >= 20)
        var unpredicted: [String] = []
        var checked = 0
        for text in everyType + Self.predicted {
            guard let prediction = Self.predict(text) else {
                unpredicted.append(String(text.prefix(40)))
                try connection.execute(text)
                continue
            }
            try connection.execute(text)
            let results = try connection.queryAll(TargetTable.query("p", escape: connection.escape))
            let real = TargetTable.parse(results, schema: "p")[prediction.table]
            #expect(real == prediction.targetTable, "\(text)")
            // The fingerprint of the rows the server gives is the predicted one.
            let columnRows = results[0].rows.filter { $0[0] == prediction.table }.map { Array($0.dropFirst()) }
            let keyRows = results[1].rows.filter { $0[0] == prediction.table }.map { Array($0.dropFirst()) }
            #expect(TargetTable.fingerprint(columnRows: columnRows, keyRows: keyRows) == prediction.fingerprint, "\(text)")
            // The check passes in the applier's row session, and fails for another table.
            try connection.execute(Applier.rowSession)
            try connection.execute(
                TargetTable.predictionCheck(schema: "p", table: prediction.table, expected: prediction.fingerprint, escape: connection.escape))
            let other = prediction.fingerprint.replacingOccurrences(of: ",1,", with: ",0,")
            #expect(other != prediction.fingerprint)
            #expect(throws: MySQLError.self) {
                try connection.execute(
                    TargetTable.predictionCheck(schema: "p", table: prediction.table, expected: other, escape: connection.escape))
            }
            try connection.execute("SET NAMES utf8mb4")
            checked += 1
        }
        // Of every-type.sql's tables only the CREATE TABLE … SELECT is not predicted.
        #expect(unpredicted == ["CREATE TABLE ctas ENGINE=InnoDB AS SELEC"], "unpredicted: \(unpredicted)")

        // Mispredictions the check catches: a table default that changes a column's type, and an
        // IF NOT EXISTS that met an older table.
        let mispredicted = [
            ("CREATE TABLE cs (id INT PRIMARY KEY, c CHAR(4)) DEFAULT CHARSET=binary", "cs"),
            ("CREATE TABLE IF NOT EXISTS cs (id INT PRIMARY KEY, c CHAR(4))", "cs"),
        ]
        for (text, table) in mispredicted {
            let prediction = try #require(Self.predict(text))
            try connection.execute(text)
            try connection.execute(Applier.rowSession)
            do {
                try connection.execute(
                    TargetTable.predictionCheck(schema: "p", table: table, expected: prediction.fingerprint, escape: connection.escape))
                Issue.record("the check passed for \(text)")
            } catch {
                #expect(error.number == 1644 && error.message == TargetTable.predictionMismatch, "\(error)")
            }
            try connection.execute("SET NAMES utf8mb4")
        }
        // A missing table fails its check too.
        let missing = try #require(Self.predict("CREATE TABLE never (a INT)"))
        try connection.execute(Applier.rowSession)
        #expect(throws: MySQLError.self) {
            try connection.execute(
                TargetTable.predictionCheck(schema: "p", table: "never", expected: missing.fingerprint, escape: connection.escape))
        }
    }

    /// A run of tables made and filled: 24 CREATE TABLE statements, each followed by rows (inserts,
    /// an update, a delete, rows without a key), one table the prediction gets wrong (its table
    /// default makes CHAR into BINARY), then a statement that cannot be predicted and more rows.
    static func heldWorkload(tables: Int) -> String {
        var sql = """
            SET NAMES utf8mb4;
            CREATE DATABASE held;
            USE held;

            """
        for n in 1...tables {
            sql += """
                CREATE TABLE t\(n) (id INT NOT NULL PRIMARY KEY, v VARCHAR(20), b BLOB, u INT UNSIGNED, UNIQUE KEY uv (v));
                INSERT INTO t\(n) VALUES (1, 'one', X'00FF27', 4294967295), (2, 'two', NULL, 0), (3, 'three', '', 7);
                UPDATE t\(n) SET v = 'deux', u = u + 1 WHERE id = 2;
                DELETE FROM t\(n) WHERE id = 3;
                CREATE TABLE nk\(n) (a INT, c CHAR(3));
                INSERT INTO nk\(n) VALUES (1, 'x'), (1, 'x');

                """
            if n == tables / 2 {
                sql += """
                    CREATE TABLE mis (id INT PRIMARY KEY, c CHAR(4)) DEFAULT CHARSET=binary;
                    INSERT INTO mis VALUES (1, 'ab'), (2, X'0001');

                    """
            }
        }
        // Statements whose effect on the tables is told from their text, each followed by rows.
        sql += """
            CREATE INDEX iu ON t2 (u);
            INSERT INTO t2 VALUES (4, 'four', NULL, 4);
            TRUNCATE TABLE t3;
            INSERT INTO t3 VALUES (5, 'five', NULL, 5);
            RENAME TABLE t4 TO t4_renamed, nk4 TO held.nk4_renamed;
            INSERT INTO t4_renamed VALUES (7, 'seven', NULL, 7);
            UPDATE nk4_renamed SET c = 'y' WHERE a = 1 LIMIT 1;
            DROP TABLE t5, nk5;
            CREATE TABLE t5 (id BIGINT PRIMARY KEY, w TEXT);
            INSERT INTO t5 VALUES (1, 'again');
            DROP TABLE IF EXISTS t6;

            """
        sql += """
            ALTER TABLE t1 ADD COLUMN extra INT DEFAULT 5;
            INSERT INTO t1 (id, v, extra) VALUES (10, 'ten', 10);
            CREATE TABLE last (id INT PRIMARY KEY, v JSON);
            INSERT INTO last VALUES (1, '{"a": [1, 2]}');

            """
        return sql
    }

    @Test("a run of CREATE TABLE statements and their rows is applied in a few round trips, a misprediction included", arguments: [1, 4])
    func heldCreateTables(workers: Int) throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        let tables = 24
        try pair.sourceSQL(Self.heldWorkload(tables: tables))
        try pair.fillLog()
        let result = try pair.apply(extra: ["--workers", String(workers), "--log-level", "info"])
        #expect(result.code == 0, "\(result.output)")
        let problems = try pair.differences(["held"])
        #expect(problems.isEmpty, "\(problems.summary)")
        // The misprediction was caught by the target's check and applied after a resume.
        #expect(result.output.contains("not as predicted"), "\(result.output)")
        let target = try pair.target.connect()
        defer { target.close() }
        #expect(try target.query("SELECT HEX(c) FROM held.mis ORDER BY id").rows.map { $0[0] ?? "" } == ["61620000", "00010000"])
        #expect(try target.query("SELECT COUNT(*) FROM held.nk7").scalar == "2")
        // 59 statements that commit by themselves (57 held): one round trip each before; now the
        // held ones go with their rows (measured: 11 round trips with one connection, 21 with
        // four workers, whose sessions cost one each, twice: the resume after the misprediction
        // starts them again).
        let roundTrips = result.output.components(separatedBy: "round_trips=").last.flatMap { Int($0.prefix { $0.isNumber }) }
        #expect(roundTrips != nil && roundTrips! < 26, "round trips: \(roundTrips.map(String.init) ?? "none"): \(result.output)")
        // Every source transaction applied once: the checkpoint counts them as the source logged them.
        let checkpoint = try #require(try CheckpointRow.read(pair.target))
        let logged = try Replication.binlogTransactions(pair.source).count
        #expect(checkpoint.transactions == logged, "checkpoint \(checkpoint.transactions), source \(logged)")
    }

    @Test("a held statement the target refuses stops the applier on it: what came before is committed, nothing after it runs")
    func refusedHeldStatement() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        // Both sides have the schemas; the relay reads `other` first (for its row) and never
        // `refuse`, so it does not know the target's own `refuse.clash` (made by hand there): the
        // CREATE TABLE statements, qualified, are held, and the target refuses the second one.
        try pair.sourceSQL(
            """
            SET sql_log_bin = 0;
            CREATE DATABASE other;
            CREATE DATABASE refuse;
            CREATE TABLE other.seed (id INT PRIMARY KEY);
            SET sql_log_bin = 1;
            INSERT INTO other.seed VALUES (1);
            CREATE TABLE refuse.a (id INT PRIMARY KEY, v VARCHAR(10));
            INSERT INTO refuse.a VALUES (1, 'one'), (2, 'two');
            CREATE TABLE refuse.clash (id INT PRIMARY KEY, w INT);
            INSERT INTO refuse.clash VALUES (1, 1);
            CREATE TABLE refuse.b (id INT PRIMARY KEY);
            INSERT INTO refuse.b VALUES (1);
            """)
        try pair.target.execute([
            "CREATE DATABASE other", "CREATE DATABASE refuse", "CREATE TABLE other.seed (id INT PRIMARY KEY)",
            "CREATE TABLE refuse.clash (id INT PRIMARY KEY, other TEXT)",
        ])
        try pair.fillLog()
        let result = try pair.apply(extra: ["--log-level", "debug"])
        #expect(result.code != 0 && result.code != nil, "\(result.output)")
        for text in ["statement held", "the target refused a statement", "DDL", "1050", "clash"] {
            #expect(result.output.contains(text), "missing \(text): \(result.output)")
        }
        let target = try pair.target.connect()
        defer { target.close() }
        #expect(try target.query("SELECT COUNT(*) FROM other.seed").scalar == "1")
        #expect(try target.query("SELECT COUNT(*) FROM refuse.a").scalar == "2")
        #expect(try target.query("SELECT COUNT(*) FROM refuse.clash").scalar == "0")
        #expect(try target.query("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'refuse' AND TABLE_NAME = 'b'").scalar == "0")
    }

    @Test("kill -9 at random moments while held statements and their rows apply, 10 times: copy exact, each transaction applied once", arguments: [1, 4])
    func killedWhileHeld(workers: Int) throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(Self.heldWorkload(tables: 80))
        try pair.fillLog()
        var generator = SystemRandomNumberGenerator()
        var progress: [Int] = []
        for round in 0..<10 {
            let relay = try pair.relay(targetURL: pair.targetURL(), extra: ["--workers", String(workers), "--batch-transactions", "3"])
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.4, using: &generator))
            relay.signal(SIGKILL)
            _ = relay.wait(seconds: 10)
            progress.append((try CheckpointRow.read(pair.target))?.transactions ?? 0)
        }
        let last = try pair.relay(targetURL: pair.targetURL(), extra: ["--workers", String(workers)], exitWhenCaughtUp: true)
        #expect(last.wait(seconds: 180) == 0, "\(last.output)")
        let problems = try pair.differences(["held"])
        #expect(problems.isEmpty, "\(problems.summary)")
        let checkpoint = try #require(try CheckpointRow.read(pair.target))
        let logged = try Replication.binlogTransactions(pair.source).count
        #expect(checkpoint.transactions == logged, "checkpoint \(checkpoint.transactions), source \(logged); after each kill: \(progress)")
        #expect(!checkpoint.pending)
        let target = try pair.target.connect()
        defer { target.close() }
        for table in ["nk1", "nk40", "nk80"] {
            #expect(try target.query("SELECT COUNT(*) FROM held.\(table)").scalar == "2", "\(table)")
        }
    }
}
