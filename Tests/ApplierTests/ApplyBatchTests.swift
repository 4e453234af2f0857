import MySQLClient
import RelayLog
import Testing

@testable import Applier

/// The bookkeeping of a batch's text: what a continued statement takes back, how rows go in
/// compound blocks and what the target's answer to them says of each statement.
@Suite("A batch's statements")
struct ApplyBatchTests {
    static func batch() -> (ApplyBatch, Int32) {
        var batch = ApplyBatch()
        let context = batch.addContext(
            .init(statement: "DELETE", table: "t", location: RelayLogLocation(segment: 1, offset: 4), source: SourcePosition(file: "f", position: 4)))
        return (batch, context)
    }

    static func text(_ batch: ApplyBatch) -> String { String(decoding: batch.sql.bytes, as: UTF8.self) }

    @Test("a row statement is continued only while nothing follows it")
    func reopen() {
        var (batch, context) = Self.batch()
        let head = Array("DELETE FROM t WHERE k IN (".utf8)
        batch.sql.append(head)
        batch.sql.append("1,2)")
        batch.endRowsStatement(head: head, start: 0, rows: 2, context: context, mayMiss: true, closing: 1)
        #expect(Self.text(batch) == "DELETE FROM t WHERE k IN (1,2);")
        #expect(batch.expectations.count == 1)
        #expect(batch.reopenRows(head: Array("DELETE FROM u WHERE k IN (".utf8), within: 1 << 20) == nil)
        #expect(batch.reopenRows(head: head, within: 10) == nil)

        let last = batch.reopenRows(head: head, within: 1 << 20)
        #expect(last?.rows == 2 && last?.start == 0)
        #expect(Self.text(batch) == "DELETE FROM t WHERE k IN (1,2")
        #expect(batch.expectations.isEmpty)
        batch.sql.append(",3)")
        batch.endRowsStatement(head: head, start: 0, rows: 3, context: context, mayMiss: true, closing: 1)
        #expect(batch.expectations.map(\.rows) == [3])

        // Anything after it ends it for good.
        batch.add("COMMIT", context: context)
        #expect(batch.reopenRows(head: head, within: 1 << 20) == nil)
    }

    /// BEGIN, then `deletes` DELETEs of one row each and an INSERT of two, all statements of rows.
    static func rows(compounds: Bool, deletes: Int = 3) -> ApplyBatch {
        var (batch, context) = Self.batch()
        batch.compounds = compounds
        batch.add("BEGIN", context: context)
        for key in 1...deletes {
            batch.sql.append("DELETE FROM t WHERE k=\(key)")
            batch.endStatement(expecting: 1, context: context, mayMiss: true, blockable: true)
        }
        let head = Array("INSERT INTO t VALUES ".utf8)
        let start = batch.sql.count
        batch.sql.append(head)
        batch.sql.append("(7),(8)")
        batch.endRowsStatement(head: head, start: start, rows: 2, context: context, mayMiss: false, closing: 0)
        return batch
    }

    static func check(rows: UInt64, statement: Int) -> String {
        "IF ROW_COUNT()<>\(rows) THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT='\(ApplyBatch.blockCheckMessage)\(statement)';END IF;"
    }

    static func serverError(_ number: UInt32, _ message: String) -> MySQLError {
        MySQLError(.server, number: number, sqlState: "45000", message: message, operation: "query")
    }

    @Test("rows go in a compound block that checks each UPDATE's and DELETE's count; the group can carry its COMMIT")
    func compound() throws {
        var batch = Self.rows(compounds: true)
        #expect(!batch.mayMissRows)
        batch.compound()
        batch.add("COMMIT", context: 0)
        #expect(
            Self.text(batch)
                == "BEGIN;BEGIN NOT ATOMIC DELETE FROM t WHERE k=1;" + Self.check(rows: 1, statement: 1)
                + "DELETE FROM t WHERE k=2;" + Self.check(rows: 1, statement: 2) + "DELETE FROM t WHERE k=3;"
                + Self.check(rows: 1, statement: 3) + "INSERT INTO t VALUES (7),(8);END;COMMIT;")
        #expect(batch.blocks == [1..<5])
        #expect(batch.resultCount == 3)
        // Compounded once: a second call changes nothing, and no statement of rows written after
        // goes in a block (its count is then left to the applier).
        let text = Self.text(batch)
        batch.compound()
        #expect(Self.text(batch) == text)
        batch.sql.append("UPDATE t SET v=1 WHERE k=9")
        batch.endStatement(expecting: 1, context: 0, mayMiss: true, blockable: true)
        #expect(batch.mayMissRows && batch.resultCount == 4)

        // Without compounds (a MySQL target, plain statements after an error in a block): the
        // text as written, and the DELETEs keep the COMMIT waiting for the applier's check.
        var plain = Self.rows(compounds: false)
        plain.compound()
        #expect(Self.text(plain) == "BEGIN;DELETE FROM t WHERE k=1;DELETE FROM t WHERE k=2;DELETE FROM t WHERE k=3;INSERT INTO t VALUES (7),(8);")
        #expect(plain.mayMissRows && plain.blocks.isEmpty && plain.resultCount == 5)

