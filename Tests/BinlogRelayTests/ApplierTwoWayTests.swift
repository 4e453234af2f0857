import Foundation
import MySQLClient
import TestSupport
import Testing

/// Two relays in opposite directions between two servers, each server both a source and a target
/// (docs/two-way.md): A → B and B → A, TLS on every connection, the same relay schema
/// (`binlog_relay`) on both servers and one channel per direction (`a-to-b` on B, `b-to-a` on A),
/// so each server's checkpoint table names the direction that writes into it.
@Suite("Apply in both directions", .serialized)
struct ApplierTwoWayTests {
    static let setup = [
        "CREATE DATABASE shared",
        "CREATE TABLE shared.items (id INT AUTO_INCREMENT PRIMARY KEY, origin CHAR(1) NOT NULL, n INT NOT NULL, note VARCHAR(40), KEY (origin, n))",
        "CREATE TABLE shared.a_only (id INT PRIMARY KEY, v VARCHAR(20))",
        "CREATE TABLE shared.b_only (id INT PRIMARY KEY, v VARCHAR(20))",
        "CREATE TABLE shared.counters (id INT PRIMARY KEY, hits INT NOT NULL)",
        "INSERT INTO shared.counters VALUES (1, 0), (2, 0)",
    ]
    static let count = 300

    /// Transaction `index` of side `origin` (A or B): an AUTO_INCREMENT row in the shared table
    /// (odd ids on A, even on B), a row in its own table, its own counter row, and now and then a
    /// delete of one of its own earlier rows.
    static func transaction(_ origin: String, _ index: Int) -> [String] {
        let own = origin == "A" ? "a_only" : "b_only"
        var statements = [
            "BEGIN",
            "INSERT INTO shared.items (origin, n, note) VALUES ('\(origin)', \(index), 'from \(origin)')",
            "INSERT INTO shared.\(own) (id, v) VALUES (\(index), 'v\(index)')",
            "UPDATE shared.counters SET hits = hits + 1 WHERE id = \(origin == "A" ? 1 : 2)",
        ]
        if index % 10 == 9 { statements.append("DELETE FROM shared.items WHERE origin = '\(origin)' AND n = \(index - 5)") }
        statements.append("COMMIT")
        return statements
    }

    static func masterStatus(_ server: MariaDBSandbox) throws -> [String?] {
        let connection = try server.connect()
        defer { connection.close() }
        return try connection.query("SHOW MASTER STATUS").rows.first ?? []
    }

    @Test("A → B and B → A at once, writes on both sides: both servers equal, no transaction looped, binlogs still once idle")
    func twoWay() throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let common = certificates.serverOptions + ["--auto-increment-increment=2", "--binlog-row-metadata=FULL"]
        let a = try MariaDBSandbox.start(common + ["--server-id=1", "--auto-increment-offset=1"])
        defer { a.stop() }
        let b = try MariaDBSandbox.start(common + ["--server-id=2", "--auto-increment-offset=2"])
        defer { b.stop() }
        let work = SourceRelayTests.temporaryDirectory("two-way")
        defer { try? FileManager.default.removeItem(at: work) }

        func url(_ server: MariaDBSandbox) -> String { "mysql://root@127.0.0.1:\(server.port)?ssl-mode=VERIFY_IDENTITY&ssl-ca=\(certificates.ca)" }
        func relay(from source: MariaDBSandbox, to target: MariaDBSandbox, channel: String, serverID: Int) throws -> ChildProcess {
            try ChildProcess(
                SourceRelayTests.executable,
                [
                    "run", "--http-listen", "127.0.0.1:0", "--log-dir", work.appendingPathComponent(channel).path, "--server-id", String(serverID),
                    "--start", "earliest", "--target-url", url(target), "--channel", channel,
                ],
                environment: ["BINLOG_RELAY_SOURCE_URL": url(source)], output: work.appendingPathComponent("\(channel).out").path)
        }

        try a.execute(Self.setup)
        let aToB = try relay(from: a, to: b, channel: "a-to-b", serverID: 201)
        defer { aToB.killIfRunning() }
        let bToA = try relay(from: b, to: a, channel: "b-to-a", serverID: 202)
        defer { bToA.killIfRunning() }
        // B gets the schema from A before writing to it.
        let ready = Replication.wait(timeout: 60) {
            (try? SchemaComparison.tables(try b.connect(), schema: "shared").count) == 4
                && (try? b.connect().query("SELECT COUNT(*) FROM shared.counters").scalar) == "2"
        }
        try #require(ready, "B has A's schema: \(aToB.output)")

