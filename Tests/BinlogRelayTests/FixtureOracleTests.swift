import BinlogFormat
import Foundation
import TestSupport
import Testing

@testable import BinlogRelay

/// Every real binlog decodes, agrees with the independent census on its events, and prints the
/// same row images and column values as `mariadb-binlog -vv` did (formatting normalised, values not).
@Suite("Fixtures against independent oracles")
struct FixtureOracleTests {
    static let files = FixturePaths.binlogFiles()

    @Test("the fixture collection is there")
    func collectionIsPresent() {
        #expect(Self.files.count >= 20, "found \(Self.files.count) binlog fixtures")
        if FixturePaths.sharedIsRequired {
            #expect(FileManager.default.fileExists(atPath: FixturePaths.census.path), "census tool missing in CI")
        }
    }

    @Test("event count and types equal the census", arguments: files)
    func matchesCensus(path: String) throws {
        guard FileManager.default.fileExists(atPath: FixturePaths.census.path) else {
            #expect(!FixturePaths.sharedIsRequired)
            return
        }
        let hasZstd = FileManager.default.isExecutableFile(atPath: "/usr/bin/zstd")
        let census = try Census.of(path, expandPayloads: hasZstd)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let summary = data.withUnsafeBytes { DecodeSummary.of($0, file: path) }
        let label = FixturePaths.label(path)
        // Where mariadb-binlog itself stopped early, the event it stopped at is damaged inside
        // (the census only frames events): the decoder must get at least as far, then may refuse.
        let referenceStop = Self.referenceText(for: path).flatMap { reference, complete in
            complete ? nil : (try? Data(contentsOf: URL(fileURLWithPath: reference)))?.lines()
                .filter { $0.starts(with: Array("# at ".utf8)) }.count
        }
        if let referenceStop, summary.error != nil, census.anomalies.isEmpty {
            #expect(summary.total >= referenceStop, "\(label): decoded \(summary.total), mariadb-binlog \(referenceStop)")
        } else if census.anomalies.isEmpty && census.crcBad == 0 {
            #expect(summary.error == nil, "\(label): \(summary.error.map(String.init(describing:)) ?? "")")
            #expect(summary.total == census.eventsTotal, "\(label): decoded \(summary.total), census \(census.eventsTotal)")
            #expect(summary.counts == census.counts, "\(label): by type \(summary.counts) vs census \(census.counts)")
        } else {
            // Damaged input: the decoder stops with an error where the census found the damage,
            // after the same complete events.
            #expect(summary.error != nil, "\(label): census found \(census.anomalies), decoder found nothing")
            #expect(summary.total <= census.eventsTotal, "\(label)")
            if census.crcBad == 0 {
                #expect(summary.total == census.eventsTotal, "\(label): decoded \(summary.total), census \(census.eventsTotal)")
            }
        }
        if let inner = census.innerCounts, !inner.isEmpty {
            #expect(summary.innerCounts == inner, "\(label): payload events \(summary.innerCounts) vs \(inner)")
        }
    }

    @Test("row images equal mariadb-binlog -vv", arguments: files.filter { Self.referenceText(for: $0) != nil })
    func matchesMariaDBBinlog(path: String) throws {
        let (referencePath, isComplete) = Self.referenceText(for: path)!
        var reference = try Data(contentsOf: URL(fileURLWithPath: referencePath))
        if referencePath.hasSuffix(".gz") {
            reference = try runProgram("/usr/bin/env", ["gzip", "-dc", referencePath]).output
        }
        let expected = reference.lines().filter { $0.starts(with: Array("###".utf8)) }.map(Self.normalise)

        var ours: [[UInt8]] = []
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var decodeError: BinlogError?
        data.withUnsafeBytes { bytes in
            do throws(BinlogError) {
                var reader = try BinlogFileReader(bytes: bytes, file: path)
                while let event = try reader.next() {
                    guard case .rows(let rows) = event.payload, let table = rows.tableMap else { continue }
                    var iterator = try rows.rows()
                    var text: [UInt8] = []
                    while let change = try iterator.next() {
                        try MySQLBinlogText.writeRow(change, kind: rows.kind, table: table, into: &text)
                    }
                    ours.append(contentsOf: text.split(separator: 0x0A).map { Array($0) })
                }
            } catch {
                decodeError = error
            }
        }
        let label = FixturePaths.label(path)
        let compared = isComplete ? ours : Array(ours.prefix(expected.count))
        if isComplete {
            #expect(decodeError == nil, "\(label): \(String(describing: decodeError))")
            #expect(compared.count == expected.count, "\(label): \(compared.count) row lines, reference has \(expected.count)")
        }
        var mismatches = 0
        for (index, (mine, theirs)) in zip(compared, expected).enumerated() where Self.normalise(mine) != theirs {
            mismatches += 1
            if mismatches <= 5 {
                Issue.record(
                    "\(label) line \(index): ours \(String(decoding: mine, as: UTF8.self)) | mariadb-binlog \(String(decoding: theirs, as: UTF8.self))")
            }
        }
        #expect(mismatches == 0, "\(label): \(mismatches) row lines differ")
    }

    /// The reference text beside a fixture and whether it covers the whole file.
    static func referenceText(for path: String) -> (String, Bool)? {
        let manager = FileManager.default
        for (suffix, complete) in [(".mariadb-binlog.txt", true), (".mariadb-binlog.txt.gz", true), (".mariadb-binlog.partial.txt", false)]
        where manager.fileExists(atPath: path + suffix) {
            return (path + suffix, complete)
        }
        return nil
    }

    /// Formatting differences that are not value differences:
    /// - mariadb-binlog prints YEAR 0000 as 1900 (it adds 1900 to the stored byte 0);
    /// - some stored reference texts had invalid UTF-8 replaced by U+FFFD when they were saved,
    ///   so both sides are compared after the same replacement;
    /// - lines end without trailing blanks.
    static func normalise<C: Collection>(_ line: C) -> [UInt8] where C.Element == UInt8 {
        var bytes = Array(String(decoding: Array(line), as: UTF8.self).utf8)
        while bytes.last == UInt8(ascii: " ") || bytes.last == 0x0D { bytes.removeLast() }
        if let range = bytes.firstRange(of: Array("=0000 /* YEAR".utf8)) {
            bytes.replaceSubrange(range, with: Array("=1900 /* YEAR".utf8))
        }
        return bytes
    }
}
