import Foundation
import MySQLClient
import TestSupport
import Testing

/// `binlog-relay verify` against a source and a TLS target kept by the relay: equal copies exit 0,
/// each kind of difference exits 1 naming the table and the key range, errors exit 2.
@Suite("Verify", .serialized)
struct VerifyTests {
    /// Runs `verify` with the pair's URLs; returns its exit code and everything it printed.
    static func verify(
        _ pair: ApplyPair, _ arguments: [String] = [], targetURL: String? = nil, environment: [String: String] = [:]
    ) throws -> (code: Int32?, output: String) {
        var environment = environment
        environment["BINLOG_RELAY_SOURCE_URL"] = environment["BINLOG_RELAY_SOURCE_URL"] ?? pair.sourceURL
        environment["BINLOG_RELAY_TARGET_URL"] = targetURL ?? pair.targetURL()
        let output = pair.work.appendingPathComponent("verify-\(UUID().uuidString.prefix(6)).out").path
        let process = try ChildProcess(SourceRelayTests.executable, ["verify"] + arguments, environment: environment, output: output)
        let code = process.wait(seconds: 180)
        if code == nil { process.killIfRunning() }
        return (code, process.output)
    }

    /// `verify --json`'s tables by source name.
    static func tables(_ output: String) throws -> [String: [String: Any]] {
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        let tables = try #require(object?["tables"] as? [[String: Any]], "verify --json printed: \(output)")
        return Dictionary(uniqueKeysWithValues: tables.map { ($0["source"] as? String ?? "", $0) })
    }

    static func ranges(_ table: [String: Any]?) -> [String] {
        (table?["differences"] as? [[String: Any]] ?? []).compactMap { $0["range"] as? String }
    }

    static let workload: [String] =
        [
            // Unqualified names: --rewrite-schema renames the default schema, not names in the text.
            "CREATE DATABASE shop", "USE shop",
            "CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(40), total DECIMAL(10,2), note TEXT NULL)",
            "CREATE TABLE items (id INT PRIMARY KEY, sku VARCHAR(20), price DOUBLE)",
            "CREATE TABLE audit (id INT PRIMARY KEY, what VARCHAR(40))",
            "CREATE TABLE order_lines (order_id INT, line VARCHAR(10) COLLATE utf8mb4_general_ci, qty INT, PRIMARY KEY (order_id, line))",
            "CREATE TABLE tags (tag VARCHAR(20), weight INT)",  // no key: compared whole
            "CREATE TABLE gone (id INT PRIMARY KEY)",
            "INSERT INTO orders SELECT seq, CONCAT('customer ', seq), seq * 1.25, IF(seq % 7 = 0, NULL, REPEAT('n', seq % 300)) FROM seq_1_to_1000",
            "INSERT INTO items SELECT seq, CONCAT('sku-', seq), seq / 3 FROM seq_1_to_1000",
            "INSERT INTO audit SELECT seq, CONCAT('event ', seq) FROM seq_1_to_1000",
            "INSERT INTO order_lines SELECT seq DIV 4, CONCAT('L', seq % 4), seq FROM seq_1_to_800",
            "INSERT INTO tags VALUES ('a', 1), ('a', 1), ('b', NULL)",
            "INSERT INTO gone VALUES (1), (2)",
        ]

    @Test("an exact copy (schema renamed on the target) exits 0; a changed, a missing and an extra row, a missing and an extra table exit 1 naming table and key range")
    func differences() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute(Self.workload)
        let relay = try pair.relay(targetURL: pair.targetURL(), extra: ["--rewrite-schema", "shop=shop_dr"], exitWhenCaughtUp: true)
        #expect(relay.wait(seconds: 180) == 0, "\(relay.output)")

        let options = ["--rewrite-schema", "shop=shop_dr", "--chunk-rows", "100", "--recheck", "0", "--no-progress"]
        let equal = try Self.verify(pair, options)
        #expect(equal.code == 0, "\(equal.output)")
        #expect(equal.output.contains("verify: 6 tables, ") && equal.output.contains("all equal"), "\(equal.output)")
        // Without the rename every table is missing on the target: the rename is what maps them.
        let unrenamed = try Self.verify(pair, ["--recheck", "0", "--no-progress"])
        #expect(unrenamed.code == 1 && unrenamed.output.contains("missing on the target: shop.orders"), "\(unrenamed.output)")