        // A large statement stays out of blocks: an INSERT alone, an UPDATE in a block of its own
        // (for its check); the small ones around them in blocks of their own.
        var large = Self.rows(compounds: true, deletes: 1)
        let value = String(repeating: "x", count: ApplyBatch.largeStatementBytes)
        large.sql.append("INSERT INTO t VALUES ('\(value)')")
        large.endStatement(expecting: 1, context: 0, blockable: true)
        large.sql.append("UPDATE t SET v='\(value)' WHERE k=1")
        large.endStatement(expecting: 1, context: 0, mayMiss: true, blockable: true)
        large.sql.append("DELETE FROM t WHERE k=2")
        large.endStatement(expecting: 1, context: 0, mayMiss: true, blockable: true)
        large.compound()
        #expect(large.blocks == [1..<3, 4..<5, 5..<6])
        #expect(large.resultCount == 5)
        #expect(Self.text(large).contains("END;INSERT INTO t VALUES ('x"))
        #expect(Self.text(large).hasSuffix("WHERE k=1;" + Self.check(rows: 1, statement: 4) + "END;BEGIN NOT ATOMIC DELETE FROM t WHERE k=2;" + Self.check(rows: 1, statement: 5) + "END;"))

        // A long run of rows: blocks of at most blockStatements.
        var long = Self.rows(compounds: true, deletes: 2 * ApplyBatch.blockStatements + 10)
        long.compound()
        #expect(long.blocks.map(\.count) == [ApplyBatch.blockStatements, ApplyBatch.blockStatements, 11])
        #expect(Self.text(long).split(separator: "BEGIN NOT ATOMIC ").count == 4)
    }

    @Test("the target's answer to blocks says which statement missed its rows, or in which block a statement failed")
    func blockOutcome() throws {
        var batch = Self.rows(compounds: true)
        batch.compound()
        batch.add("COMMIT", context: 0)
        // Everything ran: BEGIN, the block, COMMIT. Each statement counts what it had to do.
        let ran = batch.outcome(of: .init(affectedRows: [0, 2, 0]))
        #expect(ran.affectedRows == [0, 1, 1, 1, 2, 0] && ran.error == nil)
        try ApplyBatch.check(.init(affectedRows: [0, 2, 0]), of: batch)

        // The second DELETE's check failed: the statements before it ran, it is named.
        let missing = Self.serverError(1644, ApplyBatch.blockCheckMessage + "2")
        let missed = batch.outcome(of: .init(affectedRows: [0], error: missing))
        #expect(missed.missedRows == 2 && missed.affectedRows == [0, 1] && missed.failedBlock == nil)
        let divergence = #expect(throws: ApplierError.self) { try ApplyBatch.check(.init(affectedRows: [0], error: missing), of: batch) }
        #expect(divergence?.code == .divergence && divergence?.inBlock == false)
        #expect(divergence?.message.contains("does not hold 1 of the 1 rows") == true)

        // Another error from inside the block: which statement is not known.
        let duplicate = Self.serverError(1062, "Duplicate entry '7' for key 'PRIMARY'")
        let failed = batch.outcome(of: .init(affectedRows: [0], error: duplicate))
        #expect(failed.failedBlock == 1..<5 && failed.affectedRows == [0] && failed.missedRows == nil)
        let refused = #expect(throws: ApplierError.self) { try ApplyBatch.check(.init(affectedRows: [0], error: duplicate), of: batch) }
        #expect(refused?.code == .divergence && refused?.inBlock == true && refused?.server?.number == 1062)

        // The COMMIT after the block failed: the block ran whole, the error is the COMMIT's own.
        let lost = Self.serverError(2013, "Lost connection")
        let commitFailed = batch.outcome(of: .init(affectedRows: [0, 2], error: lost))
        #expect(commitFailed.affectedRows == [0, 1, 1, 1, 2] && commitFailed.failedBlock == nil)
        let broke = #expect(throws: ApplierError.self) { try ApplyBatch.check(.init(affectedRows: [0, 2], error: lost), of: batch) }
        #expect(broke?.isTransient == true && broke?.inBlock == false)
    }

    @Test("a group in parts: statements on free keys first, the others in order, with what shares their keys")
    func split() throws {
        /// BEGIN, the marker when `marked`, then each statement with the keys of its rows.
        func group(marked: Bool, _ statements: [(String, [Int])]) -> ApplyBatch {
            var (batch, context) = Self.batch()
            batch.add("BEGIN", context: context)
            if marked {
                batch.sql.append("MARK")
                batch.endStatement(expecting: 1, context: context)
            }
            for (text, keys) in statements {
                batch.keys.append(contentsOf: keys)
                batch.sql.append(text)
                batch.endStatement(expecting: 1, context: context)
            }
            return batch
        }
        // Keys 1-9 are free; 100 was written by a group still running.
        let batch = group(marked: true, [("A", [1]), ("B", [100]), ("C", [2]), ("D", [1, 3]), ("E", [3]), ("F", [4])])
        let parts = try #require(batch.split { $0 < 10 })
        // D shares key 1 with A, which goes first: no wait. E shares key 3 with D: both free.
        #expect(Self.text(parts.now) == "BEGIN;MARK;A;C;D;E;F;")
        #expect(Self.text(parts.later) == "B;")
        #expect(parts.now.expectations.map(\.rows) == [nil, 1, 1, 1, 1, 1, 1])

        // A statement after B sharing its key waits behind it, and so does one after it sharing
        // that one's other key.
        let chained = group(marked: false, [("A", [1]), ("B", [100]), ("C", [100, 5]), ("D", [5]), ("E", [6])])
        let second = try #require(chained.split { $0 < 10 })
        #expect(Self.text(second.now) == "BEGIN;A;E;")
        #expect(Self.text(second.later) == "B;C;D;")

        // Nothing free, or all of it: no parts. A session statement among the rows: none.
        var allFree = chained
        #expect(allFree.split { _ in true } == nil)
        #expect(chained.split { _ in false } == nil)
        allFree.splittable = false
        #expect(allFree.split { $0 < 10 } == nil)
    }
}
