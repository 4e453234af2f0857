import BinlogFormat
import Foundation
import TestSupport
import Testing

@testable import BinlogRelay

/// `binlog-relay inspect` as a user runs it: the built executable on real files.
@Suite("inspect")
struct InspectCommandTests {
    static var executable: String {
        let products = FixturePaths.repositoryRoot.appendingPathComponent(".build/debug/binlog-relay")
        return products.path
    }

    static let samples = [
        "mariadb-10.11/every-type-full.000001",
        "mariadb-10.11/every-type-full-compressed.000001",
        "peers/rust_mysql_common/json.binlog.000001",
        "peers/rust_mysql_common/transaction_compression.000001",
        "peers/rust_mysql_common/mysql-enum-string-set.000001",
        "peers/mysql-cdc-rs/8.0/folder/binlog.000693",
    ]

    @Test("jsonl: one valid JSON object per event, rows as the decoder counts them", arguments: samples)
    func jsonLines(name: String) throws {
        let path = FixturePaths.fixtures.appendingPathComponent(name).path
        let result = try runProgram(Self.executable, ["inspect", "--format", "jsonl", path])
        #expect(result.status == 0)
        let output = result.output
        let lines = output.lines().filter { !$0.isEmpty }
        let census = try Data(contentsOf: URL(fileURLWithPath: path)).withUnsafeBytes { DecodeSummary.of($0, file: path) }
        #expect(lines.count == census.total, "\(name): \(lines.count) lines for \(census.total) events")
        var rowsSeen = 0
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            #expect(object != nil)
            for key in ["type", "position", "timestamp", "server_id"] { #expect(object?[key] != nil, "\(key) missing") }
            let nested = (object?["events"] as? [[String: Any]]) ?? []  // inside a TRANSACTION_PAYLOAD
            for case let rows as [[String: Any]] in ([object?["rows"]] + nested.map { $0["rows"] }).compactMap({ $0 }) {
                rowsSeen += rows.count
                let op = (object?["op"] ?? nested.first { $0["op"] != nil }?["op"]) as? String
                for row in rows {
                    #expect((row["after"] != nil) == (op != "delete"))
                    #expect((row["before"] != nil) == (op != "insert"))
                }
            }
        }
        #expect(rowsSeen > 0, "\(name) has row events")
    }

    @Test("jsonl carries exact values: DECIMAL digits, negative TIME, zero dates, binary bytes, JSON documents")
    func jsonValues() throws {
        let path = FixturePaths.fixtures.appendingPathComponent("mariadb-10.11/every-type-full.000001").path
        let output = try runProgram(Self.executable, ["inspect", "--format", "jsonl", path]).output
        let text = String(decoding: output, as: UTF8.self)
        // Values the every-type workload wrote (Fixtures/mariadb-10.11/every-type.sql).
        #expect(text.contains("99999999999999999999999999999999999.999999999999999999999999999999"))
        #expect(text.contains("-0.00000000000000000000000000000000000001"))
        #expect(text.contains("\"-838:59:59"))
        #expect(text.contains("\"0000-00-00 00:00:00"))
        #expect(text.contains("18446744073709551615"))
        #expect(text.contains("-9223372036854775808"))
        #expect(text.contains("{\"hex\":\""))
    }

    @Test("text: the row lines are those of mariadb-binlog -vv for a MariaDB file")
    func textMatchesReference() throws {
        let path = FixturePaths.fixtures.appendingPathComponent("peers/rust_mysql_common/mariadb-bin.000001").path
        let result = try runProgram(Self.executable, ["inspect", path])
        #expect(result.status == 0)
        let output = result.output
        let reference = try Data(contentsOf: URL(fileURLWithPath: path + ".mariadb-binlog.txt"))
        let ours = output.lines().filter { $0.starts(with: Array("###".utf8)) }
        let theirs = reference.lines().filter { $0.starts(with: Array("###".utf8)) }
        #expect(ours.count == theirs.count && ours.count > 0)
        #expect(ours.map(Array.init) == theirs.map(Array.init))
        #expect(output.lines().filter { $0.starts(with: Array("# at ".utf8)) }.count == 13)
    }

