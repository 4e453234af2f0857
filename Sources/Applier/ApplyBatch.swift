import MySQLClient
import RelayLog

/// Statements on their way to the target in one round trip, each with what it must do: a multi-row
/// INSERT must insert all its rows, an UPDATE or DELETE by key must find its row. A count that
/// differs means the target is not a copy of the source: the applier stops rather than go on.
struct ApplyBatch {
    /// What a statement was for, for error messages.
    struct Context {
        var statement: String
        var table: String?
        var location: RelayLogLocation
        var source: SourcePosition
    }

    struct Expectation {
        /// Rows the statement must affect (matched rows, with CLIENT_FOUND_ROWS); nil: not checked.
        var rows: UInt64?
        var context: Int32
        /// Where the statement ends in ``sql`` (after its `;`), and ``keys`` after its rows' (see
        /// ``split(free:)``).
        var end = 0
        var keysEnd = 0
    }

    var sql = SQLText()
    var expectations: [Expectation] = []
    var contexts: [Context] = []
    /// Source transactions whose last statement is in this batch.
    var transactionsEnded = 0
    var rowsInserted = 0
    var rowsUpdated = 0
    var rowsDeleted = 0
    /// Parallel apply: collect the write set (hashes of every unique key value written).
    var collectsKeys = false
    /// The group writes a table with foreign keys (or one that others reference): with parallel
    /// apply it starts only after every earlier group has committed, as the write sets do not
    /// follow foreign keys and the target checks and cascades them (see Applier).
    var serial = false
    var keys: [Int] = []
    /// An UPDATE or DELETE is in the batch: it may find fewer rows than the source changed, which
    /// the server does not treat as an error, so the COMMIT must wait for the applier's check. A
    /// batch of INSERTs (all rows or an error) and statements commits in the same round trip.
    var mayMissRows = false
    /// The batch begins with the COMMIT of the group before it (see `Applier.deferredCommit`).
    var leadingCommit = false
    /// Its statements after BEGIN, the marker and the session's foreign_key_checks are row
    /// statements whose rows' keys are those recorded with them (see ``split(free:)``): nothing
    /// that sets the session between them, nothing written with its keys after it (a seed
    /// window's idempotent rows).
    var splittable = true
    /// UPDATE and DELETE statements whose row count the target itself checks, after each, with
    /// `IF ROW_COUNT() <> n THEN SIGNAL … END IF` (MariaDB runs IF outside stored programs): a group
    /// whose every such statement is checked so can carry its COMMIT in the same round trip (it
    /// stops at the failing check, before the COMMIT). A check costs the target more than a
    /// local round trip saves, so beside the target only a few per group: enough for a live
    /// source's small groups and for those before a DDL statement; a large group is checked by
    /// the applier instead. Across a slow link as many as cost the target less than the round
    /// trip they save (`Applier.serverCheckBudget`).
    var serverChecksLeft = 0
    /// The check is written only while the group is under this size (see ``serverChecksLeft``).
    var serverCheckedBytes = serverCheckedGroupBytes
    /// Where each of those checks is: its bytes in ``sql`` and its expectation.
    private var serverChecks: [(bytes: Range<Int>, expectation: Int)] = []
    static let serverChecksPerGroup = 64
    static let serverCheckedGroupBytes = 256 << 10

    /// The multi-row INSERT or DELETE written last, which the next row event of the same table and
    /// kind continues instead of starting a statement of its own (``reopenRows(head:within:)``).
    /// A bulk change of wide rows reaches the binlog as many events of a few rows each (an event
    /// holds ~8 KB of rows by default): one statement for them spares the target a parse, a plan
    /// and an OK packet flushed to the socket per event.
    struct RowsStatement {
        /// How the statement begins (verb, table, columns): a continuation must begin the same.
        var head: [UInt8]
        var start: Int
        var rows: UInt64
        var context: Int32
        /// Where its closing bytes (`)` of `IN (…)`, then `;`) begin.
        var bodyEnd: Int
        /// Its expectation's index.
        var expectation: Int
        var usedServerCheck: Bool
        /// ``sql`` and ``expectations`` right after it: it can be continued only while nothing follows.
        var end: Int
        var expectationsEnd: Int
    }
    private var lastRows: RowsStatement?

    var isEmpty: Bool { expectations.isEmpty }
    var byteCount: Int { sql.count }

    /// Empties the batch after a send; a send inside a target transaction (a piece of a large one)
    /// keeps the count of source transactions the open target transaction will commit.
    mutating func reset(keepingTransactionCount: Bool = false) {
        sql.removeAll()
        expectations.removeAll(keepingCapacity: true)
        contexts.removeAll(keepingCapacity: true)
        if !keepingTransactionCount {
            transactionsEnded = 0
            serial = false
        }
        rowsInserted = 0
        rowsUpdated = 0
        rowsDeleted = 0
        mayMissRows = false
        leadingCommit = false
        splittable = true
        serverChecksLeft = 0
        keys.removeAll(keepingCapacity: true)
        lastRows = nil
        serverChecks.removeAll()
    }

