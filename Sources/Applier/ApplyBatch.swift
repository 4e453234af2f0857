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
        /// A statement of rows (INSERT, UPDATE, DELETE) that may run inside a compound block
        /// (``compound()``).
        var blockable = false
        /// An UPDATE or DELETE with a count: it may find fewer rows without an error from the server.
        var mayMiss = false
        /// A bulk INSERT (its index in ``bulks``): no text of its own, it runs between the text
        /// before its `end` and the text after (``Wire``); -1 for a statement of the text.
        var bulk: Int32 = -1
    }

    var sql = SQLText()
    var expectations: [Expectation] = []
    /// INSERTs whose rows go in the binary protocol (``BulkRows``), in order.
    var bulks: [BulkRows] = []
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
    /// An UPDATE or DELETE outside a compound block is in the batch: it may find fewer rows than
    /// the source changed, which the server does not treat as an error, so the COMMIT must wait
    /// for the applier's check. A batch of INSERTs (all rows or an error), statements and UPDATEs
    /// and DELETEs checked in their blocks (``compound()``) commits in the same round trip.
    var mayMissRows = false
    /// The batch begins with the COMMIT of the group before it (see `Applier.deferredCommit`).
    var leadingCommit = false
    /// Its statements after BEGIN, the marker and the session's foreign_key_checks are row
    /// statements whose rows' keys are those recorded with them (see ``split(free:)``): nothing
    /// that sets the session between them, nothing written with its keys after it (a seed
    /// window's idempotent rows).
    var splittable = true
    /// Statements of rows go to a MariaDB target in compound blocks (``compound()``), each UPDATE
    /// and DELETE followed in its block by a check of its row count that the target runs: kept
    /// across ``reset(keepingTransactionCount:)``.
    var compounds = false
    /// The text has been written into blocks (``compound()``); nothing written after goes in one.
    private(set) var compounded = false
    /// The expectations each block covers, in order: a block answers with one result.
    private(set) var blocks: [Range<Int>] = []
    /// At most this many statements a block: the target resolves each IF of a block's checks
    /// against every jump of the block written before it (sysbench in blocks of 100 statements:
    /// 10.7 s; of 400: 11.6 s; one block a group of 1,600: 15.3 s).
    static let blockStatements = 100
    /// A block is closed once it holds this many bytes (a statement may take it past them).
    static let blockBytes = 256 << 10
    /// A statement longer than this goes outside blocks (an UPDATE or DELETE in a block of its
    /// own, for its check): the target copies each statement of a block, and for a long one that
    /// costs more than its answer saves (every-type with one connection: 1.85–2.50 s with them in
    /// blocks, 1.52–2.08 s without blocks at all, 1.42–1.56 s with them outside).
    static let largeStatementBytes = 16 << 10

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
        /// ``sql`` and ``expectations`` right after it: it can be continued only while nothing follows.
        var end: Int
        var expectationsEnd: Int
    }
    private var lastRows: RowsStatement?

    var isEmpty: Bool { expectations.isEmpty }
    var byteCount: Int { sql.count + bulks.reduce(0) { $0 + $1.byteCount } }

    /// Empties the batch after a send; a send inside a target transaction (a piece of a large one)
    /// keeps the count of source transactions the open target transaction will commit.
    mutating func reset(keepingTransactionCount: Bool = false) {
        sql.removeAll()
        expectations.removeAll(keepingCapacity: true)
        bulks.removeAll()
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
        keys.removeAll(keepingCapacity: true)
        lastRows = nil
        compounded = false
        blocks.removeAll()
    }

    /// Ends a multi-row INSERT or DELETE that began at `start` with `head`, its closing bytes
    /// (`closing` of them, already written) included, and keeps it open to continuation.
    mutating func endRowsStatement(
        head: [UInt8], start: Int, rows: UInt64, context: Int32, mayMiss: Bool, closing: Int
    ) {
        let bodyEnd = sql.count - closing
        let expectation = expectations.count
        endStatement(expecting: rows, context: context, mayMiss: mayMiss, blockable: true)
        lastRows = RowsStatement(
            head: head, start: start, rows: rows, context: context, bodyEnd: bodyEnd,
            expectation: expectation, end: sql.count, expectationsEnd: expectations.count)
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
    /// bytes and its expectation are removed, and the caller continues it with
    /// the rows it returns (its start, rows and context stay).
    mutating func reopenRows(head: [UInt8], within limit: Int) -> RowsStatement? {
        guard let last = lastRows, last.end == sql.count, last.expectationsEnd == expectations.count,
            sql.count - last.start < limit, last.head == head
        else { return nil }
        lastRows = nil
        sql.bytes.removeSubrange(last.bodyEnd...)
        expectations.removeSubrange(last.expectation...)
        return last
    }

    /// Continues the bulk INSERT written last when it is `statement`'s, nothing has been written
    /// after it and its rows are under `limit` bytes: its expectation is removed (``endBulk(rows:context:)``
    /// writes it again) and its rows and context are returned; nil otherwise.
    mutating func reopenBulk(_ statement: [UInt8], within limit: Int) -> (rows: UInt64, context: Int32)? {
        guard !compounded, let last = expectations.last, last.bulk >= 0, Int(last.bulk) == bulks.count - 1,
            last.end == sql.count, let rows = last.rows, bulks[bulks.count - 1].byteCount < limit,
            bulks[bulks.count - 1].statement == statement
        else { return nil }
        expectations.removeLast()
        return (rows, last.context)
    }

    /// Ends the bulk INSERT of ``bulks``' last rows: it must insert them all.
    mutating func endBulk(rows: UInt64, context: Int32) {
        lastRows = nil
        expectations.append(
            Expectation(rows: rows, context: context, end: sql.count, keysEnd: keys.count, bulk: Int32(bulks.count - 1)))
    }

    /// Starts describing statements that come from one event.
    mutating func addContext(_ context: Context) -> Int32 {
        contexts.append(context)
        return Int32(contexts.count - 1)
    }

    /// Ends the statement just written into ``sql``. `mayMiss`: an UPDATE or DELETE, which may
    /// find fewer rows than expected without an error from the server. `blockable`: a statement
    /// of rows, which may go in a compound block (``compound()``); there its count is checked by
    /// the target, so it does not keep the group's COMMIT waiting for the applier's check.
    mutating func endStatement(expecting rows: UInt64?, context: Int32, mayMiss: Bool = false, blockable: Bool = false) {
        sql.append(byte: UInt8(ascii: ";"))
        let inBlock = blockable && compounds && !compounded
        expectations.append(
            Expectation(rows: rows, context: context, end: sql.count, keysEnd: keys.count, blockable: inBlock, mayMiss: mayMiss && rows != nil))
        if mayMiss && rows != nil && !inBlock { mayMissRows = true }
    }

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
        guard splittable, !compounded, !leadingCommit, expectations.count > 3,
            sql.bytes.starts(with: "BEGIN;".utf8)
        else { return nil }
        var now = ApplyBatch()
        var later = ApplyBatch()
        now.contexts = contexts
        later.contexts = contexts
        now.compounds = compounds
        later.compounds = compounds
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
                if expectation.bulk >= 0 {
                    part.bulks.append(bulks[Int(expectation.bulk)])
                    moved.bulk = Int32(part.bulks.count - 1)
                }
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

// MARK: - Compound blocks

extension ApplyBatch {
    /// Writes the batch's runs of row statements into compound blocks (`BEGIN NOT ATOMIC …
    /// END`, MariaDB 10.1 and later), each UPDATE and DELETE followed in its block by
    /// `IF ROW_COUNT()<>n THEN SIGNAL …` (the session has CLIENT_FOUND_ROWS: the matched count).
    ///
    /// Why: the target answers each statement of a multi-statement query with an OK packet of its
    /// own, flushed to the socket (and, with TLS, a record of its own), which cost a sysbench apply
    /// about a third of the target's time and half the relay's; a block answers once. And with
    /// every count checked by the target, a group stops at the first row it misses, before its
    /// COMMIT: every group can carry its COMMIT, and the next go behind it
    /// (docs/applier.md, "Compound blocks").
    ///
    /// Called once the batch's rows are all written (before its checkpoint and COMMIT, which stay
    /// outside); it does nothing when the batch does not ``compounds`` or already did.
    mutating func compound() {
        guard compounds, !compounded else { return }
        compounded = true
        lastRows = nil
        guard expectations.contains(where: \.blockable) else { return }
        var text = SQLText()
        text.bytes.reserveCapacity(sql.count + sql.count / 8 + 256)
        var start = 0
        var open: Int?
        var openBytes = 0
        func close(at index: Int) {
            guard let first = open else { return }
            text.append("END;")
            expectations[index - 1].end = text.count
            blocks.append(first..<index)
            open = nil
        }
        for index in expectations.indices {
            let expectation = expectations[index]
            // A large statement (BLOBs, many rows) gains nothing from a block and costs the
            // target a copy of its text there: alone, in a block of its own only for its check.
            let large = expectation.end - start > Self.largeStatementBytes
            let inBlock = expectation.blockable && (!large || expectation.mayMiss)
            if inBlock {
                if let first = open, large || index - first >= Self.blockStatements || text.count - openBytes >= Self.blockBytes {
                    close(at: index)
                }
                if open == nil {
                    open = index
                    openBytes = text.count
                    text.append("BEGIN NOT ATOMIC ")
                }
            } else {
                close(at: index)
            }
            text.bytes.append(contentsOf: sql.bytes[start..<expectation.end])
            if inBlock && expectation.mayMiss, let rows = expectation.rows {
                Self.appendCheck(rows: rows, statement: index, into: &text)
            }
            expectations[index].end = text.count
            start = expectation.end
            if inBlock && large { close(at: index + 1) }
        }
        close(at: expectations.count)
        text.bytes.append(contentsOf: sql.bytes[start...])
        sql = text
    }

    /// The check after an UPDATE or DELETE in a block: stops the block unless it matched `rows`.
    static func appendCheck(rows: UInt64, statement: Int, into text: inout SQLText) {
        text.append("IF ROW_COUNT()<>")
        text.append(unsigned: rows)
        text.append(" THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT='")
        text.append(blockCheckMessage)
        text.append(statement)
        text.append("';END IF;")
    }

    /// The text of a failed check in a block, followed by the statement's index in the batch.
    static let blockCheckMessage = "binlog-relay: rows missed by statement "

    /// The results the target returns for the batch: one per statement, one per block.
    var resultCount: Int { blocks.reduce(expectations.count) { $0 - ($1.count - 1) } }

    /// What the target's answer says of each statement (``compound()``).
    struct Outcome {
        /// Each statement's count, in order, up to the first that failed or did not run; a
        /// statement in a block that completed counts as what it had to do (the block checked it).
        var affectedRows: [UInt64] = []
        var error: MySQLError?
        /// A block's check failed: this statement found fewer rows than it had to.
        var missedRows: Int?
        /// The error came from inside this block: from one of its statements, which one unknown.
        var failedBlock: Range<Int>?
    }

    /// The target's answer per statement (its results are per block).
    func outcome(of answer: MySQLConnection.BatchOutcome) -> Outcome {
        var outcome = Outcome(error: answer.error)
        guard !blocks.isEmpty else {
            outcome.affectedRows = answer.affectedRows
            return outcome
        }
        outcome.affectedRows.reserveCapacity(expectations.count)
        var result = 0
        var index = 0
        var nextBlock = 0
        while index < expectations.count {
            if nextBlock < blocks.count, blocks[nextBlock].lowerBound == index {
                let block = blocks[nextBlock]
                guard result < answer.affectedRows.count else {
                    if let error = answer.error, error.number == 1644, error.message.hasPrefix(Self.blockCheckMessage),
                        let statement = Int(error.message.dropFirst(Self.blockCheckMessage.count)), block.contains(statement)
                    {
                        outcome.missedRows = statement
                        for ran in block.lowerBound..<statement { outcome.affectedRows.append(expectations[ran].rows ?? 0) }
                    } else if answer.error != nil {
                        outcome.failedBlock = block
                    }
                    return outcome
                }
                for ran in block { outcome.affectedRows.append(expectations[ran].rows ?? 0) }
                result += 1
                index = block.upperBound
                nextBlock += 1
            } else {
                guard result < answer.affectedRows.count else { return outcome }
                outcome.affectedRows.append(answer.affectedRows[result])
                result += 1
                index += 1
            }
        }
        outcome.affectedRows.append(contentsOf: answer.affectedRows[result...])
        return outcome
    }

    /// Compares what each statement did with what it had to do.
    static func check(_ answer: MySQLConnection.BatchOutcome, of batch: ApplyBatch) throws(ApplierError) {
        let outcome = batch.outcome(of: answer)
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
        if let missed = outcome.missedRows, let rows = batch.expectations[missed].rows {
            // A check the target ran in a block: an UPDATE or DELETE by key finds at most the
            // rows it names, so it found fewer.
            var error = ApplierError(
                .divergence,
                rows == 1
                    ? "the target does not hold 1 of the 1 rows the source changed: the target is not a copy of the source"
                    : "the target does not hold all of the \(rows) rows the source changed: the target is not a copy of the source")
            error.apply(batch.contexts[Int(batch.expectations[missed].context)])
            throw error
        }
        if let serverError = outcome.error {
            let index = outcome.affectedRows.count
            let context = index < batch.expectations.count ? batch.contexts[Int(batch.expectations[index].context)] : nil
            var code: ApplierError.Code = serverError.isTransient ? .connection : .target
            if [1062, 1032].contains(serverError.number) { code = .divergence }
            if serverError.number == 1205 || serverError.number == 1213 { code = .target }
            let what = code == .connection ? "the connection to the target broke" : "the target refused a statement"
            var error = ApplierError(code, what, server: serverError)
            if let context { error.apply(context) }
            if let block = outcome.failedBlock, !serverError.isTransient {
                // Which statement of the block failed the target does not say; the applier runs
                // the group again without blocks to find out (Applier.run()), and stops using
                // blocks if the target refused their syntax. A lost connection, a deadlock or a
                // lock wait is no statement's fault: retried as it is.
                error.inBlock = true
                if block.count > 1 { error.message += " (one of \(block.count) statements sent in one block, from this one)" }
            }
            throw error
        }
    }
}
