import BinlogFormat
import Foundation
@testable import RelayLog
import SystemPackage
import Synchronization
import TestSupport
import Testing

/// A log written without interruption, to compare interrupted runs with.
final class ReferenceLog: Sendable {
    let stream: FixtureStream
    let directory: TemporaryDirectory
    let files: [String: [UInt8]]
    let names: [String]
    /// Appended positions after every event that ended a transaction, by location.
    let positions: [RelayLogLocation: RelayLogPosition]
    /// Per segment: where its prologue ends and where each transaction in it ends (the places
    /// recovery may cut), found by reading the files with the decoder and a boundary tracker.
    let cutPoints: [[Int64]]

    static let segmentSize: Int64 = 64 << 10

    init(_ name: String) throws {
        stream = try FixtureStream.load(name)
        directory = try TemporaryDirectory("reference")
        let writer = try RelayLogWriter(configuration: configuration(directory.path, segmentSize: Self.segmentSize))
        try writer.seed(source: SourcePosition(file: stream.sourceFile, position: 4), gtidState: nil)
        var positions: [RelayLogLocation: RelayLogPosition] = [:]
        for index in stream.events.indices {
            let result = try stream.withEvent(index) { try writer.append($0) }
            if result.endsTransaction, let position = writer.appendedPosition { positions[position.location] = position }
            if result.syncDue { try writer.sync() }
        }
        try writer.close()
        self.positions = positions
        files = try directory.segmentFiles()
        names = files.keys.sorted()
        var cutPoints: [[Int64]] = []
        for name in names {
            var points: [Int64] = []
            try files[name]!.withUnsafeBytes { raw in
                var reader = try BinlogFileReader(bytes: raw)
                var tracker = TransactionBoundaryTracker()
                var inPrologue = true
                while let event = try reader.next() {
                    let ends = tracker.consume(event)
                    if inPrologue {
                        if event.type == .rotate && event.header.flags & 0x60 == 0x60 {
                            inPrologue = false
                            points.append(Int64(reader.offset))
                        }
                        continue
                    }
                    if event.type == .rotate && event.header.flags & 0x40 != 0 { continue }  // closing
                    if ends { points.append(Int64(reader.offset)) }
                }
            }
            cutPoints.append(points)
        }
        self.cutPoints = cutPoints
    }

    deinit { directory.remove() }

    /// Where recovery must land after a crash that left segment `segment` (1-based) `size` bytes
    /// long and no later segment: nil when nothing complete is left.
    func expectedRecovery(segment: Int, size: Int64) -> RelayLogLocation? {
        var index = segment - 1
        var limit = size
        while index >= 0 {
            if let point = cutPoints[index].last(where: { $0 <= limit }) {
                return RelayLogLocation(segment: index + 1, offset: point)
            }
            // The prologue itself is torn: that segment goes, and the one before loses its ROTATE.
            index -= 1
            limit = .max
        }
        return nil
    }

    /// Lays out the reference's segments 1..<segment whole, segment `segment` cut (or changed) by
    /// `body`, and none after it.
    func crashCopy(segment: Int, into directory: TemporaryDirectory, _ body: (inout [UInt8]) -> Void) throws {
        for (index, name) in names.enumerated() where index < segment {
            var bytes = files[name]!
            if index == segment - 1 { body(&bytes) }
            try Data(bytes).write(to: directory.url.appendingPathComponent(name))
        }
    }

    /// Reopens a crashed copy, checks where recovery landed, appends the rest of the stream from
    /// the position it reports, and checks the result is the reference, byte for byte.
    func recoverAndFinish(
        _ directory: TemporaryDirectory, expected: RelayLogLocation?, context: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let writer = try RelayLogWriter(configuration: configuration(directory.path, segmentSize: Self.segmentSize))
        let recovered = writer.recovered
        #expect(recovered?.location == expected, "\(context)", sourceLocation: sourceLocation)
        var first = 0
        if let recovered {
            if let reference = positions[recovered.location] {
                #expect(recovered == reference, "\(context)", sourceLocation: sourceLocation)
            }
            if recovered.source.file == stream.sourceFile {
                first = try #require(
                    stream.eventIndex(startingAt: recovered.source.position),
                    "\(context): no event starts at \(recovered.source)", sourceLocation: sourceLocation)
            } else {
                first = stream.events.count  // after the source's final ROTATE: nothing left
            }
        } else {
            try writer.seed(source: SourcePosition(file: stream.sourceFile, position: 4), gtidState: nil)
        }
        try feed(writer, stream, first..<stream.events.count, syncs: false)
        try writer.close()
        let files = try directory.segmentFiles()
        #expect(files.keys.sorted() == names, "\(context)", sourceLocation: sourceLocation)
        for name in names where files[name] != self.files[name] {
            Issue.record("\(context): \(name) differs from the uninterrupted run", sourceLocation: sourceLocation)
        }
    }
}

@Suite("Crash recovery", .serialized)
struct CrashRecoveryTests {
    private static let references = Mutex<[String: ReferenceLog]>([:])

    /// The reference log of a fixture, written once per test run.
    static func reference(_ name: String) throws -> ReferenceLog {
        try references.withLock { cache in
            if let reference = cache[name] { return reference }
            let reference = try ReferenceLog(name)
            cache[name] = reference
            return reference
        }
    }