        let target = try pair.target.connect()
        defer { target.close() }
        for statement in [
            "UPDATE shop_dr.orders SET total = total + 0.01 WHERE id = 250",  // changed: chunk (200, 300]
            "UPDATE shop_dr.orders SET note = '' WHERE id = 7",  // NULL on the source: chunk (, 100]
            "DELETE FROM shop_dr.items WHERE id = 501",  // missing: chunk (500, 600]
            "INSERT INTO shop_dr.audit VALUES (5000, 'only here')",  // extra, past the source's last key
            "UPDATE shop_dr.order_lines SET qty = qty + 1 WHERE order_id = 150 AND line = 'L2'",  // composite key
            // No key: {a, a, b} becomes {b, c, c}, the same count and the same XOR of row hashes
            // (pairs cancel): only the sum part of the checksum sees it.
            "DELETE FROM shop_dr.tags WHERE tag = 'a'",
            "INSERT INTO shop_dr.tags VALUES ('c', 2), ('c', 2)",
            "DROP TABLE shop_dr.gone",
            "CREATE TABLE shop_dr.extra (id INT PRIMARY KEY)",
        ] {
            try target.execute(statement)
        }
        let text = try Self.verify(pair, options)
        #expect(text.code == 1, "\(text.output)")
        for line in [
            "different: shop.orders (target shop_dr.orders): 2 of 11 chunks",
            "  id <= 100: source 100 rows, target 100 rows, contents differ",
            "  id > 200 AND id <= 300: source 100 rows, target 100 rows, contents differ",
            "different: shop.items (target shop_dr.items): 1 of 11 chunks",
            "  id > 500 AND id <= 600: source 100 rows, target 99 rows",
            "different: shop.audit (target shop_dr.audit): 1 of 11 chunks",
            "  id > 1000: source 0 rows, target 1 rows",
            "  all rows: source 3 rows, target 3 rows, contents differ",
            "missing on the target: shop.gone (target shop_dr.gone)",
            "only on the target: shop_dr.extra",
        ] {
            #expect(text.output.contains(line + "\n"), "expected '\(line)' in:\n\(text.output)")
        }
        #expect(!text.output.contains("all equal"))

