import Foundation
import MySQLClient
import TestSupport
import Testing

/// Crashes on either side of the applier: the relay killed with SIGKILL while it applies, the
/// target restarted or killed under it. The copy must end exact, every transaction applied once.
@Suite("Apply through crashes", .serialized)
struct ApplierCrashTests {
    static let schema = [
        "CREATE DATABASE crash",
        "CREATE TABLE crash.accounts (id INT PRIMARY KEY, balance DECIMAL(14,2) NOT NULL, note VARCHAR(40))",
        // No key: a transaction applied twice would leave duplicate rows.
        "CREATE TABLE crash.ledger (account INT NOT NULL, amount DECIMAL(10,2) NOT NULL, memo VARCHAR(20))",
    ]

    /// Transaction `index`: an upsert, two identical rows into the table without a key, an UPDATE
    /// and now and then a DELETE of one of several identical rows; every 150th, DDL instead.
    static func transaction(_ index: Int) -> [String] {
        if index % 150 == 75 {
            let round = index / 150
            switch round % 3 {
            case 0: return ["CREATE TABLE crash.t\(round) (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO crash.t\(round) VALUES (1, 'x'), (2, 'y')"]
            case 1: return ["ALTER TABLE crash.accounts ADD COLUMN c\(round) INT NOT NULL DEFAULT \(round)"]
            default: return ["DROP TABLE crash.t\(round - 2)", "ALTER TABLE crash.ledger ADD INDEX by_account\(round) (account)"]
            }
        }
        let account = index % 50
        var statements = [
            "BEGIN",
            "INSERT INTO crash.accounts (id, balance, note) VALUES (\(account), \(index).25, 'n\(index)') ON DUPLICATE KEY UPDATE balance = balance + 1, note = 'n\(index)'",
            "INSERT INTO crash.ledger VALUES (\(account), 1.00, 'dup'), (\(account), 1.00, 'dup')",
            "UPDATE crash.ledger SET memo = 'upd' WHERE account = \(account) AND memo = 'dup' LIMIT 1",
        ]
        if index % 5 == 0 { statements.append("DELETE FROM crash.ledger WHERE account = \(account) AND memo = 'upd' LIMIT 1") }
        statements.append("COMMIT")
        return statements
    }

    /// The copy is exact and each source transaction was applied once: the checkpoint names the
    /// source's GTID position and counts exactly the GTID groups of its binlog.
    static func expectExactlyOnce(_ pair: ApplyPair) throws {
        let problems = try pair.differences(["crash"])
        #expect(problems.isEmpty, "\(problems.summary)")
        let checkpoint = try #require(try CheckpointRow.read(pair.target))
        let sourcePosition = try Replication.gtidBinlogPos(pair.source)
        #expect(Replication.gtidItems(checkpoint.gtidSet) == Replication.gtidItems(sourcePosition))
        let groups = try Replication.binlogTransactions(pair.source)
        #expect(checkpoint.transactions == groups.count, "checkpoint \(checkpoint.transactions), source binlog \(groups.count) GTIDs")
        #expect(sourcePosition == "0-1-\(groups.count)", "one domain, one server: the last sequence number is the count")
        #expect(!checkpoint.pending)
        // The table without a key: the same multiset of rows.
        let multiset = "SELECT account, amount, memo, COUNT(*) FROM crash.ledger GROUP BY account, amount, memo ORDER BY 1, 2, 3"
        let source = try pair.source.connect()
        let target = try pair.target.connect()
        #expect(try source.query(multiset).rows == target.query(multiset).rows)
        #expect(try target.query("SELECT COUNT(*) FROM crash.ledger").scalar == source.query("SELECT COUNT(*) FROM crash.ledger").scalar)
        source.close()
        target.close()
    }

