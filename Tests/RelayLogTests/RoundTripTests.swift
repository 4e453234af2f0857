import BinlogFormat
import Foundation
@testable import RelayLog
import SystemPackage
import TestSupport
import Testing

@Suite("Relay log round trip")
struct RoundTripTests {
    @Test(
        "events read back byte for byte, segments valid binlog files rolled at transaction boundaries",
        arguments: [
            FixtureStream.mariadb, FixtureStream.mariadbCompressed, FixtureStream.mysql,
            FixtureStream.mysqlCompressed,
        ])
    func roundTrip(name: String) throws {
        let stream = try FixtureStream.load(name)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let limit: Int64 = 64 << 10
        let writer = try RelayLogWriter(configuration: configuration(directory.path, segmentSize: limit))
        #expect(writer.recovered == nil)
        try writer.seed(source: SourcePosition(file: stream.sourceFile, position: 4), gtidState: nil)
        let positions = try feed(writer, stream)
        try writer.close()
        let durable = try #require(writer.durablePosition)
        #expect(positions.last == durable)

        // The source events come back in order, byte for byte; relay-made ones are marked.
        let events = try readBack(directory.path, upTo: durable.location)
        let sourceEvents = events.filter { !$0.relayMade }.map(\.bytes)
        let expected = stream.events.map { Array(stream.bytes[$0]) }
        #expect(sourceEvents.count == expected.count)
        #expect(sourceEvents == expected)

        // Every segment is a binlog file the decoder reads to its end, CRCs verified; every one but
        // the last is over the limit, was closed at the first transaction end past it, and ends with
        // a ROTATE naming the next.
        let files = try directory.segmentFiles()
        let names = files.keys.sorted()
        if stream.bytes.count > 2 * Int(limit) { #expect(names.count >= 2) }
        for (index, name) in names.enumerated() {
            let bytes = files[name]!
            var ends: [Int] = []
            var last: BinlogEvent.Summary?
            try bytes.withUnsafeBytes { raw in
                var reader = try BinlogFileReader(bytes: raw, file: name)
                var tracker = TransactionBoundaryTracker()
                while let event = try reader.next() {
                    if tracker.consume(event) && event.type != .rotate { ends.append(reader.offset) }
                    last = BinlogEvent.Summary(event)
                }
                #expect(reader.offset == raw.count, "\(name) read to its end")
            }
            guard index < names.count - 1 else { continue }
            #expect(last?.type == .rotate && last?.rotateTarget == names[index + 1], "\(name) ends with the ROTATE")
            #expect(last.map { $0.flags & 0x40 != 0 } == true)
            #expect(Int64(bytes.count) >= limit, "\(name) is \(bytes.count) bytes")
            // The transaction end before the last one was still under the limit.
            if ends.count >= 2 { #expect(Int64(ends[ends.count - 2]) < limit, "\(name) rolled late") }
        }

        // Reopening finds the same position: nothing to repair.
        let reopened = try RelayLogWriter(configuration: configuration(directory.path, segmentSize: limit))
        #expect(reopened.recovered == durable)
        #expect(reopened.recoveryReport.truncatedBytes == 0)
        #expect(reopened.segments.map(\.fileName) == names)
    }

    @Test("a stock mariadb-binlog reads every segment", .enabled(if: stockBinlogTool != nil))
    func stockToolReadsSegments() throws {
        let stream = try FixtureStream.load(FixtureStream.mariadb)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writer = try RelayLogWriter(configuration: configuration(directory.path))
        try writer.append(fakeRotate(file: stream.sourceFile, position: 4))
        try feed(writer, stream)
        try writer.close()
        let names = try directory.segmentFiles().keys.sorted()
        #expect(names.count >= 3)
        for name in names {
            let result = try runProgram(stockBinlogTool!, ["-vv", directory.path.appending(name).string])
            #expect(result.status == 0, "\(name): \(result.errorText)")
            #expect(!result.errorText.contains("ERROR"), "\(name): \(result.errorText)")
            #expect(result.outputText.contains("End of log file"), "\(name) printed to its end")
            if ProcessInfo.processInfo.environment["RELAY_LOG_TEST_VERBOSE"] != nil {
                print(result.outputText.split(separator: "\n").prefix(40).joined(separator: "\n"))
                print(result.outputText.split(separator: "\n").suffix(12).joined(separator: "\n"))
            }
        }
    }

    @Test("the source position, GTID state and format follow the stream")
    func positionsFollowTheStream() throws {
        let withGTIDs = [
            "peers/mysql-cdc-rs/5.7/32_delete_rows_v2/log.bin", "peers/rust_mysql_common/binlog-invisible-columns.000001",
            "peers/rust_mysql_common/binlog_transaction_with_GTID_TAG.000001",
        ]
        for name in [FixtureStream.mariadb, FixtureStream.mysql] + withGTIDs {
            let stream = try FixtureStream.load(name)
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let writer = try RelayLogWriter(configuration: configuration(directory.path))
            // A stream opens with the fake ROTATE (CRC32 included: the checksum is not known yet).
            try writer.append(fakeRotate(file: stream.sourceFile, position: 4))
            var expectedGTIDs = GTIDState()
            var boundary = TransactionBoundaryTracker()
            var lastEnd = SourcePosition(file: stream.sourceFile, position: 4)
            var pending: (() -> Void)?
            try stream.bytes.withUnsafeBytes { raw in
                var reader = try BinlogFileReader(bytes: raw)
                while let event = try reader.next() {
                    switch event.payload {
                    case .gtid(let gtid) where !gtid.isAnonymous:
                        pending = { expectedGTIDs.insert(sid: gtid.sid, tag: gtid.tag, gno: gtid.gno) }
                    case .mariadbGTID(let gtid): pending = { expectedGTIDs.record(gtid.gtid) }
                    case .previousGTIDs(let set): expectedGTIDs.formUnion(set)
                    case .mariadbGTIDList(let list): expectedGTIDs.apply(list: list)
                    default: break
                    }
                    let result = try writer.append(event.bytes)
                    if boundary.consume(event) {
                        pending?()
                        pending = nil
                        lastEnd.position = UInt64(event.header.logPosition)
                        if case .rotate(let rotate) = event.payload {
                            lastEnd = SourcePosition(file: rotate.fileNameString, position: rotate.position)
                        }
                        #expect(result.endsTransaction)
                        let appended = try #require(writer.appendedPosition)
                        #expect(appended.source == lastEnd)
                        #expect(appended.gtidState == expectedGTIDs, "\(appended.gtidState) vs \(expectedGTIDs)")
                    }
                }
            }
            let position = try #require(try writer.sync().position)
            #expect(position.source == lastEnd)
            #expect(position.formatDescription == Array(stream.bytes[stream.events[0]]))
            #expect(position.gtidState.isEmpty == (name == FixtureStream.mysql), "\(name): \(position.gtidState)")
            if name == FixtureStream.mariadb {
                // MariaDB: the last GTID per domain, in MariaDB's text form.
                #expect(position.gtidState.description.range(of: #"^\d+-\d+-\d+(,\d+-\d+-\d+)*$"#, options: .regularExpression) != nil)
            } else if name != FixtureStream.mysql {
                #expect(position.gtidState.description.contains(":"))
            }
            if name == FixtureStream.mysql {
                #expect(position.commitTimestampMicroseconds.map { $0 > 1_500_000_000_000_000 } == true)
            }
            print("\(name): GTID state \(position.gtidState)")
            // Its text parses back to the same state.
            #expect(GTIDState(parsing: position.gtidState.description) == position.gtidState)
            try writer.close()
            let reopened = try RelayLogWriter(configuration: configuration(directory.path))
            #expect(reopened.recovered == position)
        }
    }

    @Test("a reader started at a durable position yields exactly the events after it")
    func readerFromPosition() throws {
        let stream = try FixtureStream.load(FixtureStream.mysql)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writer = try RelayLogWriter(configuration: configuration(directory.path))
        try writer.seed(source: SourcePosition(file: stream.sourceFile, position: 4), gtidState: nil)
        let positions = try feed(writer, stream)
        try writer.close()
        let end = try #require(writer.durablePosition).location
        for position in [positions[positions.count / 3], positions[positions.count / 2], positions[positions.count - 2]] {
            let reader = try RelayLogReader(directory: directory.path, from: position.location)
            #expect(reader.formatDescription == Array(stream.bytes[stream.events[0]]))
            var read: [[UInt8]] = []
            while let entry = try reader.next(upTo: end) {
                if !entry.isRelayMade { read.append(Array(entry.bytes)) }
            }
            let first = try #require(stream.eventIndex(startingAt: position.source.position))
            #expect(read == stream.events[first...].map { Array(stream.bytes[$0]) })
            // Up to a limit, and no further.
            let limited = try RelayLogReader(directory: directory.path, from: position.location)
            var count = 0
            while try limited.next(upTo: position.location) != nil { count += 1 }
            #expect(count == 0)
        }
    }
}

extension BinlogEvent {
    /// What a test keeps of an event after the next one is decoded.
    struct Summary {
        var type: EventType
        var flags: UInt16
        var rotateTarget: String?

        init(_ event: BinlogEvent) {
            type = event.type
            flags = event.header.flags
            if case .rotate(let rotate) = event.payload { rotateTarget = rotate.fileNameString }
        }
    }
}

