import Foundation
import MySQLClient
import TestSupport
import Testing

/// `binlog-relay run` with a TLS target: every column type of MariaDB 10.11, under every
/// `binlog_row_metadata` and `binlog_row_image` that changes what the binlog says of a row.
@Suite("Apply every type", .serialized)
struct ApplierEveryTypeTests {
    /// The source settings each copy of the workload runs under (in a schema of its own).
    static let variants: [(schema: String, settings: [String])] = [
        ("et_full", ["binlog_row_metadata = 'FULL'", "binlog_row_image = 'FULL'", "log_bin_compress = OFF"]),
        ("et_nolog", ["binlog_row_metadata = 'NO_LOG'", "binlog_row_image = 'FULL'", "log_bin_compress = OFF"]),
        ("et_full_minimal", ["binlog_row_metadata = 'FULL'", "binlog_row_image = 'MINIMAL'", "log_bin_compress = OFF"]),
        ("et_nolog_minimal", ["binlog_row_metadata = 'NO_LOG'", "binlog_row_image = 'MINIMAL'", "log_bin_compress = OFF"]),
        ("et_compressed", ["binlog_row_metadata = 'FULL'", "binlog_row_image = 'FULL'", "log_bin_compress = ON", "log_bin_compress_min_len = 10"]),
    ]

    /// `Fixtures/mariadb-10.11/every-type.sql` in schema `schema`, without its XA section (the
    /// applier refuses XA: ApplierBadInputTests), followed by ``changes``.
    static func workload(schema: String) throws -> String {
        var text = try String(contentsOf: Repository.fixture("mariadb-10.11/every-type.sql"), encoding: .utf8)
        guard let xa = text.range(of: "-- XA: prepared then committed"), let next = text.range(of: "-- A second GTID domain") else {
            throw TestFailure("every-type.sql no longer has its XA section where expected")
        }
        let ruler = "-- ---------------------------------------------------------------------------\n"
        let start = text.range(of: ruler, options: .backwards, range: text.startIndex..<xa.lowerBound)!.lowerBound
        let end = text.range(of: ruler, options: .backwards, range: text.startIndex..<next.lowerBound)!.lowerBound
        text.removeSubrange(start..<end)
        return (text + changes).replacingOccurrences(of: "every_type", with: schema)
    }

    /// Updates and deletes of every-type.sql's rows: every row of a no-key copy of each table found
    /// by its whole before-image (the value written in the WHERE must equal the stored one), keyed
    /// rows moved to and from the extremes, a BINARY(16) key whose values end in zero bytes.
    static let changes = #"""