    /// `everyInsertBulk`: every insert event goes as a bulk INSERT (a command of its own between
    /// the group's queries, Wire), the table without a key's rows included.
    @Test(
        "kill -9 of run (with a target) at random moments, 20 times, while it applies: copy exact, each transaction applied once",
        arguments: [(1, false), (4, false), (1, true)])
    func killNineTwentyTimes(workers: Int, everyInsertBulk: Bool) throws {
        let pair = try ApplyPair(sourceOptions: ["--max-binlog-size=65536", "--binlog-row-metadata=FULL"])
        defer { pair.stop() }
        try pair.source.execute(Self.schema)
        let writer = PacedWriter(server: pair.source, pause: 0.002, transaction: Self.transaction)
        writer.start()
        defer { writer.stop() }
        let bulk = everyInsertBulk ? ["BINLOG_RELAY_TEST_BULK_EVENT_BYTES": "0"] : [:]
        let executedBefore = try ApplierEveryTypeTests.bulkExecutions(pair.target)
        var generator = SystemRandomNumberGenerator()
        var progress: [Int] = []
        for round in 0..<20 {
            // With workers, groups in parts whatever the timing (ApplierGroupPartsTests).
            let relay = try pair.relay(
                targetURL: pair.targetURL(), extra: ["--batch-transactions", "7", "--workers", String(workers)],
                environment: ["BINLOG_RELAY_TEST_SPLIT_GROUPS": "1"].merging(bulk) { $1 })
            Thread.sleep(forTimeInterval: Double.random(in: 0.3...1.0, using: &generator))
            relay.signal(SIGKILL)
            #expect(relay.wait(seconds: 10) == 128 + SIGKILL, "round \(round): the relay ended before the kill: \(relay.output)")
            progress.append((try CheckpointRow.read(pair.target))?.transactions ?? 0)
        }
        writer.stop()
        #expect(writer.error == nil, "\(String(describing: writer.error))")
        // The rounds applied as they went (the kills fell while applying), not all at the end.
        #expect(Set(progress).count >= 10, "checkpoint after each round: \(progress)")

        let last = try pair.relay(
            targetURL: pair.targetURL(), extra: ["--workers", String(workers)], exitWhenCaughtUp: true, environment: bulk)
        #expect(last.wait(seconds: 180) == 0, "\(last.output)")
        #expect(writer.count > 1000, "the workload ran through the rounds: \(writer.count) transactions")
        let executed = try ApplierEveryTypeTests.bulkExecutions(pair.target) - executedBefore
        #expect(everyInsertBulk ? executed > 1000 : executed == 0, "bulk executions: \(executed)")
        try Self.expectExactlyOnce(pair)
    }

    @Test("the target restarted, then killed with SIGKILL, during apply: the relay retries and the copy ends exact")
    func targetRestartAndKill() throws {
        let pair = try ApplyPair()
        defer { pair.stop() }
        try pair.source.execute(Self.schema)
        let writer = PacedWriter(server: pair.source, pause: 0.003, transaction: Self.transaction)
        writer.start()
        defer { writer.stop() }
        let relay = try pair.relay(targetURL: pair.targetURL())
        defer { relay.killIfRunning() }

        func applied() -> Int { ((try? CheckpointRow.read(pair.target)) ?? nil)?.transactions ?? 0 }
        func waitForProgress(_ what: String) throws {
            let before = applied()
            let moved = Replication.wait(timeout: 60) { applied() > before + 50 }
            #expect(moved, "\(what): the relay applies again: \(relay.output)")
        }
        try waitForProgress("start")
        try pair.target.shutdown()
        Thread.sleep(forTimeInterval: 1)  // an outage the relay must ride out
        try pair.target.restart(pair.targetOptions)
        try waitForProgress("after a restart")
        try pair.target.kill()
        try pair.target.restart(pair.targetOptions)
        try waitForProgress("after SIGKILL")
        writer.stop()
        #expect(writer.error == nil, "\(String(describing: writer.error))")

        #expect(try Replication.waitUntilApplied(source: pair.source, target: pair.target, timeout: 120, relay: relay), "\(relay.output)")
        try Self.expectExactlyOnce(pair)
        #expect(relay.output.contains("retrying"), "the relay said it retries: \(relay.output)")
        #expect(!relay.output.contains("apply stopped"), "every error on the way was taken as transient: \(relay.output)")
        relay.signal(SIGTERM)
        #expect(relay.wait(seconds: 30) == 0, "SIGTERM: a clean exit: \(relay.output)")
    }
}
