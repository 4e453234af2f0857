import BinlogFormat
import Foundation
import MySQLClient
import TestSupport
import Testing

/// The replication connection against a real MariaDB server started by the test.
@Suite("Binlog stream from a real MariaDB", .serialized)
final class BinlogStreamTests {
    let server: MariaDBSandbox

    init() throws {
        server = try MariaDBSandbox.start()
        try server.execute([
            "CREATE DATABASE shop",
            "CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2), note TEXT)",
            "INSERT INTO shop.items VALUES (1, 'apple', 1.25, NULL), (2, 'pear', 2.50, 'ripe')",
            "UPDATE shop.items SET price = price * 2 WHERE id = 1",
            "DELETE FROM shop.items WHERE id = 2",
            "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 's3cret-Pa55'",
            "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'127.0.0.1'",
        ])
    }

    deinit { server.stop() }

    /// Streams everything from the first binlog with a non-blocking dump.
    func streamAll(start: BinlogStream.Start, user: String = "root", password: String? = nil) throws -> [[UInt8]] {
        let connection = try MySQLConnection(configuration: server.configuration(user: user, password: password))
        defer { connection.close() }
        let stream = try BinlogStream(
            connection: connection, options: .init(serverID: 4242, heartbeatPeriodSeconds: 1, nonBlocking: true),
            start: start)
        var events: [[UInt8]] = []
        while case .event(let bytes, _) = try stream.next() { events.append(Array(bytes)) }
        return events
    }

    @Test("every event of the source's binlog arrives byte for byte and in order")
    func byteForByte() throws {
        let files = try server.binlogFiles()
        let (name, data) = files[0]
        let events = try streamAll(start: .filePosition(file: name, position: 4))
        // The server's own events carry log_pos = end offset in the file; artificial ones (the
        // fake ROTATE naming the file) have log_pos 0 or the artificial flag.
        var fileEvents: [[UInt8]] = []
        var offset = 4
        let bytes = [UInt8](data)
        while offset + 19 <= bytes.count {
            let size = Int(UInt32(bytes[offset + 9]) | UInt32(bytes[offset + 10]) << 8 | UInt32(bytes[offset + 11]) << 16 | UInt32(bytes[offset + 12]) << 24)
            fileEvents.append(Array(bytes[offset..<(offset + size)]))
            offset += size
        }
        let streamed = events.filter { event in
            let flags = UInt16(event[17]) | UInt16(event[18]) << 8
            let logPosition = UInt32(event[13]) | UInt32(event[14]) << 8 | UInt32(event[15]) << 16 | UInt32(event[16]) << 24
            return flags & 0x20 == 0 && logPosition != 0
        }
        #expect(streamed.count == fileEvents.count, "streamed \(streamed.count), file has \(fileEvents.count)")
        for (index, (ours, theirs)) in zip(streamed, fileEvents).enumerated() {
            // The FORMAT_DESCRIPTION's in-use flag and CRC may differ (the file is open); compare the rest.
            if ours[4] == 15 {
                #expect(ours[19..<(ours.count - 4)] == theirs[19..<(theirs.count - 4)], "FDE \(index)")
            } else {
                #expect(ours == theirs, "event \(index) (type \(ours[4])) differs")
            }
        }
        // And the relay's decoder reads every streamed event.
        var decoder = BinlogDecoder()
        var position = 0
        for event in events {
            try event.withUnsafeBytes { bytes in _ = try decoder.decode(bytes, at: position) }
            position += event.count
        }
    }

    @Test("MariaDB GTID start: only what follows the given GTID position arrives")
    func gtidStart() throws {
        let connection = try server.connect()
        let before = try connection.query("SELECT @@gtid_binlog_pos").scalar ?? ""
        try connection.execute("INSERT INTO shop.items VALUES (3, 'plum', 0.75, 'after')")
        connection.close()
        let events = try streamAll(start: .mariadbGTID(before))
        var decoder = BinlogDecoder()
        var inserted = 0
        var gtids: [String] = []
        for (index, event) in events.enumerated() {
            try event.withUnsafeBytes { bytes in
                let decoded = try decoder.decode(bytes, at: index)
                if case .mariadbGTID(let gtid) = decoded.payload { gtids.append(gtid.gtid.description) }
                if case .rows(let rows) = decoded.payload { inserted += try rows.rowCount() }
            }
        }
        #expect(gtids.count == 1, "one transaction after \(before): \(gtids)")
        #expect(inserted == 1)
    }

    @Test("a replication user with a password streams; a wrong password is refused without echoing it")
    func credentials() throws {
        let events = try streamAll(start: .mariadbGTID(""), user: "repl", password: "s3cret-Pa55")
        #expect(events.count > 5)
        do {
            _ = try MySQLConnection(configuration: server.configuration(user: "repl", password: "wrong-Pa55"))
            Issue.record("a wrong password connected")
        } catch {
            #expect(error.code == .authentication)
            #expect(!error.description.contains("wrong-Pa55"))
            #expect(error.description.contains("127.0.0.1:\(server.port)"))
        }
    }

    @Test("a position in a binlog that does not exist gives the server's clear error")
    func purgedPosition() throws {
        do {
            _ = try streamAll(start: .filePosition(file: "mariadb-bin.999999", position: 4))
            Issue.record("streaming from a missing file succeeded")
        } catch let error as MySQLError {
            #expect(error.code == .server)
            #expect(error.number == 1236, "\(error)")
        }
    }
}
