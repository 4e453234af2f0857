import BinlogFormat
import Foundation
import TestSupport

/// Where the test input lives: the repository's `Fixtures/` and, when it is there, the shared
/// collection of real binlogs beside the repository (`../shared/fixtures/binlogs`).
enum FixturePaths {
    static let repositoryRoot = Repository.root

    static let fixtures = repositoryRoot.appendingPathComponent("Fixtures")
    static let shared = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared")
    static let sharedBinlogs = shared.appendingPathComponent("fixtures/binlogs")
    static let census = shared.appendingPathComponent("tools/binlog_census.py")

    /// In CI the shared collection must be there; a developer's checkout may lack it.
    static var sharedIsRequired: Bool { ProcessInfo.processInfo.environment["CI"] != nil }

    /// Every binlog file under the fixture folders (reference texts and scripts skipped).
    static func binlogFiles() -> [String] {
        var roots = [fixtures]
        if FileManager.default.fileExists(atPath: sharedBinlogs.path) { roots.append(sharedBinlogs) }
        var files: [String] = []
        for root in roots {
            guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
            else { continue }
            for case let url as URL in walker {
                let name = url.lastPathComponent
                let skipped = [".txt", ".gz", ".md", ".sh", ".sql", ".json", ".py"]
                if skipped.contains(where: { name.hasSuffix($0) }) || name.hasPrefix(".") { continue }
                if (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                    files.append(url.path)
                }
            }
        }
        return files.sorted()
    }

    /// A short name for test output.
    static func label(_ path: String) -> String {
        if path.hasPrefix(sharedBinlogs.path) { return "shared:" + path.dropFirst(sharedBinlogs.path.count + 1) }
        if path.hasPrefix(fixtures.path) { return "Fixtures:" + path.dropFirst(fixtures.path.count + 1) }
        return path
    }
}

/// What the independent census tool (`binlog_census.py`) says of a file.
struct Census {
    var eventsTotal: Int
    var counts: [Int: Int]
    var anomalies: [String]
    var crcBad: Int
    var innerCounts: [Int: Int]?

    static func of(_ path: String, expandPayloads: Bool) throws -> Census {
        var arguments = [FixturePaths.census.path, "--json"]
        if expandPayloads { arguments.append("--expand-payloads") }
        arguments.append(path)
        let result = try runProgram("/usr/bin/env", ["python3"] + arguments)
        let data = result.output
        guard result.status == 0, let list = try JSONSerialization.jsonObject(with: data) as? [[String: Any]],
            let entry = list.first
        else {
            throw CensusError(description: "census failed for \(path)")
        }
        func counts(_ census: Any?) -> [Int: Int] {
            var result: [Int: Int] = [:]
            let events = (census as? [String: Any])?["events"] as? [String: [String: Any]] ?? [:]
            for (_, value) in events {
                if let code = value["code"] as? Int, let count = value["count"] as? Int { result[code] = count }
            }
            return result
        }
        return Census(
            eventsTotal: entry["events_total"] as? Int ?? -1,
            counts: counts(entry["census"]),
            anomalies: entry["anomalies"] as? [String] ?? [],
            crcBad: entry["crc_bad"] as? Int ?? 0,
            innerCounts: entry["payload_inner_census"].map(counts))
    }

    struct CensusError: Error, CustomStringConvertible { var description: String }
}

/// Decodes a whole file with the relay's decoder and counts events by type, the way the census does.
struct DecodeSummary {
    var counts: [Int: Int] = [:]
    var innerCounts: [Int: Int] = [:]
    var total = 0
    var error: BinlogError?

    static func of(_ bytes: UnsafeRawBufferPointer, file: String) -> DecodeSummary {
        var summary = DecodeSummary()
        do throws(BinlogError) {
            var reader = try BinlogFileReader(bytes: bytes, file: file)
            while let event = try reader.next() {
                summary.total += 1
                summary.counts[Int(event.type.rawValue), default: 0] += 1
                if case .transactionPayload(let payload) = event.payload {
                    var inner: [Int: Int] = [:]
                    try reader.decoder.forEachEvent(in: payload) { (innerEvent: BinlogEvent) throws(BinlogError) in
                        inner[Int(innerEvent.type.rawValue), default: 0] += 1
                        if case .rows(let rows) = innerEvent.payload { _ = try rows.rowCount() }
                    }
                    summary.innerCounts.merge(inner, uniquingKeysWith: +)
                }
                if case .rows(let rows) = event.payload, rows.tableMap != nil {
                    _ = try rows.rowCount()
                }
            }
        } catch {
            summary.error = error
        }
        return summary
    }
}

extension Data {
    /// Lines of the text as byte arrays (the reference texts hold raw binary bytes).
    func lines() -> [ArraySlice<UInt8>] {
        [UInt8](self).split(separator: 0x0A, omittingEmptySubsequences: false)
    }
}
