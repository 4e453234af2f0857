import BinlogFormat
import Foundation
@testable import RelayLog
import SystemPackage
import TestSupport
import Testing

@Suite("Relay log stream handling")
struct StreamTests {
    /// The stream's FORMAT_DESCRIPTION as a server re-sends it on a connection that starts past
    /// position 4: log_pos 0, artificial flag, CRC recomputed.
    static func artificialFormat(_ stream: FixtureStream) -> [UInt8] {
        var bytes = Array(stream.bytes[stream.events[0]])
        for index in 13..<17 { bytes[index] = 0 }
        bytes[17] |= UInt8(EventHeader.artificialFlag)
        bytes[17] &= ~UInt8(EventHeader.binlogInUseFlag)
        let crc = bytes.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[0..<(bytes.count - 4)])) }
        for index in 0..<4 { bytes[bytes.count - 4 + index] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(index))) }
        return bytes
    }

    @Test(
        "reconnecting (mid-transaction too) and resuming where the log says gives the uninterrupted log",
        arguments: [FixtureStream.mariadb, FixtureStream.mysql])
    func reconnect(name: String) throws {
        let reference = try CrashRecoveryTests.reference(name)
        let stream = reference.stream
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        // A small write buffer: parts of a transaction reach the file before it ends.
        let writer = try RelayLogWriter(
            configuration: configuration(directory.path, segmentSize: ReferenceLog.segmentSize, writeBuffer: 4096))
        try writer.append(fakeRotate(file: stream.sourceFile, position: 4))
        var next = 0
        var generator = SplitMix64(seed: 42)
        var reconnects = 0
        while next < stream.events.count {
            // Stream a random stretch, then lose the connection wherever it is.
            let stop = min(stream.events.count, next + Int.random(in: 1...60, using: &generator))
            try feed(writer, stream, next..<stop)
            let resume = try #require(try writer.restartStream())
            reconnects += 1
            // The dump restarts: fake ROTATE to the resume position, the FORMAT_DESCRIPTION again.
            try writer.append(fakeRotate(file: resume.source.file, position: resume.source.position))
            let format = Self.artificialFormat(stream)
            #expect(try writer.append(format).written == false)
            if resume.source.file != stream.sourceFile { break }
            next = try #require(stream.eventIndex(startingAt: resume.source.position))
        }
        try writer.close()
        #expect(reconnects > 10)
        #expect(try directory.segmentFiles() == reference.files)
    }

    @Test("heartbeats and repeated artificial events are not written")
    func notWritten() throws {
        let stream = try FixtureStream.load(FixtureStream.mariadb)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writer = try RelayLogWriter(configuration: configuration(directory.path))
        // Without a CRC on the fake ROTATE too (a replica that did not ask for checksums).
        try writer.append(fakeRotate(file: stream.sourceFile, position: 4, crc: false))
        try feed(writer, stream, 0..<20)
        let heartbeatMidTransaction = makeEvent(
            type: .heartbeat, body: Array(stream.sourceFile.utf8), logPosition: 1, flags: EventHeader.artificialFlag)
        #expect(try writer.append(heartbeatMidTransaction).written == false)
        // A new dump starts at a transaction boundary: the open transaction's events are dropped.
        let before = try #require(try writer.restartStream())
        #expect(writer.appendedPosition == before)
        #expect(before.source.file == stream.sourceFile)
        let heartbeat = makeEvent(
            type: .heartbeat, body: Array(stream.sourceFile.utf8), logPosition: UInt32(before.source.position),
            flags: EventHeader.artificialFlag)
        #expect(try writer.append(heartbeat) == .init(written: false, endsTransaction: false, syncDue: false))
        #expect(try writer.append(fakeRotate(file: before.source.file, position: before.source.position)).written == false)
        #expect(try writer.append(Self.artificialFormat(stream)).written == false)
        // MariaDB's GTID_LIST made up for a GTID connect (log_pos 0): the state it names is the caller's.
        let fakeList = makeEvent(type: .mariadbGTIDList, body: [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0], logPosition: 0)
        #expect(try writer.append(fakeList).written == false)
        #expect(writer.appendedPosition == before)
        try writer.sync()
        #expect(writer.durablePosition == before)
    }

    @Test("a fake ROTATE to another position is recorded, so recovery knows the source position")
    func positionJump() throws {
        let stream = try FixtureStream.load(FixtureStream.mariadb)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writer = try RelayLogWriter(configuration: configuration(directory.path))
        try writer.append(fakeRotate(file: stream.sourceFile, position: 4))
        try feed(writer, stream, 0..<20)
        // A fake ROTATE belongs at the start of a dump, which begins between transactions.
        #expect { try writer.append(fakeRotate(file: "other-bin.000007", position: 1234)) } throws: {
            ($0 as? RelayLogError)?.code == .misuse
        }
        try writer.restartStream()
        #expect(try writer.append(fakeRotate(file: "other-bin.000007", position: 1234)).written)
        let jumped = try #require(writer.appendedPosition)
        #expect(jumped.source == SourcePosition(file: "other-bin.000007", position: 1234))
        try writer.close()
        let reopened = try RelayLogWriter(configuration: configuration(directory.path))
        #expect(reopened.recovered == jumped)
    }

    @Test("a damaged event is refused and leaves the log as it was")
    func badEvents() throws {
        let stream = try FixtureStream.load(FixtureStream.mysql)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writer = try RelayLogWriter(configuration: configuration(directory.path))
        // Nothing before the FORMAT_DESCRIPTION.
        #expect { try stream.withEvent(2) { try writer.append($0) } } throws: {
            ($0 as? RelayLogError)?.code == .misuse
        }
        try feed(writer, stream, 0..<30)
        let before = try #require(writer.appendedPosition)
        var damaged = Array(stream.bytes[stream.events[30]])
        damaged[damaged.count / 2] ^= 0x01
        #expect { try writer.append(damaged) } throws: { ($0 as? RelayLogError)?.code == .badEvent }
        #expect { try writer.append(Array(damaged.prefix(10))) } throws: { ($0 as? RelayLogError)?.code == .badEvent }
        #expect { try writer.append(Array(damaged.dropLast())) } throws: { ($0 as? RelayLogError)?.code == .badEvent }
        // A relay log's own event is not a source event.
        let relayMade = makeEvent(
            type: .rotate, body: Segment.rotateBody(fileName: "relay-000002.bin", position: 4), logPosition: 100,
            flags: 0x40)
        #expect { try writer.append(relayMade) } throws: { ($0 as? RelayLogError)?.code == .badEvent }
        #expect(writer.appendedPosition == before)
        #expect(!writer.isStalled)
        try feed(writer, stream, 30..<stream.events.count)
        try writer.close()
        let events = try readBack(directory.path, upTo: try #require(writer.durablePosition).location)
        #expect(events.filter { !$0.relayMade }.map(\.bytes) == stream.events.map { Array(stream.bytes[$0]) })
    }

    @Test("one writer per directory")
    func lock() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writer = try RelayLogWriter(configuration: configuration(directory.path))
        #expect { try RelayLogWriter(configuration: configuration(directory.path)) } throws: {
            ($0 as? RelayLogError)?.code == .locked
        }
        try writer.close()
        _ = try RelayLogWriter(configuration: configuration(directory.path))
    }

    @Test("group commit: when a sync is due, and the durable position never passes a whole transaction")
    func groupCommit() throws {
        let stream = try FixtureStream.load(FixtureStream.mysql)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var settings = configuration(directory.path)
        settings.syncInterval = .seconds(3600)
        settings.maxUnsyncedBytes = 32 << 10
        let writer = try RelayLogWriter(configuration: settings)
        var dueAt: [Int] = []
        var unsynced = 0
        for index in stream.events.indices.prefix(400) {
            let result = try stream.withEvent(index) { try writer.append($0) }
            unsynced += stream.events[index].count
            if result.syncDue {
                dueAt.append(unsynced)
                let report = try writer.sync()
                #expect(report.bytesSynced >= 32 << 10)
                #expect(report.position == writer.appendedPosition || !result.endsTransaction)
                unsynced = 0
            }
        }
        #expect(dueAt.count >= 3)
        #expect(dueAt.allSatisfy { $0 >= 32 << 10 })

        // Mid-transaction: a sync makes the bytes durable but the position stays at the last end.
        let directory2 = try TemporaryDirectory()
        defer { directory2.remove() }
        let other = try RelayLogWriter(configuration: configuration(directory2.path))
        var index = 0
        var lastEnd: RelayLogPosition?
        while index < stream.events.count {
            let result = try stream.withEvent(index) { try other.append($0) }
            index += 1
            if result.endsTransaction { lastEnd = other.appendedPosition }
            if !result.endsTransaction && lastEnd != nil && index > 50 { break }
        }
        let report = try other.sync()
        #expect(report.position == lastEnd)
        #expect(report.fsyncDuration > .zero)

        // Interval zero (the default): every transaction end is due.
        let directory3 = try TemporaryDirectory()
        defer { directory3.remove() }
        let eager = try RelayLogWriter(configuration: configuration(directory3.path))
        for index in stream.events.indices.prefix(100) {
            let result = try stream.withEvent(index) { try eager.append($0) }
            #expect(result.syncDue == result.endsTransaction)
            if result.syncDue { try eager.sync() }
        }
    }

    @Test("GTID state text: MySQL sets and MariaDB positions parse and print as the servers do")
    func gtidText() throws {
        let mysql = try #require(
            GTIDState(parsing: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7:9-10, 4e11fa47-71ca-11e1-9e33-c80aa9429562:tag:3"))
        #expect(
            mysql.description
                == "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7:9-10,4e11fa47-71ca-11e1-9e33-c80aa9429562:tag:3")
        var set = mysql
        let sid = try #require(UUID16("3e11fa47-71ca-11e1-9e33-c80aa9429562"))
        set.insert(sid: sid, tag: nil, gno: 6)
        set.insert(sid: sid, tag: nil, gno: 8)
        set.insert(sid: sid, tag: nil, gno: 11)
        set.insert(sid: sid, tag: "a", gno: 1)
        #expect(
            set.description
                == "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-11:a:1,4e11fa47-71ca-11e1-9e33-c80aa9429562:tag:3")
        #expect(set.contains(sid: sid, gno: 8))
        #expect(!set.contains(sid: sid, gno: 12))
        #expect(GTIDState(parsing: set.description) == set)
        let mariadb = try #require(GTIDState(parsing: "7-1-3,0-1-42"))
        #expect(mariadb.description == "0-1-42,7-1-3")
        #expect(mariadb.mariadbGTID(domain: 7)?.sequence == 3)
        #expect(GTIDState(parsing: "") == GTIDState())
        #expect(GTIDState(parsing: "nonsense") == nil)
        #expect(GTIDState(parsing: "3e11fa47-71ca-11e1-9e33-c80aa9429562:5-2") == nil)
    }

    @Test("a seed GTID state is recorded in the first segment and survives a restart")
    func seed() throws {
        let stream = try FixtureStream.load(FixtureStream.mysql)
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writer = try RelayLogWriter(configuration: configuration(directory.path))
        let seed = try #require(GTIDState(parsing: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-100"))
        try writer.seed(source: SourcePosition(file: "binlog.000693", position: 4), gtidState: seed)
        try feed(writer, stream, 0..<10)
        #expect { try writer.seed(source: nil, gtidState: seed) } throws: { ($0 as? RelayLogError)?.code == .misuse }
        try writer.close()
        let reopened = try RelayLogWriter(configuration: configuration(directory.path))
        #expect(reopened.recovered?.gtidState == seed)
        #expect(reopened.segments.first?.gtidState == seed)
        #expect(reopened.recovered?.source.file == "binlog.000693")
    }
}
