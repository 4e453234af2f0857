import BinlogFormat
import Foundation
import TestSupport
import Testing

/// MySQL 8 compressed transactions are decompressed as a stream, never whole.
@Suite("Transaction payloads")
struct TransactionPayloadTests {
    static let fixture = Repository.fixture("peers/rust_mysql_common/transaction_compression.000001")

    static func zstd(_ arguments: [String], input: Data) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["zstd"] + arguments
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Feed and drain on separate threads so large data cannot deadlock on pipe buffers.
        let writer = Thread { stdin.fileHandleForWriting.write(input); try? stdin.fileHandleForWriting.close() }
        writer.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return output
    }

    @Test("a 60 MB transaction decodes event by event in a window the size of one event")
    func largeTransactionIsStreamed() throws {
        let file = [UInt8](try Data(contentsOf: Self.fixture))
        // Take the fixture's payload: its inner events are QUERY, TABLE_MAP, WRITE_ROWS, XID.
        var formatDescription: FormatDescription?
        var innerEvents: [[UInt8]] = []
        var payloadHeader = TransactionPayloadFixture()
        try file.withUnsafeBytes { bytes in
            var reader = try BinlogFileReader(bytes: bytes)
            while let event = try reader.next() {
                if case .formatDescription(let description) = event.payload { formatDescription = description }
                if case .transactionPayload(let payload) = event.payload {
                    payloadHeader.header = Array(event.bytes.prefix(19))
                    try reader.decoder.forEachEvent(in: payload) { (inner: BinlogEvent) throws(BinlogError) in
                        innerEvents.append(Array(inner.bytes))
                    }
                }
            }
        }
        #expect(innerEvents.count == 4)
        // BEGIN, then the table map and row event repeated, then the XID: one huge transaction.
        var uncompressed: [UInt8] = innerEvents[0]
        let repeated = innerEvents[1] + innerEvents[2]
        let copies = 60_000_000 / repeated.count
        uncompressed.reserveCapacity(copies * repeated.count + 64)
        for _ in 0..<copies { uncompressed += repeated }
        uncompressed += innerEvents[3]
        let compressed = [UInt8](try Self.zstd(["-q", "-c", "-1"], input: Data(uncompressed)))
        let event = payloadHeader.event(compressed: compressed, uncompressedSize: uncompressed.count)

        var decoder = BinlogDecoder()
        decoder.use(formatDescription!)
        var rowEvents = 0
        var rows = 0
        let statistics = try event.withUnsafeBytes { bytes in
            let decoded = try decoder.decode(bytes, at: 0)
            guard case .transactionPayload(let payload) = decoded.payload else { throw PayloadTestError() }
            return try decoder.forEachEvent(in: payload) { (inner: BinlogEvent) throws(BinlogError) in
                if case .rows(let rowsEvent) = inner.payload {
                    rowEvents += 1
                    rows += try rowsEvent.rowCount()
                }
            }
        }
        #expect(statistics.events == 2 + 2 * copies)
        #expect(statistics.uncompressedBytes == uncompressed.count)
        #expect(rowEvents == copies && rows >= copies)
        // The window grows to hold one event, never the transaction.
        #expect(statistics.largestWindow <= 1 << 17, "window \(statistics.largestWindow) bytes for \(uncompressed.count)")
    }

    @Test("a truncated or damaged zstd payload is an error, not a crash")
    func damagedPayload() throws {
        let body = [UInt8](repeating: 0x41, count: 1000)
        var event = TransactionPayloadFixture()
        event.header = [0, 0, 0, 0, 40, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        let compressed = [UInt8](try Self.zstd(["-q", "-c"], input: Data(body)))
        for cut in [1, compressed.count / 2, compressed.count - 1] {
            let bytes = event.event(compressed: Array(compressed.prefix(cut)), uncompressedSize: body.count)
            var decoder = BinlogDecoder()
            decoder.use(FormatDescription(binlogVersion: 4, serverVersion: "8.0.32", createTimestamp: 0, headerLength: 19,
                                          postHeaderLengths: [], checksumAlgorithm: .crc32))
            let result: Result<PayloadStatistics, BinlogError> = bytes.withUnsafeBytes { raw in
                do throws(BinlogError) {
                    let decoded = try decoder.decode(raw, at: 0)
                    guard case .transactionPayload(let payload) = decoded.payload else { return .success(.init()) }
                    return .success(try decoder.forEachEvent(in: payload) { _ in })
                } catch {
                    return .failure(error)
                }
            }
            if case .success = result { Issue.record("a payload cut to \(cut) bytes decoded") }
        }
    }
}

typealias PayloadStatistics = BinlogDecoder.PayloadStatistics

struct PayloadTestError: Error {}

/// Builds a TRANSACTION_PAYLOAD event: common header, the TLV fields (payload size, compression
/// zstd, uncompressed size, end mark), the payload and a CRC32.
struct TransactionPayloadFixture {
    var header: [UInt8] = []

    func event(compressed: [UInt8], uncompressedSize: Int) -> [UInt8] {
        func packed(_ value: Int) -> [UInt8] {
            if value < 251 { return [UInt8(value)] }
            if value < 1 << 16 { return [0xFC, UInt8(value & 0xFF), UInt8(value >> 8)] }
            if value < 1 << 24 { return [0xFD, UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16)] }
            return [0xFE] + (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        }
        func field(_ type: Int, _ value: Int) -> [UInt8] {
            let encoded = packed(value)
            return packed(type) + packed(encoded.count) + encoded
        }
        let fields = field(1, compressed.count) + field(2, 0) + field(3, uncompressedSize) + [0]
        var event = header
        let size = 19 + fields.count + compressed.count + 4
        for index in 0..<4 { event[9 + index] = UInt8(truncatingIfNeeded: size >> (8 * index)) }
        event += fields + compressed
        let checksum = event.withUnsafeBytes { crc32($0) }
        for index in 0..<4 { event.append(UInt8(truncatingIfNeeded: checksum >> (8 * UInt32(index)))) }
        return event
    }
}
