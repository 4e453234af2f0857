import BinlogFormat
import Foundation
import TestSupport
import Testing

@Suite("Transaction boundaries")
struct TransactionBoundaryTests {
    static let root = Repository.fixtures

    /// (transactions ended, GTID events, XID events, whether the file ends at a boundary)
    static func walk(_ name: String) throws -> (ends: Int, gtids: Int, xids: Int, endsAtBoundary: Bool) {
        let data = try Data(contentsOf: root.appendingPathComponent(name))
        return try data.withUnsafeBytes { bytes in
            var reader = try BinlogFileReader(bytes: bytes)
            var tracker = TransactionBoundaryTracker()
            var ends = 0
            var gtids = 0
            var xids = 0
            while let event = try reader.next() {
                if tracker.consume(event), event.type != .formatDescription, event.type != .rotate,
                    event.type != .previousGTIDs, event.type != .mariadbGTIDList, event.type != .mariadbBinlogCheckpoint,
                    event.type != .stop
                {
                    ends += 1
                }
                if event.type == .gtid || event.type == .anonymousGTID || event.type == .mariadbGTID
                    || event.type == .gtidTagged
                {
                    gtids += 1
                }
                if event.type == .xid { xids += 1 }
            }
            return (ends, gtids, xids, tracker.isAtBoundary)
        }
    }

    @Test("every GTID group of a MariaDB file ends exactly once (DDL, DML, XA, statement-logged groups)",
          arguments: ["mariadb-10.11/every-type-full.000001", "mariadb-10.11/every-type-full-compressed.000001",
                      "peers/rust_mysql_common/mariadb-bin.000001", "peers/mariadb-poc/domain_id_0/mariadb-repl-bin.000002"])
    func mariadbGroups(name: String) throws {
        let result = try Self.walk(name)
        #expect(result.ends == result.gtids, "\(name): \(result.ends) ends for \(result.gtids) GTID groups")
        #expect(result.endsAtBoundary)
    }

    @Test("every GTID group of a MySQL file ends exactly once",
          arguments: ["peers/mysql-cdc-rs/8.0/folder/binlog.000693", "peers/rust_mysql_common/json.binlog.000001",
                      "peers/rust_mysql_common/transaction_compression.000001",
                      "peers/rust_mysql_common/binlog_transaction_with_GTID_TAG.000001"])
    func mysqlGroups(name: String) throws {
        let result = try Self.walk(name)
        #expect(result.ends == result.gtids, "\(name): \(result.ends) ends for \(result.gtids) GTID groups")
        #expect(result.endsAtBoundary)
    }

    @Test("a file cut inside a transaction is not at a boundary")
    func cutInsideTransaction() throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("peers/rust_mysql_common/mariadb-bin.000001"))
        // Events at 330 (GTID), 372 (ANNOTATE), 476 (TABLE_MAP), 612 (WRITE_ROWS), 671 (XID).
        try data.prefix(671).withUnsafeBytes { bytes in
            var reader = try BinlogFileReader(bytes: bytes)
            var tracker = TransactionBoundaryTracker()
            var lastBoundary = 0
            while let event = try reader.next() {
                if tracker.consume(event) { lastBoundary = event.offset + event.bytes.count }
            }
            #expect(!tracker.isAtBoundary)
            #expect(lastBoundary == 330)
        }
    }
}