    /// Removes the target's own row-count checks: for a group whose counts the applier checks
    /// anyway before its COMMIT goes (a worker's, one whose COMMIT is deferred, a piece of a large
    /// transaction), each would be a statement more to parse, run and answer, for nothing. The
    /// batch may then miss rows without an error from the server: whatever path it takes after
    /// this, its COMMIT waits for the applier's check.
    mutating func dropServerChecks() {
        guard !serverChecks.isEmpty else { return }
        mayMissRows = true
        var text: [UInt8] = []
        text.reserveCapacity(sql.count)
        var from = 0
        for check in serverChecks {
            text.append(contentsOf: sql.bytes[from..<check.bytes.lowerBound])
            from = check.bytes.upperBound
        }
        text.append(contentsOf: sql.bytes[from...])
        sql.bytes = text
        var kept: [Expectation] = []
        kept.reserveCapacity(expectations.count - serverChecks.count)
        var dropped = serverChecks.makeIterator()
        var next = dropped.next()
        var removedBytes = 0
        for (index, expectation) in expectations.enumerated() {
            if let check = next, check.expectation == index {
                removedBytes += check.bytes.count
                next = dropped.next()
                continue
            }
            var moved = expectation
            moved.end -= removedBytes
            kept.append(moved)
        }
        expectations = kept
        serverChecks.removeAll()
        lastRows = nil
    }

    /// Ends a multi-row INSERT or DELETE that began at `start` with `head`, its closing bytes
    /// (`closing` of them, already written) included, and keeps it open to continuation.
    mutating func endRowsStatement(
        head: [UInt8], start: Int, rows: UInt64, context: Int32, mayMiss: Bool, closing: Int
    ) {
        let bodyEnd = sql.count - closing
        let expectation = expectations.count
        let checksBefore = serverChecksLeft
        endStatement(expecting: rows, context: context, mayMiss: mayMiss)
        lastRows = RowsStatement(
            head: head, start: start, rows: rows, context: context, bodyEnd: bodyEnd,
            expectation: expectation, usedServerCheck: serverChecksLeft < checksBefore, end: sql.count,
            expectationsEnd: expectations.count)
    }

    /// Begins a multi-row INSERT or DELETE with `head`, or continues the last statement when it
    /// began so (``reopenRows(head:within:)``, a `,` written for the next row): where the
    /// statement starts, its rows so far and the context it keeps.
    mutating func beginRows(head: [UInt8], within limit: Int, context: Int32) -> (start: Int, rows: UInt64, context: Int32) {
        if let last = reopenRows(head: head, within: limit) {
            sql.append(byte: UInt8(ascii: ","))
            return (last.start, last.rows, last.context)
        }
        let start = sql.count
        sql.append(head)
        return (start, 0, context)
    }

    /// Takes back the end of the last statement if it is a multi-row statement that began with
    /// `head`, nothing has been written after it and it is still under `limit` bytes: its closing
    /// bytes, its expectation and its server check are removed, and the caller continues it with
    /// the rows it returns (its start, rows and context stay).
    mutating func reopenRows(head: [UInt8], within limit: Int) -> RowsStatement? {
        guard let last = lastRows, last.end == sql.count, last.expectationsEnd == expectations.count,
            sql.count - last.start < limit, last.head == head
        else { return nil }
        lastRows = nil
        sql.bytes.removeSubrange(last.bodyEnd...)
        expectations.removeSubrange(last.expectation...)
        if last.usedServerCheck {
            serverChecksLeft += 1
            serverChecks.removeLast()
        }
        return last
    }

    /// Starts describing statements that come from one event.
    mutating func addContext(_ context: Context) -> Int32 {
        contexts.append(context)
        return Int32(contexts.count - 1)
    }

    /// Ends the statement just written into ``sql``. `mayMiss`: an UPDATE or DELETE, which may
    /// find fewer rows than expected without an error from the server.
    mutating func endStatement(expecting rows: UInt64?, context: Int32, mayMiss: Bool = false) {
        sql.append(byte: UInt8(ascii: ";"))
        expectations.append(Expectation(rows: rows, context: context, end: sql.count, keysEnd: keys.count))
        guard mayMiss, let rows else { return }
        // Only in a group still small: a large one is checked by the applier anyway (more than
        // the checks allowed), and a check is one more statement for the target.
        guard serverChecksLeft > 0 && sql.count < serverCheckedBytes else {
            mayMissRows = true
            return
        }
        // ROW_COUNT() is the matched count here: the session has CLIENT_FOUND_ROWS.
        serverChecksLeft -= 1
        let start = sql.count
        sql.append("IF ROW_COUNT()<>")
        sql.append(unsigned: rows)
        sql.append(" THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT='")
        sql.append(Self.rowCountMessage)
        sql.append("';END IF;")
        serverChecks.append((start..<sql.count, expectations.count))
        expectations.append(Expectation(rows: nil, context: context, end: sql.count, keysEnd: keys.count))
    }

