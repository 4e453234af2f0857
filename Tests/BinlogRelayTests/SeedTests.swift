import Foundation
import MySQLClient
import TestSupport
import Testing

/// `binlog-relay seed` on real servers (a source and a TLS target), then `run` continuing from it.
@Suite("Seed", .serialized)
struct SeedTests {
    /// Tables of every shape the seed treats differently: an integer key split into ranges, a
    /// composite character key (ordered by its collation), a second unique key, no key at all, a
    /// generated and an invisible column, a trigger, a foreign key.
    static let schema = """
        CREATE DATABASE app;
        USE app;
        CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, price DECIMAL(12,4), code INT NOT NULL,
          hidden VARCHAR(10) INVISIBLE DEFAULT 'h', UNIQUE KEY (code));
        INSERT INTO items (id, name, price, code, hidden) SELECT seq, CONCAT('item ', seq), seq / 3, seq, CONCAT('h', seq % 9) FROM seq_1_to_30000;
        CREATE TABLE words (w VARCHAR(20) COLLATE utf8mb4_unicode_ci NOT NULL, n INT NOT NULL, note TEXT,
          doubled INT AS (n * 2) VIRTUAL, PRIMARY KEY (w, n));
        INSERT INTO words (w, n, note) SELECT CONCAT(CHAR(97 + seq % 26), CHAR(65 + seq % 7), 'é'), seq, REPEAT('x', seq % 50) FROM seq_1_to_5000;
        CREATE TABLE loose (a INT, b VARCHAR(20));
        INSERT INTO loose SELECT seq % 10, CONCAT('v', seq % 3) FROM seq_1_to_2000;
        CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(40));
        CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, item INT NOT NULL, qty INT,
          FOREIGN KEY (item) REFERENCES items (id) ON DELETE CASCADE);
        INSERT INTO orders (item, qty) SELECT 25000 + seq, seq % 5 FROM seq_1_to_3000;
        CREATE TRIGGER items_ai AFTER INSERT ON items FOR EACH ROW INSERT INTO audit (what) VALUES (NEW.name);
        ANALYZE TABLE items, words, loose, orders;
        """

    /// Writes to every table of ``schema``: inserts, updates (a key moved, a unique value moved
    /// from one row to another), deletes; `round` keeps the keys of successive streams apart.
    static func writes(round: Int, count: Int) -> [String] {
        (0..<count).map { step in
            let n = round * 100_000 + step
            // Rows 1…19000 are changed; orders reference 25001…28000 and the new rows.
            let old = (step * 37 + round * 11) % 19_000 + 1
            return """
                INSERT INTO app.items (id, name, price, code) VALUES (\(100_000 + n), 'new \(n)', \(n) / 7, \(200_000 + n)); \
                UPDATE app.items SET price = price + 1, name = CONCAT(name, '+') WHERE id = \(old); \
                UPDATE app.items SET code = code + 1000000 WHERE id = \(old + 1) AND code < 1000000; \
                UPDATE IGNORE app.items SET id = id + 500000 WHERE id = \(old + 2); \
                DELETE FROM app.items WHERE id = \(old + 3); \
                INSERT INTO app.words (w, n, note) VALUES ('zz\(n)', \(n), 'w'); UPDATE app.words SET note = 'changed' WHERE n = \(step % 5000 + 1); \
                DELETE FROM app.words WHERE n = \(step * 3 % 5000 + 1); \
                INSERT INTO app.loose VALUES (\(step % 10), 'new'); UPDATE app.loose SET b = 'upd' WHERE a = \(step % 10) LIMIT 1; \
                INSERT INTO app.orders (item, qty) VALUES (\(100_000 + n), \(step)); \
                UPDATE app.orders SET qty = qty + 1 WHERE item = \(25_001 + step % 3000);
                """
        }
    }

    @Test("seed while the source is written to, then run: every table equal; triggers guarded; a key-less table warned and copied")
    func seedDuringWrites() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(Self.schema)
        let load = try pair.sourceWorkload(Self.writes(round: 1, count: 1500))
        defer { load.killIfRunning() }
        Thread.sleep(forTimeInterval: 0.3)  // the writes are under way when the snapshot is taken
        let seed = try pair.seed(["--connections", "4", "--piece-rows", "2000"])
        #expect(seed.code == 0, "\(seed.output)")
        #expect(load.isRunning, "the workload still writes after the seed (the test covers writes during the copy)")
        #expect(seed.output.contains("app.loose has no primary key: it is copied whole"), "\(seed.output)")
        #expect(load.wait(seconds: 120) == 0, "workload: \(load.output)")

