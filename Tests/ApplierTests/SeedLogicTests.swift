import RelayLog
import Testing

@testable import Applier

/// The seed's pure pieces: positions in binlog order, the window rule, keys after the last one
/// copied, member lists and the stored last key.
@Suite("Seed logic")
struct SeedLogicTests {
    static func at(_ file: String, _ position: UInt64) -> SourcePosition { SourcePosition(file: file, position: position) }

    @Test("binlog order compares the file's number, then the offset")
    func order() {
        #expect(SnapshotPosition.precedes(Self.at("mariadb-bin.000009", 900), Self.at("mariadb-bin.000010", 4)))
        #expect(SnapshotPosition.precedes(Self.at("mysql-bin.999999", 4), Self.at("mysql-bin.1000000", 4)))
        #expect(!SnapshotPosition.precedes(Self.at("b.000002", 100), Self.at("b.000002", 100)))
        #expect(SnapshotPosition.precedes(Self.at("b.000002", 99), Self.at("b.000002", 100)))
    }

    @Test("a change before a table's first snapshot is skipped, between its first and last applied idempotently, after it as usual")
    func windows() {
        let windows = SeedWindows(rows: [
            ["app", "t", "b.000001", "1000", "b.000001", "1000"],
            ["app", "t", "b.000001", "400", "b.000002", "50"],  // a range resumed under a later snapshot
            ["app", "u", "b.000001", "1000", "b.000001", "1000"],
        ])
        #expect(windows.mode(schema: "app", table: "t", transactionStart: Self.at("b.000001", 399)) == .skip)
        #expect(windows.mode(schema: "app", table: "t", transactionStart: Self.at("b.000001", 400)) == .idempotent)
        #expect(windows.mode(schema: "app", table: "t", transactionStart: Self.at("b.000002", 49)) == .idempotent)
        #expect(windows.mode(schema: "app", table: "t", transactionStart: Self.at("b.000002", 50)) == .normal)
        #expect(windows.mode(schema: "app", table: "u", transactionStart: Self.at("b.000001", 999)) == .skip)
        #expect(windows.mode(schema: "app", table: "u", transactionStart: Self.at("b.000001", 1000)) == .normal)
        #expect(windows.mode(schema: "app", table: "other", transactionStart: Self.at("b.000001", 1)) == .normal)
        #expect(!windows.isPast(Self.at("b.000002", 49)))
        #expect(windows.isPast(Self.at("b.000002", 50)))
        #expect(SeedWindows(rows: []).isPast(Self.at("b.000001", 4)))
    }

    @Test("the next piece starts after the last key: every column of a composite key")
    func keyCondition() {
        let columns = [
            SeedTable.Column(name: "a", dataType: "varchar", characterSet: "utf8mb4", collation: "utf8mb4_unicode_ci", isGenerated: false),
            SeedTable.Column(name: "b", dataType: "int", characterSet: nil, collation: nil, isGenerated: false),
        ]
        #expect(SeedWorker.after([Array("5".utf8)], columns: [columns[1]]) == "`b` > 5")
        #expect(SeedWorker.after([Array("'x'".utf8), Array("7".utf8)], columns: columns) == "(`a` > 'x' OR (`a` = 'x' AND `b` > 7))")
    }

    @Test("a key value is compared in its column's collation; values go back by type")
    func literals() {
        let text = SeedTable.Column(name: "w", dataType: "varchar", characterSet: "utf8mb4", collation: "utf8mb4_unicode_ci", isGenerated: false)
        var sql = SQLText()
        Array("é'".utf8).withUnsafeBytes { SeedLiteral.writeKey($0, column: text, into: &sql) }
        #expect(String(decoding: sql.bytes, as: UTF8.self) == "_utf8mb4 X'C3A927' COLLATE utf8mb4_unicode_ci")

        func written(_ bytes: [UInt8]?, _ dataType: String, _ characterSet: String? = nil) -> String {
            var sql = SQLText()
            let kind = SeedLiteral.Kind(dataType: dataType, characterSet: characterSet)
            if let bytes {
                bytes.withUnsafeBytes { SeedLiteral.write($0, kind: kind, into: &sql) }
            } else {
                SeedLiteral.write(nil, kind: kind, into: &sql)
            }
            return String(decoding: sql.bytes, as: UTF8.self)
        }
        #expect(written(Array("-12.50".utf8), "decimal") == "-12.50")
        #expect(written([0x01, 0x02], "bit") == "258")
        #expect(written(nil, "blob") == "NULL")
        #expect(written([0x00, 0x27, 0x5C, 0xFF], "varbinary") == "_binary'\u{0}\\'\\\\\u{FFFD}'")
        #expect(written(Array("😀".utf8), "enum", "utf8mb4") == "_utf8mb4 X'F09F9880'")
        #expect(written(Array("::1".utf8), "inet6") == "_utf8mb4 X'3A3A31'")
    }

    @Test("the last key survives the progress row: lengths, not separators")
    func lastKey() {
        let literals = [Array("_binary'a:b'".utf8), Array("12".utf8), []]
        #expect(SeedLiteral.decode(SeedLiteral.encode(literals)) == literals)
        #expect(SeedLiteral.decode(Array("5:abc".utf8)) == nil)
    }

    @Test("ENUM/SET members are counted on the quotes, '' inside a member included")
    func members() {
        #expect(SeedMembers.memberCount("enum('a','?','b''c','x y')") == 4)
        #expect(SeedMembers.memberCount("set('a,b','')") == 2)
        #expect(SeedMembers.replacingFirst("`e` enum('?')", with: "`e` enum('😀')", in: "x `e` enum('?') y `e` enum('?')") == "x `e` enum('😀') y `e` enum('?')")
    }
}
