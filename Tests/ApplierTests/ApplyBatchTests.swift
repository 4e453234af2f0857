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
    }
}
