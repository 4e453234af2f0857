import BinlogFormat
import Foundation
import TestSupport
import Testing

/// Truncated and corrupted binlogs give errors, never a crash, and the errors say where.
@Suite("Damaged input")
struct DamagedInputTests {
    static let root = Repository.fixtures

    /// Small files with many event kinds: MariaDB GTIDs and annotate rows, MySQL JSON and
    /// partial updates, a zstd transaction payload, tagged GTIDs, compressed MariaDB events.
    static let smallFixtures = [
        "peers/rust_mysql_common/mariadb-bin.000001",
        "peers/rust_mysql_common/binlog_transaction_with_GTID_TAG.000001",
        "peers/rust_mysql_common/mysql-enum-string-set.000001",
        "peers/rust_mysql_common/binlog-invisible-columns.000001",
        "peers/rust_mysql_common/mysql_type_bit.000001",
        "peers/mysql-binlog-connector-java/mysql-bin.compressed",
        "peers/mysql-cdc-rs/8.0/32_delete_rows_v2/binlog.000001",
        "peers/mysql-cdc-rs/5.7/14_user_var/log.bin",
    ]

    /// Decodes everything, including every value of every row and payload contents.
    static func decodeAll(_ bytes: UnsafeRawBufferPointer, verifyChecksums: Bool = true) -> (events: [Int], error: BinlogError?) {
        var offsets: [Int] = []
        do throws(BinlogError) {
            var reader = try BinlogFileReader(bytes: bytes, file: "test", verifiesChecksums: verifyChecksums)
            while let event = try reader.next() {
                offsets.append(event.offset)
                try walkValues(event, decoder: &reader.decoder)
            }
        } catch {
            return (offsets, error)
        }
        return (offsets, nil)
    }

    static func walkValues(_ event: BinlogEvent, decoder: inout BinlogDecoder) throws(BinlogError) {
        switch event.payload {
        case .rows(let rows):
            guard rows.tableMap != nil else { return }
            var iterator = try rows.rows()
            while let change = try iterator.next() {
                for image in [change.before, change.after].compactMap({ $0 }) {
                    try image.forEachColumn { (_: Int, value: ColumnValue) throws(BinlogError) in
                        switch value {
                        case .decimal(let decimal): _ = decimal.description
                        case .json(let document):
                            var text: [UInt8] = []
                            try JSONBinary.writeText(document, into: &text)
                        default: break
                        }
                    }
                }
            }
        case .transactionPayload(let payload):
            var inner = BinlogDecoder()
            try decoder.forEachEvent(in: payload) { (innerEvent: BinlogEvent) throws(BinlogError) in
                try walkValues(innerEvent, decoder: &inner)
            }
        case .query(let query):
            _ = try query.statusVariables()
        default:
            break
        }
    }

    @Test("truncation at every byte offset gives a truncation error or a clean stop at an event boundary",
          arguments: smallFixtures)
    func truncatedEverywhere(name: String) throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent(name))
        let whole = data.withUnsafeBytes { Self.decodeAll($0) }
        #expect(whole.error == nil, "\(name): \(String(describing: whole.error))")
        let boundaries = Set(whole.events + [data.count])
        for length in 0..<data.count {
            let result = data.prefix(length).withUnsafeBytes { Self.decodeAll($0) }
            if length < 4 {
                #expect(result.error?.code == .badMagic, "\(name) cut at \(length)")
            } else if boundaries.contains(length) || length == 4 {
                #expect(result.error == nil, "\(name) cut at event boundary \(length): \(String(describing: result.error))")
            } else {
                guard let error = result.error else {
                    Issue.record("\(name) cut at \(length): no error")
                    continue
                }
                #expect(error.code == .truncated, "\(name) cut at \(length): \(error)")
                #expect((error.offset ?? error.eventOffset ?? 0) <= length, "\(name) cut at \(length): \(error)")
                #expect(error.description.contains("test"), "the error names the file")
            }
        }
    }

    @Test("random corruption gives errors, never a crash; with CRC32 on it is caught as a checksum mismatch",
          arguments: smallFixtures)
    func randomCorruption(name: String) throws {
        let original = [UInt8](try Data(contentsOf: Self.root.appendingPathComponent(name)))
        var generator = SplitMix64(seed: UInt64(truncatingIfNeeded: name.utf8.reduce(7) { $0 &* 31 &+ Int($1) }))
        var caughtByChecksum = 0
        var mutations = 0
        for _ in 0..<2000 {
            var bytes = original
            let flips = Int(generator.next() % 4) + 1
            for _ in 0..<flips {
                let index = 4 + Int(generator.next() % UInt64(bytes.count - 4))
                bytes[index] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
            }
            mutations += 1
            // Without checksums every body parser sees the damage; it must only ever throw.
            _ = bytes.withUnsafeBytes { Self.decodeAll($0, verifyChecksums: false) }
            let checked = bytes.withUnsafeBytes { Self.decodeAll($0, verifyChecksums: true) }
            if checked.error?.code == .checksumMismatch { caughtByChecksum += 1 }
        }
        // Files with CRC32 catch nearly every corruption by checksum (a flip in a size field can
        // surface first as a framing error instead).
        let hasChecksums = original.withUnsafeBytes { bytes -> Bool in
            var reader = try? BinlogFileReader(bytes: bytes)
            _ = try? reader?.next()
            return reader?.decoder.formatDescription.checksumAlgorithm == .crc32
        }
        if hasChecksums {
            #expect(caughtByChecksum > mutations / 2, "\(name): \(caughtByChecksum) of \(mutations) caught by CRC32")
        }
    }

    @Test("larger files cut at random offsets, and at every offset around each event boundary",
          arguments: ["mariadb-10.11/every-type-full-compressed.000001", "mariadb-10.11/every-type-minimal-image.000001"])
    func truncatedLargeFiles(name: String) throws {
        let data = try Data(contentsOf: Self.root.appendingPathComponent(name))
        let whole = data.withUnsafeBytes { Self.decodeAll($0) }
        #expect(whole.error == nil, "\(name): \(String(describing: whole.error))")
        let boundaries = Set(whole.events + [data.count])
        var generator = SplitMix64(seed: 42)
        var cuts = (0..<150).map { _ in 4 + Int(generator.next() % UInt64(data.count - 4)) }
        for boundary in whole.events.prefix(200) { cuts += [boundary - 1, boundary + 1, boundary + 19, boundary + 20] }
        for length in cuts where length > 4 && length < data.count {
            let result = data.prefix(length).withUnsafeBytes { Self.decodeAll($0) }
            if boundaries.contains(length) {
                #expect(result.error == nil, "\(name) cut at boundary \(length)")
            } else {
                #expect(result.error?.code == .truncated, "\(name) cut at \(length): \(String(describing: result.error))")
            }
        }
    }

    @Test("a file that is not a binlog is refused by its magic")
    func badMagic() {
        let bytes: [UInt8] = Array("hello, world".utf8)
        let result = bytes.withUnsafeBytes { Self.decodeAll($0) }
        #expect(result.error?.code == .badMagic)
    }
}