    @Test("cut at every byte around a segment boundary: recovery lands on the last whole transaction")
    func everyOffsetAroundABoundary() throws {
        let reference = try Self.reference(FixtureStream.mariadb)
        #expect(reference.names.count >= 4)
        let segment = 3
        let size = Int64(reference.files[reference.names[segment - 1]]!.count)
        let window = 600
        let offsets = Array(0..<window) + Array(Int(size) - window...Int(size))
        for offset in offsets {
            let directory = try TemporaryDirectory("crash")
            defer { directory.remove() }
            try reference.crashCopy(segment: segment, into: directory) { $0.removeSubrange(offset...) }
            try reference.recoverAndFinish(
                directory, expected: reference.expectedRecovery(segment: segment, size: Int64(offset)),
                context: "segment \(segment) cut at \(offset)")
        }
    }

    @Test("cut at random places in both dialects", arguments: ["mariadb", "mysql"])
    func randomOffsets(dialect: String) throws {
        let reference = try Self.reference(dialect == "mysql" ? FixtureStream.mysql : FixtureStream.mariadb)
        var generator = SplitMix64(seed: dialect == "mysql" ? 693 : 1011)
        for _ in 0..<40 {
            let segment = Int.random(in: 1...reference.names.count, using: &generator)
            let size = reference.files[reference.names[segment - 1]]!.count
            let offset = Int.random(in: 0...size, using: &generator)
            let directory = try TemporaryDirectory("crash")
            defer { directory.remove() }
            try reference.crashCopy(segment: segment, into: directory) { $0.removeSubrange(offset...) }
            try reference.recoverAndFinish(
                directory, expected: reference.expectedRecovery(segment: segment, size: Int64(offset)),
                context: "\(dialect): segment \(segment) cut at \(offset)")
        }
    }

    @Test("a damaged byte in the tail (bad CRC, bad size) is cut off with what follows it")
    func damagedTail() throws {
        let reference = try Self.reference(FixtureStream.mariadb)
        let segment = reference.names.count
        let bytes = reference.files[reference.names[segment - 1]]!
        // Where each event of the last segment starts, to know which one a damaged byte is in.
        var starts: [Int] = []
        var offset = 4
        while offset < bytes.count {
            starts.append(offset)
            offset += Int(bytes[offset + 9]) | Int(bytes[offset + 10]) << 8 | Int(bytes[offset + 11]) << 16
        }
        for position in stride(from: bytes.count - 700, to: bytes.count, by: 3) {
            let directory = try TemporaryDirectory("damage")
            defer { directory.remove() }
            try reference.crashCopy(segment: segment, into: directory) { $0[position] ^= 0xA5 }
            let eventStart = starts.last { $0 <= position }!
            try reference.recoverAndFinish(
                directory, expected: reference.expectedRecovery(segment: segment, size: Int64(eventStart)),
                context: "byte \(position) damaged (event at \(eventStart))")
        }
    }

    @Test("zeros at the tail (a file extended but not written before power loss) are cut off")
    func zeroFilledTail() throws {
        let reference = try Self.reference(FixtureStream.mysql)
        let segment = 2
        for (cut, zeros) in [(10_000, 4096), (20_011, 19), (30_000, 1)] {
            let directory = try TemporaryDirectory("zeros")
            defer { directory.remove() }
            try reference.crashCopy(segment: segment, into: directory) {
                $0.removeSubrange(cut...)
                $0 += [UInt8](repeating: 0, count: zeros)
            }
            try reference.recoverAndFinish(
                directory, expected: reference.expectedRecovery(segment: segment, size: Int64(cut)),
                context: "segment \(segment) cut at \(cut) + \(zeros) zeros")
        }
    }

    @Test("the state file is a hint: behind is normal, ahead of the segments gives a warning")
    func stateFileHint() throws {
        let reference = try Self.reference(FixtureStream.mariadb)
        let directory = try TemporaryDirectory("hint")
        defer { directory.remove() }
        // Reference state file: written at close, so it names the very end.
        try reference.crashCopy(segment: reference.names.count, into: directory) { $0.removeSubrange(($0.count - 200)...) }
        let stateText = try String(contentsOf: reference.directory.url.appendingPathComponent("relay.state"), encoding: .utf8)
        try stateText.write(to: directory.url.appendingPathComponent("relay.state"), atomically: true, encoding: .utf8)
        let writer = try RelayLogWriter(configuration: configuration(directory.path, segmentSize: ReferenceLog.segmentSize))
        #expect(writer.recoveryReport.truncatedBytes > 0)
        #expect(writer.recoveryReport.warnings.count == 1)
        #expect(writer.recoveryReport.warnings.first?.contains("lost data it had confirmed") == true)
        // Recovery rewrote the state file with what the log really holds.
        let state = try #require(RelayLogState.read(directory: directory.path))
        #expect(state.location == writer.recovered?.location)
        #expect(state.source == writer.recovered?.source)
        #expect(state.gtidState == writer.recovered?.gtidState)
    }

    @Test("a closed segment that does not reach its successor, or a missing segment, is refused as damage")
    func damageIsRefused() throws {
        let reference = try Self.reference(FixtureStream.mariadb)
        do {
            let directory = try TemporaryDirectory("damage")
            defer { directory.remove() }
            try reference.crashCopy(segment: reference.names.count, into: directory) { _ in }
            let second = directory.url.appendingPathComponent(reference.names[1])
            try Data(reference.files[reference.names[1]]!.dropLast(100)).write(to: second)
            #expect { try RelayLogWriter(configuration: configuration(directory.path)) } throws: {
                ($0 as? RelayLogError)?.code == .corrupt
            }
        }
        do {
            let directory = try TemporaryDirectory("gap")
            defer { directory.remove() }
            try reference.crashCopy(segment: reference.names.count, into: directory) { _ in }
            try FileManager.default.removeItem(at: directory.url.appendingPathComponent(reference.names[1]))
            #expect { try RelayLogWriter(configuration: configuration(directory.path)) } throws: {
                ($0 as? RelayLogError)?.code == .corrupt
            }
        }
    }
}
