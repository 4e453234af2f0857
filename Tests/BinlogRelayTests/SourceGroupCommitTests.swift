import Foundation
import MySQLClient
import TestSupport
import Testing

/// When the relay fsyncs: once per transaction for a live source (nothing more waiting), in
/// batches while it catches up on a backlog (the next packet already there).
@Suite("Source group commit", .serialized)
struct SourceGroupCommitTests {
    /// The "durable=… (source FILE:POS …)" positions of the relay's trace-level "fsynced" lines.
    static func fsyncedPositions(_ output: String) -> Set<String> {
        var positions: Set<String> = []
        for line in output.split(separator: "\n") where line.hasSuffix("fsynced") {
            if let match = line.firstMatch(of: /\(source ([^ ]+:\d+)/) { positions.insert(String(match.1)) }
        }
        return positions
    }

    static func masterPosition(_ connection: MySQLConnection) throws -> String {
        let row = try connection.query("SHOW MASTER STATUS").rows.first ?? []
        return "\((row.first ?? nil) ?? ""):\((row.count > 1 ? row[1] : nil) ?? "")"
    }

    @Test("a backlog of 2,000 transactions is fsynced in a few batches; a live source's transactions one by one")
    func batchesOnlyABacklog() throws {
        // innodb_flush_log_at_trx_commit=0: the server writes the backlog quickly.
        let server = try MariaDBSandbox.start(["--innodb-flush-log-at-trx-commit=0"])
        defer { server.stop() }
        let admin = try server.connect()
        defer { admin.close() }
        for statement in Workload.schema { try admin.execute(statement) }
        for index in 0..<2000 {
            try admin.execute("INSERT INTO work.accounts VALUES (\(index), 'owner', 1.00, NOW(6))")
        }
        let log = SourceRelayTests.temporaryDirectory("relay-group")
        defer { try? FileManager.default.removeItem(at: log) }

        // The backlog, to its end.
        let catchUp = try SourceRelayTests.relay(
            server, log: log, output: log.appendingPathComponent("catch-up.out"), extra: ["--exit-when-caught-up"])
        #expect(catchUp.wait(seconds: 60) == 0, "\(catchUp.output)")
        let syncs = catchUp.output.firstMatch(of: /syncs=(\d+)/).flatMap { Int($0.1) }
        #expect(syncs != nil && syncs! >= 1 && syncs! < 100, "2,000 transactions in \(String(describing: syncs)) syncs")
        let (same, why) = SourceRelayTests.sameEvents(try SourceRelayTests.relayedEvents(log), try SourceRelayTests.sourceEvents(server))
        #expect(same, "\(why)")

        // Live: each commit, 100 ms apart, is fsynced on its own, at its own position.
        let live = try SourceRelayTests.relay(
            server, log: log, output: log.appendingPathComponent("live.out"), extra: ["--log-level", "trace"])
        #expect(SemiSyncTests.waitUntil(seconds: 15) { live.output.contains("streaming from source") }, "\(live.output)")
        Thread.sleep(forTimeInterval: 0.3)
        var positions: [String] = []
        for index in 0..<10 {
            try admin.execute("UPDATE work.accounts SET balance = balance + 1 WHERE id = \(index)")
            positions.append(try Self.masterPosition(admin))
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(
            SemiSyncTests.waitUntil(seconds: 5) { Self.fsyncedPositions(live.output).isSuperset(of: positions) },
            "every transaction fsynced at its own end: wanted \(positions), fsynced \(Self.fsyncedPositions(live.output).sorted())")
        live.signal(SIGTERM)
        #expect(live.wait(seconds: 10) == 0, "\(live.output)")
    }
}