    @Test("a truncated file: one clear error line naming file and offset, non-zero exit, output up to the damage")
    func truncatedFileError() throws {
        let source = FixturePaths.fixtures.appendingPathComponent("peers/rust_mysql_common/mariadb-bin.000001")
        let data = try Data(contentsOf: source)
        let cut = FileManager.default.temporaryDirectory.appendingPathComponent("cut-\(getpid()).bin")
        try data.prefix(700).write(to: cut)
        defer { try? FileManager.default.removeItem(at: cut) }
        let result = try runProgram(Self.executable, ["inspect", "--format", "jsonl", cut.path])
        let (out, err) = (result.output, result.errorText)
        #expect(result.status != 0)
        #expect(err.contains(cut.path) && err.contains("truncated") && err.contains("671"), "\(err)")
        #expect(out.lines().filter { !$0.isEmpty }.count == 7, "the 7 whole events before the cut are printed")
    }

    @Test("a file that is not a binlog is refused with a clear message")
    func notABinlog() throws {
        let path = FixturePaths.fixtures.appendingPathComponent("peers/PROVENANCE.md").path
        let result = try runProgram(Self.executable, ["inspect", path])
        let err = result.errorText
        #expect(result.status != 0)
        #expect(err.contains("not a binlog file"))
    }

    @Test("plain inspect arguments are read without ArgumentParser; anything else is left to it")
    func plainInvocation() throws {
        let file = FixturePaths.fixtures.appendingPathComponent("mariadb-10.11/every-type-full.000001").path
        func plain(_ arguments: [String]) -> InspectCommand.PlainInvocation? {
            InspectCommand.PlainInvocation(ArraySlice(arguments))
        }
        let jsonl = plain(["inspect", "--format", "jsonl", "--no-verify-checksum", file])
        #expect(jsonl?.format == .jsonl && jsonl?.verifyChecksums == false && jsonl?.files == [file])
        #expect(plain(["inspect", file, "--format=text"])?.format == .text)
        #expect(plain(["inspect", "--", file])?.files == [file])
        #expect(plain(["inspect", file, file])?.files == [file, file])
        for rejected in [
            ["inspect"], ["inspect", "--help"], ["inspect", "-h", file], ["--version"], ["inspect", "--format", file],
            ["inspect", "--format", "xml", file], ["inspect", "--format", "text", "--format", "jsonl", file],
            ["inspect", "--no-verify-checksum", "--no-verify-checksum", file], ["inspect", "-x", file],
            ["inspect", "/no/such/file"], ["status", file],
        ] {
            #expect(plain(rejected) == nil, "\(rejected)")
        }
        // Both ways give the same bytes (a repeated --format goes through ArgumentParser).
        let quick = try runProgram(Self.executable, ["inspect", "--format", "jsonl", file])
        let parsed = try runProgram(Self.executable, ["inspect", "--format", "text", "--format", "jsonl", file]).output
        #expect(quick.status == 0 && !quick.output.isEmpty && quick.output == parsed)
    }

    @Test("JSON strings: the word-at-a-time scan escapes exactly what a byte-by-byte escaper does")
    func jsonStringEscaping() {
        func reference(_ bytes: [UInt8]) -> [UInt8] {
            var out: [UInt8] = [UInt8(ascii: "\"")]
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""): out += Array("\\\"".utf8)
                case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
                case 0x0A: out += Array("\\n".utf8)
                case 0x0D: out += Array("\\r".utf8)
                case 0x09: out += Array("\\t".utf8)
                case 0..<0x20: out += Array("\\u00".utf8) + Array(String(format: "%02x", byte).utf8)
                default: out.append(byte)
                }
            }
            return out + [UInt8(ascii: "\"")]
        }
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [0x00, 0x09, 0x0A, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7F, 0x80, 0xA2, 0xDC, 0xFF]
        for length in 0..<80 {
            for _ in 0..<50 {
                let bytes = (0..<length).map { _ in
                    Bool.random(using: &generator) ? UInt8(ascii: "a") : alphabet.randomElement(using: &generator)!
                }
                var ours: [UInt8] = []
                bytes.withUnsafeBytes { JSONLinesFormatter.writeString($0, into: &ours) }
                #expect(ours == reference(bytes), "\(bytes)")
            }
        }
    }
}
