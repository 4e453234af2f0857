import BinlogFormat
import Foundation
@testable import RelayLog
import SystemPackage
import Testing

@Suite("Relay log retention")
struct RetentionTests {
    /// A log of the MySQL fixture in 64 KiB segments, left open.
    static func makeLog(
        _ directory: TemporaryDirectory, hasTarget: Bool, maxAge: Duration? = nil, maxBytes: Int64? = nil
    ) throws -> (RelayLogWriter, FixtureStream) {
        let stream = try FixtureStream.load(FixtureStream.mysql)
        var settings = configuration(directory.path)
        settings.hasTarget = hasTarget
        settings.retentionMaxAge = maxAge
        settings.retentionMaxBytes = maxBytes
        let writer = try RelayLogWriter(configuration: settings)
        try writer.seed(source: SourcePosition(file: stream.sourceFile, position: 4), gtidState: nil)
        try feed(writer, stream)
        try writer.sync()
        return (writer, stream)
    }

    @Test("with a target, only applied segments go, oldest first, never the current one")
    func appliedOnly() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (writer, stream) = try Self.makeLog(directory, hasTarget: true, maxAge: .zero)
        let count = writer.segments.count
        #expect(count >= 10)
        #expect(try writer.purge(appliedUpTo: nil).isEmpty)
        #expect(try writer.purge(appliedUpTo: RelayLogLocation(segment: 1, offset: 50_000)).isEmpty)
        let deleted = try writer.purge(appliedUpTo: RelayLogLocation(segment: 4, offset: 4))
        #expect(deleted == [1, 2, 3].map(Segment.fileName))
        #expect(writer.segments.first?.number == 4)
        // Applied to the very end: everything but the segment being written.
        let end = try #require(writer.durablePosition).location
        #expect(try writer.purge(appliedUpTo: end).count == count - 4)
        #expect(writer.segments.map(\.number) == [end.segment])
        #expect(try directory.segmentFiles().keys.sorted() == [Segment.fileName(end.segment)])
        // The log still works: append more, reopen, read from its first segment.
        try writer.close()
        let reopened = try RelayLogWriter(configuration: configuration(directory.path))
        #expect(reopened.recovered == writer.durablePosition)
        let reader = try RelayLogReader(directory: directory.path)
        #expect(reader.location.segment == end.segment)
        _ = stream
    }

    @Test("without a target, the age and size limits alone decide")
    func limits() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (writer, _) = try Self.makeLog(directory, hasTarget: false, maxAge: .seconds(3600))
        let oldest = try #require(writer.segments.first)
        #expect(try writer.purge(appliedUpTo: nil, now: oldest.modified + 10).isEmpty)
        let count = writer.segments.count
        // An hour after the newest closed segment was written (writing them may span seconds on a busy machine).
        let newestClosed = writer.segments.dropLast().map(\.modified).max() ?? oldest.modified
        let deleted = try writer.purge(appliedUpTo: nil, now: newestClosed + 3600)
        #expect(deleted.count == count - 1)  // all but the current
        #expect(writer.segments.count == 1)

        let other = try TemporaryDirectory()
        defer { other.remove() }
        let (sized, _) = try Self.makeLog(other, hasTarget: false, maxBytes: 1 << 20)
        // Expected: the oldest go while the log is over the limit.
        var total = sized.segments.reduce(Int64(0)) { $0 + $1.size }
        #expect(total > 2 << 20)
        var expected: [String] = []
        for segment in sized.segments.dropLast() where total > 1 << 20 {
            expected.append(segment.fileName)
            total -= segment.size
        }
        let gone = try sized.purge(appliedUpTo: nil)
        #expect(gone == expected)
        #expect(sized.segments.reduce(Int64(0)) { $0 + $1.size } <= 1 << 20)
        #expect(gone.first == Segment.fileName(1))
    }

    @Test("sync runs retention with the applied location it was told")
    func automatic() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let stream = try FixtureStream.load(FixtureStream.mysql)
        var settings = configuration(directory.path)
        settings.hasTarget = true
        settings.retentionMaxAge = .zero
        settings.retentionCheckInterval = .zero
        let writer = try RelayLogWriter(configuration: settings)
        try writer.seed(source: SourcePosition(file: stream.sourceFile, position: 4), gtidState: nil)
        var purged: [String] = []
        for index in stream.events.indices {
            let result = try stream.withEvent(index) { try writer.append($0) }
            if result.syncDue {
                let report = try writer.sync()
                purged += report.purged
                // The applier keeps up two segments behind.
                if let location = report.position?.location, location.segment > 2 {
                    writer.noteApplied(RelayLogLocation(segment: location.segment - 2, offset: 4))
                }
            }
        }
        #expect(!purged.isEmpty)
        #expect(writer.segments.count <= 3)
        #expect(purged.first == Segment.fileName(1))
    }
}