    /// The error text of a row count the target checked (``serverChecksLeft``).
    static let rowCountMessage = "binlog-relay: the statement before did not find the rows the source changed"

    /// Adds `count` statements the relay wrote, separated by `;` in `text` (no trailing `;`).
    mutating func add(statements text: [UInt8], count: Int, context: Int32) {
        sql.append(text)
        sql.append(byte: UInt8(ascii: ";"))
        for _ in 0..<count { expectations.append(Expectation(rows: nil, context: context, end: sql.count, keysEnd: keys.count)) }
        splittable = false
    }

    /// Adds a statement the relay wrote (BEGIN, checkpoint, COMMIT).
    mutating func add(_ statement: StaticString, context: Int32) {
        sql.append(statement)
        endStatement(expecting: nil, context: context)
    }

    /// A worker's group in two parts (parallel apply, a target near enough for a round trip
    /// more): the statements whose every key is `free` (no group still uncommitted wrote it), which
    /// can run while the groups before it run, then the others, in their order, once those have
    /// committed. A statement that follows one of the others and shares a key with it stays behind
    /// it. Statements of different keys commute, so within its one target transaction the group
    /// ends the same; a chain of groups (each changing rows the one before wrote, every-type's
    /// rounds) overlaps the new rows of the next with the changes of the last.
    /// Nil when the group cannot be split or either part would hold no row statement.
    func split(free: (Int) -> Bool) -> (now: ApplyBatch, later: ApplyBatch)? {
        guard splittable, !leadingCommit, serverChecks.isEmpty, expectations.count > 3,
            sql.bytes.starts(with: "BEGIN;".utf8)
        else { return nil }
        var now = ApplyBatch()
        var later = ApplyBatch()
        now.contexts = contexts
        later.contexts = contexts
        var laterKeys = Set<Int>()
        var start = 0
        var keysStart = 0
        var leading = true
        var leadingCount = 0
        var barrier = false
        for expectation in expectations {
            let statementKeys = keys[keysStart..<expectation.keysEnd]
            // BEGIN, the marker (the transaction's first write, see loop prevention) and the
            // session's foreign_key_checks first; a statement without keys after a row
            // statement (none is written so today) waits, and so does everything after it.
            if !statementKeys.isEmpty { leading = false }
            if !leading && statementKeys.isEmpty { barrier = true }
            let waits =
                !leading && (barrier || statementKeys.contains { !free($0) || laterKeys.contains($0) })
            func move(into part: inout ApplyBatch) {
                part.sql.bytes.append(contentsOf: sql.bytes[start..<expectation.end])
                var moved = expectation
                moved.end = part.sql.count
                part.expectations.append(moved)
            }
            if leading { leadingCount += 1 }
            if waits {
                laterKeys.formUnion(statementKeys)
                move(into: &later)
            } else {
                move(into: &now)
            }
            start = expectation.end
            keysStart = expectation.keysEnd
        }
        guard now.expectations.count > leadingCount, !later.expectations.isEmpty else { return nil }
        return (now, later)
    }
}

extension ApplyBatch {
    /// Compares what each statement did with what it had to do.
    static func check(_ outcome: MySQLConnection.BatchOutcome, of batch: ApplyBatch) throws(ApplierError) {
        for (index, affected) in outcome.affectedRows.enumerated() {
            let expectation = batch.expectations[index]
            guard let rows = expectation.rows, rows != affected else { continue }
            let context = batch.contexts[Int(expectation.context)]
            var error = ApplierError(
                .divergence,
                affected < rows
                    ? "the target does not hold \(rows - affected) of the \(rows) rows the source changed: the target is not a copy of the source"
                    : "the statement changed \(affected) rows on the target where the source changed \(rows): the target is not a copy of the source")
            error.apply(context)
            throw error
        }
        if let serverError = outcome.error {
            let index = outcome.affectedRows.count
            let context = index < batch.expectations.count ? batch.contexts[Int(batch.expectations[index].context)] : nil
            if serverError.number == 1644, serverError.message == rowCountMessage, index > 0,
                let rows = batch.expectations[index - 1].rows
            {
                // A check the target ran (`serverChecksLeft`): an UPDATE or DELETE by key finds at
                // most the rows it names, so it found fewer.
                var error = ApplierError(
                    .divergence,
                    rows == 1
                        ? "the target does not hold 1 of the 1 rows the source changed: the target is not a copy of the source"
                        : "the target does not hold all of the \(rows) rows the source changed: the target is not a copy of the source")
                if let context { error.apply(context) }
                throw error
            }
            var code: ApplierError.Code = serverError.isTransient ? .connection : .target
            if [1062, 1032].contains(serverError.number) { code = .divergence }
            if serverError.number == 1205 || serverError.number == 1213 { code = .target }
            let what = code == .connection ? "the connection to the target broke" : "the target refused a statement"
            var error = ApplierError(code, what, server: serverError)
            if let context { error.apply(context) }
            throw error
        }
    }

}