        SET NAMES utf8mb4;
        SET SESSION time_zone = '+00:00';
        USE every_type;
        SET SESSION sql_mode = '';
        CREATE TABLE nk_ints ENGINE=InnoDB AS SELECT * FROM ints;
        CREATE TABLE nk_floats ENGINE=InnoDB AS SELECT * FROM floats;
        CREATE TABLE nk_decimals ENGINE=InnoDB AS SELECT * FROM decimals;
        CREATE TABLE nk_dates ENGINE=InnoDB AS SELECT * FROM dates;
        CREATE TABLE nk_times ENGINE=InnoDB AS SELECT * FROM times;
        CREATE TABLE nk_datetimes ENGINE=InnoDB AS SELECT * FROM datetimes;
        CREATE TABLE nk_timestamps ENGINE=InnoDB AS SELECT * FROM timestamps;
        CREATE TABLE nk_strings ENGINE=InnoDB AS SELECT * FROM strings;
        CREATE TABLE nk_binaries ENGINE=InnoDB AS SELECT * FROM binaries;
        CREATE TABLE nk_enums_sets ENGINE=InnoDB AS SELECT * FROM enums_sets;
        CREATE TABLE nk_blobs ENGINE=InnoDB AS SELECT * FROM blobs;
        CREATE TABLE nk_bits ENGINE=InnoDB AS SELECT * FROM bits;
        CREATE TABLE nk_json ENGINE=InnoDB AS SELECT * FROM json_docs;
        CREATE TABLE nk_inet_uuid ENGINE=InnoDB AS SELECT * FROM inet_uuid;
        CREATE TABLE nk_geo ENGINE=InnoDB AS SELECT * FROM geo;
        UPDATE nk_ints SET id = id + 100;
        UPDATE nk_floats SET id = id + 100;
        UPDATE nk_decimals SET id = id + 100;
        UPDATE nk_dates SET id = id + 100;
        UPDATE nk_times SET id = id + 100;
        UPDATE nk_datetimes SET id = id + 100;
        UPDATE nk_timestamps SET id = id + 100;
        UPDATE nk_strings SET id = id + 100;
        UPDATE nk_binaries SET id = id + 100;
        UPDATE nk_enums_sets SET id = id + 100;
        UPDATE nk_blobs SET id = id + 100;
        UPDATE nk_bits SET id = id + 100;
        UPDATE nk_json SET id = id + 100;
        UPDATE nk_inet_uuid SET id = id + 100;
        UPDATE nk_geo SET id = id + 100;
        DELETE FROM nk_ints WHERE id % 2 = 0;
        DELETE FROM nk_floats WHERE id % 2 = 0;
        DELETE FROM nk_decimals WHERE id % 2 = 0;
        DELETE FROM nk_dates WHERE id % 2 = 0;
        DELETE FROM nk_times WHERE id % 2 = 0;
        DELETE FROM nk_datetimes WHERE id % 2 = 0;
        DELETE FROM nk_timestamps WHERE id % 2 = 0;
        DELETE FROM nk_strings WHERE id % 2 = 0;
        DELETE FROM nk_binaries WHERE id % 2 = 0;
        DELETE FROM nk_enums_sets WHERE id % 2 = 0;
        DELETE FROM nk_blobs WHERE id % 2 = 0;
        DELETE FROM nk_bits WHERE id % 2 = 0;
        DELETE FROM nk_json WHERE id % 2 = 0;
        DELETE FROM nk_inet_uuid WHERE id % 2 = 0;
        DELETE FROM nk_geo WHERE id % 2 = 0;
        UPDATE ints SET t_s = -128, t_u = 255, s_s = -32768, s_u = 65535, m_s = -8388608, m_u = 16777215,
            i_s = -2147483648, i_u = 4294967295, b_s = -9223372036854775808, b_u = 18446744073709551615 WHERE id = 3;
        UPDATE ints SET b_s = 9223372036854775807, b_u = 0 WHERE id = 2;
        DELETE FROM ints WHERE id = 1;
        UPDATE decimals SET d65_30 = -99999999999999999999999999999999999.999999999999999999999999999999,
            d38_38 = -0.00000000000000000000000000000000000001, du20 = 9999999999.9999999999 WHERE id = 3;
        UPDATE decimals SET d65_30 = 0.000000000000000000000000000001 WHERE id = 4;
        DELETE FROM decimals WHERE id = 1;
        UPDATE floats SET f = 1.401298464e-45, d = 4.9e-324 WHERE id = 1;
        UPDATE floats SET f = -0.0, d = -0.0 WHERE id = 3;
        UPDATE floats SET d = 0.1e0 + 0.2e0 WHERE id = 4;
        UPDATE dates SET d = '0000-00-00', y = 0 WHERE id = 1;
        UPDATE dates SET d = '2024-02-30' WHERE id = 2;
        UPDATE datetimes SET dt6 = '9999-12-31 23:59:59.999999', dt0 = '0000-00-00 00:00:00' WHERE id = 2;
        UPDATE datetimes SET dt6 = '0000-00-00 00:00:00.000000' WHERE id = 3;
        UPDATE timestamps SET ts6 = '2038-01-19 03:14:07.999999', ts0 = '0000-00-00 00:00:00' WHERE id = 2;
        UPDATE times SET t6 = '-838:59:59.999999', t0 = '-00:00:01' WHERE id = 1;
        UPDATE times SET t6 = '-00:00:00.000001' WHERE id = 2;
        DELETE FROM times WHERE id = 3;
        UPDATE bits SET b64 = b'1111111111111111111111111111111111111111111111111111111111111111', b1 = 1 WHERE id = 1;
        UPDATE bits SET b64 = 0, b17 = b'11111111111111111' WHERE id = 3;
        UPDATE enums_sets SET s64 = 18446744073709551615, e = 'c', s = '' WHERE id = 4;
        UPDATE enums_sets SET e = 'bogus', e_latin1 = 'also bogus' WHERE id = 6;
        UPDATE json_docs SET doc = '{"emoji": "😀", "nul": "\\u0000", "big": 18446744073709551615, "neg": -1.5e-300}' WHERE id = 2;
        UPDATE json_docs SET doc = JSON_ARRAY_APPEND(doc, '$', 'x') WHERE id = 6;
        UPDATE blobs SET b = X'0000000000FF0000', tb = X'00', lb = REPEAT(X'00', 70000) WHERE id = 3;
        UPDATE strings SET v_utf8 = '😀😁😂🤣', c_utf8 = '𝄞 clef', v_bin_cs = X'00000000' WHERE id = 3;
        UPDATE binaries SET b16 = X'AB00', b1 = X'00' WHERE id = 5;
        UPDATE inet_uuid SET i6 = '::', u = '00000000-0000-0000-0000-000000000000', i4 = '0.0.0.0' WHERE id = 3;
        CREATE TABLE bin_key (k BINARY(16) NOT NULL PRIMARY KEY, v INT) ENGINE=InnoDB;
        INSERT INTO bin_key VALUES (X'01', 1), (X'0102', 2), (X'01000000000000000000000000000001', 3), (X'', 4);
        UPDATE bin_key SET v = v + 10;
        UPDATE bin_key SET k = X'02' WHERE v = 11;
        DELETE FROM bin_key WHERE v = 14;
        UPDATE ints SET t_s = NULL, b_u = NULL WHERE id = 2;
        UPDATE strings SET c_latin1 = 'back' WHERE c_latin1 IS NULL;
        CREATE TABLE gen (id INT PRIMARY KEY, a INT, b INT AS (a * 2) VIRTUAL, c VARCHAR(20) AS (CONCAT('x', a)) PERSISTENT,
            d INT AS (a + 1) STORED, KEY (c));
        INSERT INTO gen (id, a) VALUES (1, 1), (2, 2), (3, NULL);
        UPDATE gen SET a = a + 10 WHERE id = 1;
        DELETE FROM gen WHERE id = 2;
        CREATE TABLE gen_nk (a INT, b INT AS (a * 2) VIRTUAL, c INT AS (a + 1) PERSISTENT);
        INSERT INTO gen_nk (a) VALUES (1), (1), (2);
        UPDATE gen_nk SET a = 5 WHERE a = 2;
        DELETE FROM gen_nk WHERE a = 1 LIMIT 1;
        CREATE TABLE invisible (id INT PRIMARY KEY, v INT, h INT INVISIBLE DEFAULT 7);
        INSERT INTO invisible (id, v, h) VALUES (1, 1, 1), (2, 2, 2);
        INSERT INTO invisible VALUES (3, 3);
        UPDATE invisible SET h = 9 WHERE id = 1;
        DELETE FROM invisible WHERE id = 2;
        CREATE TABLE unique_only (a INT NOT NULL, b VARCHAR(10), n INT NULL, UNIQUE KEY (a), UNIQUE KEY (n));
        INSERT INTO unique_only VALUES (1, 'one', NULL), (2, 'two', NULL), (3, 'three', 3);
        UPDATE unique_only SET b = 'uno', a = 10 WHERE a = 1;
        DELETE FROM unique_only WHERE a = 2;
        UPDATE unique_only SET n = NULL WHERE a = 3;
        CREATE TABLE on_update (id INT PRIMARY KEY, v INT,
            ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
            dt DATETIME NULL ON UPDATE CURRENT_TIMESTAMP);
        SET TIMESTAMP = 1600000000;
        INSERT INTO on_update VALUES (1, 1, '2020-01-01 00:00:00', '2020-01-01 00:00:00'), (2, 2, '2020-01-01 00:00:00', NULL);
        SET TIMESTAMP = 1600000100;
        UPDATE on_update SET v = 10, ts = ts, dt = dt WHERE id = 1;
        UPDATE on_update SET v = 20 WHERE id = 2;
        SET TIMESTAMP = DEFAULT;
        SET SESSION sql_mode = DEFAULT;

