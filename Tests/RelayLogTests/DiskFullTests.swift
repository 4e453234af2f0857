import BinlogFormat
import Foundation
@testable import RelayLog
import SystemPackage
import TestSupport
import Testing

/// A small tmpfs, for a file system that really fills up (needs root, as in the project's
/// containers and CI; the test is skipped where `mount` is refused).
enum Tmpfs {
    static let available: Bool = {
        guard let directory = try? TemporaryDirectory("tmpfs-probe") else { return false }
        defer { directory.remove() }
        guard mount(directory, size: "64k") else { return false }
        unmount(directory)
        return true
    }()

    @discardableResult
    static func mount(_ directory: TemporaryDirectory, size: String, remount: Bool = false) -> Bool {
        let options = remount ? "remount,size=\(size)" : "size=\(size)"
        let result = try? runProgram("/bin/mount", ["-t", "tmpfs", "-o", options, "tmpfs", directory.url.path])
        return result?.status == 0
    }

    static func unmount(_ directory: TemporaryDirectory) {
        _ = try? runProgram("/bin/umount", [directory.url.path])
    }
}

@Suite("Disk full", .serialized)
struct DiskFullTests {
    /// Streams the MySQL fixture until the log fails; returns the last durable position and the error.
    static func fill(_ writer: RelayLogWriter, _ stream: FixtureStream) -> (RelayLogPosition?, RelayLogError?) {
        var durable: RelayLogPosition?
        for index in stream.events.indices {
            do {
                let result = try stream.withEvent(index) { try writer.append($0) }
                if result.syncDue { durable = try writer.sync().position }
            } catch {
                return (durable, error as? RelayLogError)
            }
        }
        return (durable, nil)
    }

    /// The last segment's number and size, and whether it holds only whole events.
    static func lastSegment(_ directory: FilePath) throws -> (number: Int, size: Int64, whole: Bool) {
        let url = URL(fileURLWithPath: directory.string)
        let name = try #require(
            try FileManager.default.contentsOfDirectory(atPath: url.path).filter { $0.hasSuffix(".bin") }.max())
        let bytes = [UInt8](try Data(contentsOf: url.appendingPathComponent(name)))
        var whole = true
        bytes.withUnsafeBytes { raw in
            guard var reader = try? BinlogFileReader(bytes: raw) else {
                whole = false
                return
            }
            while true {
                do {
                    guard try reader.next() != nil else { break }
                } catch {
                    whole = false
                    break
                }
            }
        }
        return (Segment.number(fromFileName: name)!, Int64(bytes.count), whole)
    }

    static func checkStalled(_ writer: RelayLogWriter, _ stream: FixtureStream) {
        #expect(writer.isStalled)
        #expect { try stream.withEvent(5) { try writer.append($0) } } throws: {
            ($0 as? RelayLogError)?.code == .diskFull
        }
        #expect { try writer.sync() } throws: { ($0 as? RelayLogError)?.code == .diskFull }
    }

    @Test(
        "ENOSPC (injected) stalls the writer with a clear error; the log stays valid and resumes exactly",
        arguments: [200_000, 333_333, 1_000_000])
    func injected(budget: Int) throws {
        let reference = try CrashRecoveryTests.reference(FixtureStream.mysql)
        let stream = reference.stream
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let writer = try RelayLogWriter(
            configuration: configuration(directory.path, segmentSize: ReferenceLog.segmentSize, writeBuffer: 4096))
        try writer.seed(source: SourcePosition(file: stream.sourceFile, position: 4), gtidState: nil)
        var left = budget
        writer.writeFaultInjector = { count in
            left -= count
            return left < 0 ? .noSpace : nil
        }
        let (durable, error) = Self.fill(writer, stream)
        let failure = try #require(error)
        #expect(failure.code == .diskFull)
        #expect(failure.errno == .noSpace)
        #expect(failure.description.contains("disk full"))
        #expect(failure.path?.hasSuffix(".bin") == true)
        Self.checkStalled(writer, stream)
        #expect(writer.durablePosition == durable)
        let last = try Self.lastSegment(directory.path)
        #expect(last.whole, "the failed write was cut back to whole events")
        try writer.close()  // a stalled writer only lets go of its files
        // A restart (recovery) resumes from the last whole transaction on disk, no gap, no duplicate.
        let expected = reference.expectedRecovery(segment: last.number, size: last.size)
        #expect(expected.map { $0 >= durable!.location } == true)
        try reference.recoverAndFinish(directory, expected: expected, context: "ENOSPC after \(budget) bytes")
    }

    @Test("a real full file system (tmpfs): stalled, not corrupted; resumes once space is freed",
          .enabled(if: Tmpfs.available))
    func realFullFileSystem() throws {
        let reference = try CrashRecoveryTests.reference(FixtureStream.mysql)
        let stream = reference.stream
        let mountPoint = try TemporaryDirectory("tmpfs")
        defer { mountPoint.remove() }
        #expect(Tmpfs.mount(mountPoint, size: "300k"))
        defer { Tmpfs.unmount(mountPoint) }
        let directory = TemporaryDirectory(url: mountPoint.url.appendingPathComponent("log"))
        let last: (number: Int, size: Int64, whole: Bool)
        let durable: RelayLogPosition?
        do {
            let writer = try RelayLogWriter(
                configuration: configuration(directory.path, segmentSize: ReferenceLog.segmentSize))
            try writer.seed(source: SourcePosition(file: stream.sourceFile, position: 4), gtidState: nil)
            let (position, error) = Self.fill(writer, stream)
            durable = position
            let failure = try #require(error)
            #expect(failure.code == .diskFull, "\(failure)")
            Self.checkStalled(writer, stream)
            last = try Self.lastSegment(directory.path)
            #expect(last.whole)
            print("tmpfs: \(failure); durable \(durable.map { "\($0)" } ?? "none"); last segment \(last)")
        }
        // Restarting on the still-full file system either works or says "disk full" again.
        let retry = Result { try RelayLogWriter(configuration: configuration(directory.path, segmentSize: ReferenceLog.segmentSize)) }
        if case .failure(let error) = retry {
            #expect((error as? RelayLogError)?.code == .diskFull, "\(error)")
        }
        _ = retry
        #expect(Tmpfs.mount(mountPoint, size: "8m", remount: true))
        let expected = reference.expectedRecovery(segment: last.number, size: last.size)
        #expect(expected.map { $0 >= durable!.location } == true)
        try reference.recoverAndFinish(directory, expected: expected, context: "tmpfs full")
    }
}

extension TemporaryDirectory {
    init(url: URL) {
        self.url = url
    }
}