        let run = try pair.runAfterSeed()
        #expect(run.code == 0, "\(run.output)")
        #expect(run.output.contains("continuing from the seed"), "\(run.output)")
        let problems = try pair.differences(["app"])
        #expect(problems.isEmpty, "\(problems.summary)")
        let target = try pair.target.connect()
        defer { target.close() }
        // Not an empty comparison: the tables hold the copied rows and the workload's.
        #expect(Int(try target.query("SELECT COUNT(*) FROM app.items WHERE id > 100000").scalar ?? "") ?? 0 >= 1500)
        #expect(try target.query("SELECT COUNT(*) FROM app.loose").scalar == "3500")
        // The trigger is there, guarded: it fired on the source for the workload's inserts (its
        // rows came as rows), and did not fire again on the target.
        let body = try target.query("SELECT ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_NAME = 'items_ai'").scalar ?? ""
        #expect(body.hasPrefix("IF @binlog_relay_applying IS NULL THEN"), "\(body)")
        // The invisible column was copied (SELECT * would not see it).
        #expect(try target.query("SELECT hidden FROM app.items WHERE id = 5").scalar == "h5")
    }

    @Test("seed killed with SIGKILL halfway while the source is written to, seeded again: it resumes, and after run every table is equal")
    func killedSeedResumes() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(
            Self.schema + """
                CREATE TABLE big (id INT PRIMARY KEY, k INT NOT NULL, pad CHAR(60), UNIQUE KEY (k));
                INSERT INTO big SELECT seq, seq, REPEAT('p', 60) FROM seq_1_to_200000;
                ANALYZE TABLE big;
                """)
        let bigWrites = (0..<3000).map { step in
            let id = step * 61 % 199_000 + 1
            return "UPDATE IGNORE app.big SET k = k + 1000000 WHERE id = \(id); UPDATE IGNORE app.big SET id = id + 300000 WHERE id = \(id + 1); DELETE FROM app.big WHERE id = \(id + 2); INSERT IGNORE INTO app.big VALUES (\(400_000 + step), \(id + 2), 'new');"
        }
        let load = try pair.sourceWorkload(zip(Self.writes(round: 2, count: 3000), bigWrites).map { (items: String, big: String) in items + " " + big })
        defer { load.killIfRunning() }

        let first = try pair.startSeed(["--connections", "2", "--piece-rows", "300"])
        defer { first.killIfRunning() }
        // Kill it once about a quarter of the big table is on the target.
        let target = try pair.target.connect()
        defer { target.close() }
        var copiedBeforeKill = 0
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && first.isRunning {
            let copied = try? target.query("SELECT SUM(copied_rows) FROM binlog_relay.seed_chunk WHERE table_name = 'big'").scalar
            copiedBeforeKill = copied.flatMap { Int($0) } ?? 0
            if copiedBeforeKill >= 50_000 { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        try #require(first.isRunning, "the first seed must still be copying when killed: \(first.output)")
        first.signal(SIGKILL)
        #expect(first.wait() == 128 + SIGKILL)
        try #require(copiedBeforeKill >= 50_000 && copiedBeforeKill < 200_000, "killed halfway: \(copiedBeforeKill) rows copied")
        #expect(try target.query("SELECT state FROM binlog_relay.seed").scalar == "copying")
        // A run before the seed is finished is refused.
        let early = try pair.runAfterSeed()
        #expect(early.code != 0 && early.output.contains("seed of this target is not finished"), "\(early.output)")
        try? FileManager.default.removeItem(at: pair.log)
        Thread.sleep(forTimeInterval: 0.5)  // more writes between the two snapshots

        let second = try pair.seed(["--connections", "2"])
        #expect(second.code == 0, "\(second.output)")
        #expect(second.output.contains("resuming the seed"), "\(second.output)")
        // It went on from where it was: the rows committed before the kill were not copied again.
        let before = try #require(logValue(second.output, "rows_copied_before"), "\(second.output)")
        let copiedNow = try #require(logValue(second.output, "rows_copied"), "\(second.output)")
        #expect(before >= copiedBeforeKill, "\(second.output)")
        let total = Int(try pair.source.connect().query("SELECT (SELECT COUNT(*) FROM app.big) + (SELECT COUNT(*) FROM app.items) + (SELECT COUNT(*) FROM app.words) + (SELECT COUNT(*) FROM app.loose) + (SELECT COUNT(*) FROM app.orders)").scalar ?? "") ?? 0
        #expect(copiedNow < total - copiedBeforeKill / 2, "the second run copied \(copiedNow) of \(total) rows: it started over")
        // The interrupted range was copied under two snapshots: its window is applied idempotently.
        let spanning = try target.query(
            "SELECT COUNT(*) FROM binlog_relay.seed_chunk WHERE first_file <> last_file OR first_position <> last_position").scalar
        #expect(spanning != "0", "a range spans both snapshots")

        #expect(load.wait(seconds: 180) == 0, "workload: \(load.output)")
        // Parallel apply: the window's idempotent statements go through the write sets too.
        let run = try pair.runAfterSeed(["--workers", "2"])
        #expect(run.code == 0, "\(run.output)")
        let problems = try pair.differences(["app"])
        #expect(problems.isEmpty, "\(problems.summary)")
    }

    @Test("the source's connections killed in the middle of the copy: the seed continues by itself, and the copy is equal")
    func lostConnectionContinues() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(
            Self.schema + """
                CREATE TABLE big (id INT PRIMARY KEY, pad CHAR(60));
                INSERT INTO big SELECT seq, REPEAT('p', 60) FROM seq_1_to_150000;
                ANALYZE TABLE big;
                """)
        let seed = try pair.startSeed(["--connections", "2", "--piece-rows", "300"])
        defer { seed.killIfRunning() }
        let source = try pair.source.connect()
        defer { source.close() }
        let target = try pair.target.connect()
        defer { target.close() }
        var killed = 0
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && seed.isRunning && killed == 0 {
            let copied = (try? target.query("SELECT SUM(copied_rows) FROM binlog_relay.seed_chunk WHERE table_name = 'big'").scalar)
                .flatMap { Int($0) } ?? 0
            if copied >= 30_000 {
                // Every connection reading the source's rows: their snapshots are gone.
                let readers = try source.query(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT %FROM `app`.`big`%' AND ID <> CONNECTION_ID()"
                ).rows
                for row in readers {
                    try? source.execute("KILL CONNECTION \(row[0] ?? "0")")
                    killed += 1
                }
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
        try #require(killed > 0, "no copying connection was found to kill: \(seed.output)")
        #expect(seed.wait(seconds: 180) == 0, "\(seed.output)")
        #expect(seed.output.contains("seed interrupted, continuing"), "\(seed.output)")
        #expect(seed.output.contains("resuming the seed"), "\(seed.output)")
        #expect(try pair.differences(["app"]).isEmpty)
    }

    @Test("a target that already holds the tables is refused with a clear message; --replace copies them again")
    func existingTablesRefused() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(Self.schema)
        try pair.target.execute(["CREATE DATABASE app", "CREATE TABLE app.words (w INT PRIMARY KEY)", "INSERT INTO app.words VALUES (1)"])
        let refused = try pair.seed()
        #expect(refused.code == 1, "\(refused.output)")
        #expect(
            refused.output.contains("the target already holds 1 of the tables to seed (app.words)") && refused.output.contains("--replace"),
            "\(refused.output)")
        let untouched = try pair.target.connect()
        #expect(try untouched.query("SELECT COUNT(*) FROM app.words").scalar == "1", "nothing was dropped")
        untouched.close()

        let replaced = try pair.seed(["--replace"])
        #expect(replaced.code == 0, "\(replaced.output)")
        #expect(try pair.differences(["app"]).isEmpty)
        // Seeded once, a second seed is refused too (the channel has its checkpoint) …
        let again = try pair.seed()
        #expect(again.code == 1 && again.output.contains("already holds a checkpoint for channel 'default'"), "\(again.output)")
        // … and a run told to start elsewhere than the seed's position refuses rather than guess.
        let elsewhere = try pair.runAfterSeed(["--start", "earliest"])
        #expect(elsewhere.code == 1 && elsewhere.output.contains("disagrees with the seed checkpoint"), "\(elsewhere.output)")
        try pair.sourceSQL("INSERT INTO app.loose VALUES (1, 'after seed 1');")
        let run = try pair.runAfterSeed()
        #expect(run.code == 0, "\(run.output)")
        #expect(try pair.differences(["app"]).isEmpty)
        // Seeded again from scratch, the target is not fed from the log kept from before.
        let reseeded = try pair.seed(["--replace"])
        #expect(reseeded.code == 0, "\(reseeded.output)")
        try pair.sourceSQL("INSERT INTO app.loose VALUES (2, 'after seed 2');")
        let stale = try pair.runAfterSeed()
        #expect(stale.code == 1 && stale.output.contains("does not start where the target was seeded"), "\(stale.output)")
    }

    @Test("--include/--exclude and --rewrite-schema select and rename as the applier does, for the copy and the changes after it")
    func filtersAndRenames() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(Self.schema + "\nCREATE DATABASE other; CREATE TABLE other.t (id INT PRIMARY KEY); INSERT INTO other.t VALUES (1);")
        let filters = ["--include", "app", "--exclude", "app.loose", "--rewrite-schema", "app=copy"]
        let seed = try pair.seed(filters)
        #expect(seed.code == 0, "\(seed.output)")
        try pair.sourceSQL(Self.writes(round: 3, count: 50).joined(separator: "\n"))
        let run = try pair.runAfterSeed(filters)
        #expect(run.code == 0, "\(run.output)")
        let target = try pair.target.connect()
        defer { target.close() }
        #expect(try SchemaComparison.tables(target, schema: "copy") == ["audit", "items", "orders", "words"])
        #expect(try SchemaComparison.tables(target, schema: "app").isEmpty)
        #expect(try SchemaComparison.tables(target, schema: "other").isEmpty)
        #expect(try pair.differences([("app", "copy")], tables: ["audit", "items", "orders", "words"]).isEmpty)
    }

    @Test("every-type.sql copied by seed: every value of every type exact")
    func everyType() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.sourceSQL(try ApplierEveryTypeTests.workload(schema: "et_seed"))
        let seed = try pair.seed(["--connections", "3"])
        #expect(seed.code == 0, "\(seed.output)")
        let problems = try pair.differences(["et_seed"])
        #expect(problems.isEmpty, "\(problems.summary)")
        let target = try pair.target.connect()
        defer { target.close() }
        let tables = try SchemaComparison.tables(target, schema: "et_seed")
        #expect(tables.count >= 40 && tables.contains("nk_geo") && tables.contains("json_docs"), "\(tables)")
    }

    @Test("a system-versioned table is refused by name before anything is copied; excluded, the rest is copied and continued")
    func systemVersionedRefused() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute([
            "CREATE DATABASE sv", "CREATE TABLE sv.plain (id INT PRIMARY KEY, v INT)",
            "CREATE TABLE sv.hist (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING",
            "INSERT INTO sv.plain VALUES (1, 1), (2, 2)", "INSERT INTO sv.hist VALUES (1, 1)",
        ])
        let refused = try pair.seed()
        #expect(refused.code == 1, "\(refused.output)")
        #expect(
            refused.output.contains("sv.hist is a system-versioned table (WITH SYSTEM VERSIONING) on the source")
                && refused.output.contains("--exclude 'sv.hist'"),
            "\(refused.output)")
        let target = try pair.target.connect()
        defer { target.close() }
        #expect(try target.query("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sv'").scalar == "0", "nothing copied")

        let seeded = try pair.seed(["--exclude", "sv.hist"])
        #expect(seeded.code == 0, "\(seeded.output)")
        try pair.source.execute(["INSERT INTO sv.plain VALUES (3, 3)"])
        let run = try pair.runAfterSeed(["--exclude", "sv.hist"])
        #expect(run.code == 0, "\(run.output)")
        #expect(try pair.differences([("sv", "sv")], tables: ["plain"]).isEmpty)
        #expect(try target.query("SELECT COUNT(*) FROM sv.plain").scalar == "3")
    }

    @Test("sequences are copied with their state: after a failover NEXTVAL goes on past what the source handed out")
    func sequencesCopied() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute([
            "CREATE DATABASE sq", "CREATE TABLE sq.t (id INT PRIMARY KEY)",
            "CREATE SEQUENCE sq.s START WITH 100 INCREMENT BY 5 CACHE 10",
            "CREATE DATABASE sq_only", "CREATE SEQUENCE sq_only.n",
            "INSERT INTO sq.t VALUES (NEXTVAL(sq.s)), (NEXTVAL(sq.s)), (NEXTVAL(sq.s))",
            "DO NEXTVAL(sq_only.n)",
        ])
        let seeded = try pair.seed()
        #expect(seeded.code == 0, "\(seeded.output)")
        let source = try pair.source.connect()
        let target = try pair.target.connect()
        defer {
            source.close()
            target.close()
        }
        for name in ["sq.s", "sq_only.n"] {
            #expect(try target.query("SELECT * FROM \(name)").rows == source.query("SELECT * FROM \(name)").rows, "\(name)")
        }
        // Values beyond the first cached block, then a SETVAL: logged as rows of the sequence, applied by run.
        try pair.source.execute([
            "INSERT INTO sq.t SELECT NEXTVAL(sq.s) FROM sq.seq_1_to_20", "DO SETVAL(sq_only.n, 5000)",
        ])
        let run = try pair.runAfterSeed()
        #expect(run.code == 0, "\(run.output)")
        #expect(try pair.differences(["sq"]).isEmpty)
        for name in ["sq.s", "sq_only.n"] {
            #expect(try target.query("SELECT * FROM \(name)").rows == source.query("SELECT * FROM \(name)").rows, "\(name)")
        }
        let highest = Int(try source.query("SELECT MAX(id) FROM sq.t").scalar ?? "") ?? 0
        let next = Int(try target.query("SELECT NEXTVAL(sq.s)").scalar ?? "") ?? 0
        #expect(next > highest, "the target's NEXTVAL \(next) after the source's \(highest)")
        #expect(Int(try target.query("SELECT NEXTVAL(sq_only.n)").scalar ?? "") ?? 0 > 5000)
    }
}