        """#

    /// How INSERTs go: as the applier chooses (bulk INSERTs for insert events of 1 KB and more,
    /// text for smaller ones), every insert event as a bulk INSERT (every value in the binary
    /// protocol), every insert event's bulk rows written back as text (the form they take where
    /// no statement may be prepared), or all as text.
    enum Inserts: String, CustomStringConvertible {
        case chosen, allBulk, bulkAsText, allText
        var description: String { rawValue }
        var environment: [String: String] {
            switch self {
            case .chosen: [:]
            case .allBulk: ["BINLOG_RELAY_TEST_BULK_EVENT_BYTES": "0"]
            case .bulkAsText: ["BINLOG_RELAY_TEST_BULK_EVENT_BYTES": "0", "BINLOG_RELAY_TEST_BULK_STATEMENTS": "0"]
            case .allText: ["BINLOG_RELAY_TEXT_INSERTS": "1"]
            }
        }
    }

    @Test(
        "every-type.sql and changes to its rows under FULL/NO_LOG metadata, FULL/MINIMAL images, compression: the target equals the source",
        arguments: [(1, Inserts.chosen), (4, .chosen), (1, .allBulk), (1, .bulkAsText), (4, .allText)])
    func everyType(workers: Int, inserts: Inserts) throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        let admin = try pair.source.connect()
        for variant in Self.variants {
            for setting in variant.settings { try admin.execute("SET GLOBAL \(setting)") }
            try pair.sourceSQL(try Self.workload(schema: variant.schema))
        }
        admin.close()

        let executedBefore = try Self.bulkExecutions(pair.target)
        let relay = try pair.relay(
            targetURL: pair.targetURL(), extra: ["--workers", String(workers)], exitWhenCaughtUp: true, environment: inserts.environment)
        #expect(relay.wait(seconds: 180) == 0, "\(relay.output)")
        #expect(relay.output.contains("tls=TLS"), "the target is reached over TLS: \(relay.output)")
        // Prepared statements executed on the target (bulk INSERTs): many when every insert event
        // is one, some for the large rows otherwise (BLOBs of 100 KB), none as text.
        let executed = try Self.bulkExecutions(pair.target) - executedBefore
        switch inserts {
        case .allBulk: #expect(executed >= 100, "bulk executions: \(executed)")
        case .chosen: #expect(executed >= 1, "bulk executions: \(executed)")
        case .allText, .bulkAsText: #expect(executed == 0, "bulk executions: \(executed)")
        }

        let schemas = Self.variants.map(\.schema)
        let problems = try pair.differences(schemas)
        #expect(problems.isEmpty, "\(problems.summary)")
        // Every table made it (not an empty comparison), including those made by CREATE … SELECT.
        let target = try pair.target.connect()
        defer { target.close() }
        for schema in schemas {
            let tables = try SchemaComparison.tables(target, schema: schema)
            #expect(tables.count >= 40 && tables.contains("ctas") && tables.contains("nk_geo"), "\(schema): \(tables)")
        }
        // Each source transaction applied once: the checkpoint names the source's GTID position and
        // counts every GTID group of its binlog.
        let checkpoint = try #require(try CheckpointRow.read(pair.target))
        #expect(Replication.gtidItems(checkpoint.gtidSet) == Replication.gtidItems(try Replication.gtidBinlogPos(pair.source)))
        #expect(checkpoint.transactions == (try Replication.binlogTransactions(pair.source)).count)
        #expect(!checkpoint.pending)
        // With --workers N, one checkpoint row per worker besides the coordinator's: parallel apply ran.
        #expect(try target.query("SELECT COUNT(*) FROM binlog_relay.checkpoint").scalar == String(workers == 1 ? 1 : workers + 1))

        // The comparison itself sees one ulp of a DOUBLE, a trailing zero byte, a FLOAT's last bit.
        try target.execute("UPDATE et_full.floats SET d = 6.283185307179587 WHERE id = 7")  // source: …586
        try target.execute("UPDATE et_full.binaries SET vb300 = CONCAT(vb300, X'00') WHERE id = 3")
        try target.execute("UPDATE et_nolog.floats SET f = -3.1415925 WHERE id = 7")  // source: -3.1415927
        let source = try pair.source.connect()
        defer { source.close() }
        for (schema, table) in [("et_full", "floats"), ("et_full", "binaries"), ("et_nolog", "floats")] {
            let rows = SchemaComparison.rowDifferences(
                table, try SchemaComparison.rows(source, schema: schema, table: table),
                try SchemaComparison.rows(target, schema: schema, table: table))
            #expect(!rows.isEmpty, "the row comparison sees the change in \(schema).\(table)")
        }
    }

    /// Prepared statements the server has executed (bulk executions count one each).
    static func bulkExecutions(_ server: MariaDBSandbox) throws -> Int {
        let connection = try server.connect()
        defer { connection.close() }
        return Int(try connection.query("SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'").rows.first?[1] ?? "") ?? -1
    }
}