        let json = try Self.verify(pair, options + ["--json"])
        #expect(json.code == 1, "\(json.output)")
        let tables = try Self.tables(json.output)
        #expect(tables["shop.orders"]?["status"] as? String == "different")
        #expect(Self.ranges(tables["shop.orders"]) == ["id <= 100", "id > 200 AND id <= 300"])
        #expect(Self.ranges(tables["shop.items"]) == ["id > 500 AND id <= 600"])
        #expect(Self.ranges(tables["shop.audit"]) == ["id > 1000"])
        let lines = Self.ranges(tables["shop.order_lines"])
        #expect(lines.count == 1 && lines[0].hasPrefix("(order_id, line) > ("), "\(lines)")
        #expect(tables["shop.tags"]?["status"] as? String == "different")
        #expect(tables["shop.gone"]?["status"] as? String == "missing_on_target")
        #expect(tables["shop.extra"]?["status"] as? String == "missing_on_source")
        #expect(tables["shop.extra"]?["target"] as? String == "shop_dr.extra")
        // Filters: only the tables asked for, and those compare equal.
        let filtered = try Self.verify(pair, options + ["--include", "shop.order_lines", "--include", "shop.tags", "--exclude", "shop.tags"])
        #expect(filtered.code == 1 && filtered.output.contains("verify: 1 table, 800 source rows"), "\(filtered.output)")
        #expect(!filtered.output.contains("shop.orders") && !filtered.output.contains("shop.tags"), "\(filtered.output)")
    }

    @Test("a sequence is compared by its state row: equal once relayed, different once the target hands out values of its own")
    func sequences() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute([
            "CREATE DATABASE sq", "CREATE TABLE sq.t (id INT PRIMARY KEY)", "CREATE SEQUENCE sq.s CACHE 10",
            "INSERT INTO sq.t SELECT NEXTVAL(sq.s) FROM sq.seq_1_to_25",
        ])
        let relay = try pair.relay(targetURL: pair.targetURL(), exitWhenCaughtUp: true)
        #expect(relay.wait(seconds: 180) == 0, "\(relay.output)")
        let options = ["--include", "sq", "--recheck", "0", "--no-progress"]
        let equal = try Self.verify(pair, options)
        #expect(equal.code == 0 && equal.output.contains("verify: 2 tables, ") && equal.output.contains("all equal"), "\(equal.output)")

        let target = try pair.target.connect()
        defer { target.close() }
        try target.execute("DO NEXTVAL(sq.s)")  // a new cache block: the target's state moves on
        let moved = try Self.verify(pair, options)
        #expect(moved.code == 1, "\(moved.output)")
        #expect(moved.output.contains("different: sq.s"), "\(moved.output)")
    }

    @Test("a chunk that differs only until the relay catches up is not reported with --recheck")
    func recheck() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute(Self.workload)
        let relay = try pair.relay(targetURL: pair.targetURL(), exitWhenCaughtUp: true)
        #expect(relay.wait(seconds: 180) == 0, "\(relay.output)")
        // The target falls behind by one change, which "arrives" four seconds later.
        let target = try pair.target.connect()
        defer { target.close() }
        try target.execute("UPDATE shop.orders SET customer = 'stale' WHERE id = 10")
        let fixer = try ChildProcess(
            "/bin/bash",
            ["-c", "sleep 4; exec mariadb --no-defaults -h127.0.0.1 -P\(pair.target.port) -uroot -e \"UPDATE shop.orders SET customer = 'customer 10' WHERE id = 10\""],
            output: pair.work.appendingPathComponent("fixer.out").path)
        let result = try Self.verify(pair, ["--recheck", "10", "--recheck-wait", "1"])
        #expect(fixer.wait(seconds: 30) == 0, "\(fixer.output)")
        #expect(result.code == 0, "\(result.output)")
        #expect(result.output.contains("shop.orders: 1 chunk(s) differ, checking again"), "\(result.output)")
        // Without rechecks the same lag is reported.
        try target.execute("UPDATE shop.orders SET customer = 'stale' WHERE id = 10")
        let once = try Self.verify(pair, ["--recheck", "0", "--no-progress"])
        #expect(once.code == 1 && once.output.contains("different: shop.orders: 1 of 1 chunks"), "\(once.output)")
    }

    @Test("every-type tables compare equal after replication; one ulp of a DOUBLE, a FLOAT's last bit and a trailing zero byte do not")
    func everyType() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        let admin = try pair.source.connect()
        for variant in ApplierEveryTypeTests.variants where ["et_full", "et_nolog_minimal"].contains(variant.schema) {
            for setting in variant.settings { try admin.execute("SET GLOBAL \(setting)") }
            try pair.sourceSQL(try ApplierEveryTypeTests.workload(schema: variant.schema))
        }
        admin.close()
        let relay = try pair.relay(targetURL: pair.targetURL(), exitWhenCaughtUp: true)
        #expect(relay.wait(seconds: 180) == 0, "\(relay.output)")
        // The schemas every-type.sql makes besides its own (a second GTID domain's, say) come along.
        let equal = try Self.verify(pair, ["--chunk-rows", "2", "--recheck", "0", "--no-progress", "--json"])
        #expect(equal.code == 0, "\(equal.output)")
        let tables = try Self.tables(equal.output)
        #expect(tables.count >= 80 && tables["et_full.bin_key"] != nil && tables["et_nolog_minimal.nk_geo"] != nil, "\(tables.keys.sorted())")
        #expect(tables["et_full.bin_key"]?["key"] as? [String] == ["k"], "a BINARY key is walked in chunks")

        let target = try pair.target.connect()
        defer { target.close() }
        try target.execute("UPDATE et_full.floats SET d = 6.283185307179587 WHERE id = 7")  // source: …586
        try target.execute("UPDATE et_full.binaries SET vb300 = CONCAT(vb300, X'00') WHERE id = 3")
        try target.execute("UPDATE et_nolog_minimal.floats SET f = -3.1415925 WHERE id = 7")  // source: -3.1415927
        try target.execute("UPDATE et_full.nk_blobs SET lb = CONCAT(COALESCE(lb, ''), X'00') ORDER BY id LIMIT 1")  // LONGBLOB: hashed
        let changed = try Self.verify(pair, ["--chunk-rows", "2", "--recheck", "0", "--no-progress", "--json"])
        #expect(changed.code == 1, "\(changed.output)")
        let after = try Self.tables(changed.output)
        let different = Set(after.filter { $0.value["status"] as? String != "equal" }.map(\.key))
        #expect(different == ["et_full.floats", "et_full.binaries", "et_nolog_minimal.floats", "et_full.nk_blobs"], "\(different.sorted())")
        #expect(Self.ranges(after["et_full.floats"]).count == 1, "one chunk of two rows: \(Self.ranges(after["et_full.floats"]))")
        #expect(Self.ranges(after["et_full.nk_blobs"]) == ["all rows"])
    }

    @Test("a wrong password, a missing URL, an unverifiable target: one clear line, exit 2, no password printed")
    func errors() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.target.execute(["CREATE USER 'checker'@'127.0.0.1' IDENTIFIED BY 'right-Pa55'", "GRANT SELECT ON *.* TO 'checker'@'127.0.0.1'"])
        let file = pair.work.appendingPathComponent("target-password")
        try "wrong-Pa55-in-file\n".write(to: file, atomically: true, encoding: .utf8)

        let fromFile = try Self.verify(
            pair, ["--no-progress"], targetURL: pair.targetURL(user: "checker"),
            environment: ["BINLOG_RELAY_TARGET_PASSWORD_FILE": file.path])
        #expect(fromFile.code == 2, "\(fromFile.output)")
        #expect(fromFile.output.contains("binlog-relay verify: target: connect to 127.0.0.1:\(pair.target.port) as 'checker'"), "\(fromFile.output)")
        #expect(fromFile.output.contains("Access denied"), "\(fromFile.output)")
        #expect(!fromFile.output.contains("wrong-Pa55-in-file") && !fromFile.output.contains("right-Pa55"))

        let inURL = try Self.verify(pair, ["--no-progress"], targetURL: pair.targetURL(user: "checker", password: "wrong-Pa55-in-url"))
        #expect(inURL.code == 2 && inURL.output.contains("Access denied"), "\(inURL.output)")
        #expect(!inURL.output.contains("wrong-Pa55-in-url"), "\(inURL.output)")

        // The right password works (the same user, so the failure above was the password).
        try "right-Pa55\n".write(to: file, atomically: true, encoding: .utf8)
        let right = try Self.verify(
            pair, ["--no-progress"], targetURL: pair.targetURL(user: "checker"), environment: ["BINLOG_RELAY_TARGET_PASSWORD_FILE": file.path])
        #expect(right.code == 0, "\(right.output)")

        // The target's default is VERIFY_IDENTITY: without ssl-ca it refuses before connecting.
        let noCA = try Self.verify(pair, ["--no-progress"], targetURL: "mysql://root@127.0.0.1:\(pair.target.port)")
        #expect(noCA.code == 2 && noCA.output.contains("target.url: ssl-mode=VERIFY_IDENTITY needs ssl-ca"), "\(noCA.output)")
        let noSource = try Self.verify(pair, ["--no-progress"], environment: ["BINLOG_RELAY_SOURCE_URL": ""])
        #expect(noSource.code == 2 && noSource.output.contains("no source: set --source-url, BINLOG_RELAY_SOURCE_URL or source.url"), "\(noSource.output)")
    }
}
