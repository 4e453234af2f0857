import BinlogFormat
import Foundation
@testable import RelayLog
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The writer in a child process (this test binary again, running `childWriter` only), killed
/// with SIGKILL at a random moment: whatever it had reported durable must be there after
/// recovery, and finishing the stream from the recovered position must give the uninterrupted log.
@Suite("Killed writer process", .serialized)
struct KilledProcessTests {
    static let childDirectory = ProcessInfo.processInfo.environment["RELAY_LOG_CHILD_DIR"]

    @Test("child: stream the MySQL fixture, printing every durable position", .enabled(if: childDirectory != nil))
    func childWriter() throws {
        let stream = try FixtureStream.load(FixtureStream.mysql)
        let directory = FilePath(Self.childDirectory!)
        let writer = try RelayLogWriter(configuration: configuration(directory, segmentSize: ReferenceLog.segmentSize))
        try writer.seed(source: SourcePosition(file: stream.sourceFile, position: 4), gtidState: nil)
        for index in stream.events.indices {
            let result = try stream.withEvent(index) { try writer.append($0) }
            if result.syncDue, let position = try writer.sync().position {
                let line = "DURABLE \(position.location.segment) \(position.location.offset) \(position.source.position)\n"
                FileHandle.standardOutput.write(Data(line.utf8))  // write(2): nothing left in a buffer
            }
        }
        FileHandle.standardOutput.write(Data("DONE\n".utf8))
        Thread.sleep(forTimeInterval: 30)
    }

    @Test("SIGKILL at random moments loses nothing reported durable", .enabled(if: childDirectory == nil))
    func killedWriter() throws {
        let reference = try CrashRecoveryTests.reference(FixtureStream.mysql)
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var generator = SplitMix64(seed: 9)
        for round in 0..<4 {
            let directory = try TemporaryDirectory("killed")
            defer { directory.remove() }
            let process = Process()
            process.executableURL = executable
            process.arguments = ["--testing-library", "swift-testing", "--filter", "KilledProcessTests/childWriter"]
            var environment = ProcessInfo.processInfo.environment
            environment["RELAY_LOG_CHILD_DIR"] = directory.url.path
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let killAfter = round == 0 ? 1 : Int.random(in: 2...600, using: &generator)
            var text = ""
            var lines = 0
            while lines < killAfter && !text.contains("DONE") {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
                lines = text.split(separator: "\n").filter { $0.hasPrefix("DURABLE") }.count
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            text += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationReason == .uncaughtSignal, "round \(round): the child ran to its end")
            let reported = text.split(separator: "\n").filter { $0.hasPrefix("DURABLE") }.last.map {
                $0.split(separator: " ").dropFirst().map { Int64($0)! }
            }
            let last = try DiskFullTests.lastSegment(directory.path)
            print("killed writer, round \(round): after \(lines) durable reports (last \(reported.map { "\($0)" } ?? "none")); last segment \(last)")
            let expected = reference.expectedRecovery(segment: last.number, size: last.size)
            if let reported {
                let promised = RelayLogLocation(segment: Int(reported[0]), offset: reported[1])
                #expect(expected.map { $0 >= promised } == true, "round \(round): \(promised) was reported durable")
            }
            try reference.recoverAndFinish(
                directory, expected: expected, context: "round \(round), killed after \(lines) syncs")
        }
    }
}
