import RelayLog
import Testing

@testable import Applier

/// The bookkeeping of a batch's text: what a continued statement takes back, and which checks a
/// group that the applier checks itself leaves out.
@Suite("A batch's statements")
struct ApplyBatchTests {
    static func batch() -> (ApplyBatch, Int32) {
        var batch = ApplyBatch()
        let context = batch.addContext(
            .init(statement: "DELETE", table: "t", location: RelayLogLocation(segment: 1, offset: 4), source: SourcePosition(file: "f", position: 4)))
        batch.serverChecksLeft = 2
        return (batch, context)
    }

    static func text(_ batch: ApplyBatch) -> String { String(decoding: batch.sql.bytes, as: UTF8.self) }

    @Test("a row statement is continued only while nothing follows it, with its server check taken back")
    func reopen() {
        var (batch, context) = Self.batch()
        let head = Array("DELETE FROM t WHERE k IN (".utf8)
        batch.sql.append(head)
        batch.sql.append("1,2)")
        batch.endRowsStatement(head: head, start: 0, rows: 2, context: context, mayMiss: true, closing: 1)
        #expect(Self.text(batch).hasSuffix("IN (1,2);IF ROW_COUNT()<>2 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT='\(ApplyBatch.rowCountMessage)';END IF;"))
        #expect(batch.expectations.count == 2 && batch.serverChecksLeft == 1)
        #expect(batch.reopenRows(head: Array("DELETE FROM u WHERE k IN (".utf8), within: 1 << 20) == nil)
        #expect(batch.reopenRows(head: head, within: 10) == nil)

        let last = batch.reopenRows(head: head, within: 1 << 20)
        #expect(last?.rows == 2 && last?.start == 0)
        #expect(Self.text(batch) == "DELETE FROM t WHERE k IN (1,2")
        #expect(batch.expectations.isEmpty && batch.serverChecksLeft == 2)
        batch.sql.append(",3)")
        batch.endRowsStatement(head: head, start: 0, rows: 3, context: context, mayMiss: true, closing: 1)
        #expect(batch.expectations.map(\.rows) == [3, nil])

        // Anything after it ends it for good.
        batch.add("COMMIT", context: context)
        #expect(batch.reopenRows(head: head, within: 1 << 20) == nil)
    }

    @Test("a group checked by the applier loses the target's checks, and nothing else")
    func dropChecks() {
        var (batch, context) = Self.batch()
        batch.add("BEGIN", context: context)
        for key in 1...3 {
            batch.sql.append("DELETE FROM t WHERE k=\(key)")
            batch.endStatement(expecting: 1, context: context, mayMiss: true)
        }
        // Two checks allowed: the third DELETE is left to the applier.
        #expect(batch.expectations.map(\.rows) == [nil, 1, nil, 1, nil, 1])
        #expect(batch.mayMissRows)
        batch.dropServerChecks()
        #expect(Self.text(batch) == "BEGIN;DELETE FROM t WHERE k=1;DELETE FROM t WHERE k=2;DELETE FROM t WHERE k=3;")
        #expect(batch.expectations.map(\.rows) == [nil, 1, 1, 1])
        batch.dropServerChecks()
        #expect(batch.expectations.count == 4)

        // A group all of whose UPDATEs the target checked could carry its COMMIT; once the checks
        // are gone it cannot.
        var (small, smallContext) = Self.batch()
        small.sql.append("UPDATE t SET v=1 WHERE k=1")
        small.endStatement(expecting: 1, context: smallContext, mayMiss: true)
        #expect(!small.mayMissRows)
        small.dropServerChecks()
        #expect(small.mayMissRows)
    }

    @Test("a group in parts: statements on free keys first, the others in order, with what shares their keys")
    func split() throws {
        /// BEGIN, the marker when `marked`, then each statement with the keys of its rows.
        func group(marked: Bool, _ statements: [(String, [Int])]) -> ApplyBatch {
            var (batch, context) = Self.batch()
            batch.serverChecksLeft = 0
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
