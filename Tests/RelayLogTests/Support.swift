import BinlogFormat
import Foundation
@testable import RelayLog
import Synchronization
import SystemPackage
import TestSupport
import Testing

/// A recorded binlog file used as if a server streamed it: its events after the magic.
struct FixtureStream: Sendable {
    let name: String
    let bytes: [UInt8]
    /// Byte ranges of the events (the range's start is the event's position in the source file).
    let events: [Range<Int>]

    static let root = Repository.fixtures

    static let mariadb = "mariadb-10.11/every-type-full.000001"
    static let mariadbCompressed = "mariadb-10.11/every-type-full-compressed.000001"
    static let mysql = "peers/mysql-cdc-rs/8.0/folder/binlog.000693"
    static let mysqlCompressed = "peers/rust_mysql_common/transaction_compression.000001"

    private static let cache = Mutex<[String: FixtureStream]>([:])

    static func load(_ name: String) throws -> FixtureStream {
        if let cached = cache.withLock({ $0[name] }) { return cached }
        let data = try Data(contentsOf: root.appendingPathComponent(name))
        let bytes = [UInt8](data)
        var events: [Range<Int>] = []
        var offset = 4
        while offset + 19 <= bytes.count {
            let size = Int(bytes[offset + 9]) | Int(bytes[offset + 10]) << 8 | Int(bytes[offset + 11]) << 16
                | Int(bytes[offset + 12]) << 24
            events.append(offset..<(offset + size))
            offset += size
        }
        let stream = FixtureStream(name: name, bytes: bytes, events: events)
        cache.withLock { $0[name] = stream }
        return stream
    }

    /// The source file name the stream pretends to come from.
    var sourceFile: String { String(name.split(separator: "/").last!) }

    func withEvent<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[events[index]])) }
    }

    /// Index of the event that starts at a source position (`events.count` at the end of the file).
    func eventIndex(startingAt position: UInt64) -> Int? {
        if position == UInt64(bytes.count) { return events.count }
        return events.firstIndex { UInt64($0.lowerBound) == position }
    }
}

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory: Sendable {
    let url: URL
    var path: FilePath { FilePath(url.path) }

    init(_ label: String = "relaylog") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }

    func sub(_ name: String) -> FilePath { path.appending(name) }

    /// The segment files' contents, by name.
    func segmentFiles(_ directory: FilePath? = nil) throws -> [String: [UInt8]] {
        let base = URL(fileURLWithPath: (directory ?? path).string)
        var files: [String: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: base.path) where name.hasSuffix(".bin") {
            files[name] = [UInt8](try Data(contentsOf: base.appendingPathComponent(name)))
        }
        return files
    }
}

func configuration(
    _ directory: FilePath, segmentSize: Int64 = 64 << 10, writeBuffer: Int = 1 << 20,
    stateFileInterval: Duration = .seconds(3600)
) -> RelayLogConfiguration {
    RelayLogConfiguration(
        directory: directory, segmentSizeLimit: segmentSize, writeBufferSize: writeBuffer,
        stateFileInterval: stateFileInterval, retentionMaxAge: nil, retentionCheckInterval: .seconds(1_000_000))
}

/// Appends events `range` of a fixture; syncs when asked to (or never, with `syncs: false`).
/// Returns the durable positions the syncs reported.
@discardableResult
func feed(
    _ writer: RelayLogWriter, _ stream: FixtureStream, _ range: Range<Int>? = nil, syncs: Bool = true
) throws -> [RelayLogPosition] {
    var positions: [RelayLogPosition] = []
    for index in range ?? 0..<stream.events.count {
        let result = try stream.withEvent(index) { try writer.append($0) }
        if syncs && result.syncDue, let position = try writer.sync().position { positions.append(position) }
    }
    return positions
}

/// Every event of the log from its first segment up to `end`, with where it is.
func readBack(_ directory: FilePath, upTo end: RelayLogLocation) throws -> [(entry: RelayLogLocation, bytes: [UInt8], relayMade: Bool)] {
    let reader = try RelayLogReader(directory: directory)
    var events: [(RelayLogLocation, [UInt8], Bool)] = []
    while let entry = try reader.next(upTo: end) {
        events.append((entry.location, Array(entry.bytes), entry.isRelayMade))
    }
    return events
}

/// Builds an event with the test's own hands: header, body, CRC32.
func makeEvent(
    type: EventType, body: [UInt8], timestamp: UInt32 = 1_700_000_000, serverID: UInt32 = 1, logPosition: UInt32,
    flags: UInt16 = 0, crc: Bool = true
) -> [UInt8] {
    Segment.event(
        type: type, body: body, timestamp: timestamp, serverID: serverID, endOffset: Int64(logPosition), flags: flags,
        checksum: crc ? .crc32 : .off)
}

/// The source's fake ROTATE that opens a dump (timestamp 0, log_pos 0, artificial).
func fakeRotate(file: String, position: UInt64, crc: Bool = true) -> [UInt8] {
    var bytes = makeEvent(
        type: .rotate, body: Segment.rotateBody(fileName: file, position: position), logPosition: 0,
        flags: EventHeader.artificialFlag, crc: crc)
    // Segment.event never writes timestamp 0; a server's fake ROTATE has it.
    bytes.replaceSubrange(0..<4, with: [0, 0, 0, 0])
    if crc {
        let crc = bytes.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[0..<(bytes.count - 4)])) }
        bytes.replaceSubrange((bytes.count - 4)..., with: (0..<4).map { UInt8(truncatingIfNeeded: crc >> (8 * $0)) })
    }
    return bytes
}

extension RelayLogWriter {
    @discardableResult
    func append(_ bytes: [UInt8]) throws -> AppendResult {
        try bytes.withUnsafeBytes { try append($0) }
    }
}

/// Whether `mariadb-binlog` (or `mysqlbinlog`) is installed, for the "a stock tool reads it" checks.
let stockBinlogTool: String? = ["/usr/bin/mariadb-binlog", "/usr/bin/mysqlbinlog"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