        let writerA = PacedWriter(server: a, pause: 0.004, limit: Self.count) { Self.transaction("A", $0) }
        let writerB = PacedWriter(server: b, pause: 0.004, limit: Self.count) { Self.transaction("B", $0) }
        writerA.start()
        writerB.start()
        // DDL on each side while both write: a table made on B, a column added on A.
        try b.execute(["CREATE TABLE shared.b_extra (id INT PRIMARY KEY)", "INSERT INTO shared.b_extra VALUES (1), (2), (3)"])
        try a.execute(["ALTER TABLE shared.a_only ADD COLUMN extra INT NOT NULL DEFAULT 7"])
        writerA.join()
        writerB.join()
        #expect(writerA.error == nil && writerB.error == nil, "\(String(describing: writerA.error)) \(String(describing: writerB.error))")
        #expect(writerA.count == Self.count && writerB.count == Self.count)
        // Quiesce: a last row on each side; once the other side has it, it has everything before it.
        try a.execute(["INSERT INTO shared.a_only (id, v) VALUES (-1, 'last')"])
        try b.execute(["INSERT INTO shared.b_only VALUES (-1, 'last')"])
        let quiet = Replication.wait(timeout: 90) {
            (try? b.connect().query("SELECT COUNT(*) FROM shared.a_only WHERE id = -1").scalar) == "1"
                && (try? a.connect().query("SELECT COUNT(*) FROM shared.b_only WHERE id = -1").scalar) == "1"
        }
        try #require(quiet, "A → B: \(aToB.output)\nB → A: \(bToA.output)")

        // Both servers hold the same rows.
        let connectionA = try a.connect()
        let connectionB = try b.connect()
        defer {
            connectionA.close()
            connectionB.close()
        }
        let problems = try SchemaComparison.differences(.init(connectionA, "shared"), .init(connectionB, "shared"))
        #expect(problems.isEmpty, "\(problems.summary)")
        // Nothing applied twice: counts and counters exact on both sides.
        let deleted = (0..<Self.count).filter { $0 % 10 == 9 }.count
        for connection in [connectionA, connectionB] {
            #expect(try connection.query("SELECT COUNT(*), COUNT(DISTINCT id), SUM(id % 2 = 1 AND origin = 'A') + SUM(id % 2 = 0 AND origin = 'B') FROM shared.items").rows.first
                == ["\(2 * (Self.count - deleted))", "\(2 * (Self.count - deleted))", "\(2 * (Self.count - deleted))"])
            #expect(try connection.query("SELECT hits FROM shared.counters ORDER BY id").rows == [["\(Self.count)"], ["\(Self.count)"]])
            #expect(try connection.query("SELECT COUNT(*) FROM shared.a_only").scalar == "\(Self.count + 1)")
            #expect(try connection.query("SELECT COUNT(*) FROM shared.b_only").scalar == "\(Self.count + 1)")
            #expect(try connection.query("SELECT COUNT(*) FROM shared.b_extra").scalar == "3")
        }
        // Each checkpoint counts exactly what the other side originated: its binlog's transactions
        // that no relay made. And what each side originated is what the test ran there.
        let originatedA = try Replication.binlogTransactions(a).filter { !Replication.isRelayMade($0.first) }.count
        let originatedB = try Replication.binlogTransactions(b).filter { !Replication.isRelayMade($0.first) }.count
        #expect(originatedA == Self.setup.count + Self.count + 1 + 1, "A: setup, the writer, the ALTER, the last row")
        #expect(originatedB == Self.count + 2 + 1, "B: the writer, CREATE TABLE and INSERT, the last row")
        #expect(try CheckpointRow.read(b, channel: "a-to-b")?.transactions == originatedA)
        #expect(try CheckpointRow.read(a, channel: "b-to-a")?.transactions == originatedB)
        #expect(try CheckpointRow.read(a, channel: "a-to-b") == nil && CheckpointRow.read(b, channel: "b-to-a") == nil)

        // Idle: neither binlog grows (a loop would keep both relays writing).
        let before = (try Self.masterStatus(a), try Self.masterStatus(b))
        let grew = try Replication.wait(timeout: 3) { (try Self.masterStatus(a), try Self.masterStatus(b)) != before }
        let after = (try Self.masterStatus(a), try Self.masterStatus(b))
        #expect(!grew, "binlogs moved while idle: \(before) → \(after)")

        for relay in [aToB, bToA] {
            relay.signal(SIGTERM)
            #expect(relay.wait(seconds: 30) == 0, "\(relay.output)")
        }
    }
}
