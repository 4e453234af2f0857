import BinlogFormat
import Logging
import MySQLClient
import RelayLog

#if canImport(Glibc)
import Glibc
#endif

/// Statements the source logged as text (DDL, and DML in statement format): run in the session
/// the source ran them in, in order, with their checkpoints.
extension Applier {
    // MARK: - Statements

    /// A statement inside a transaction (SAVEPOINT, or DML the source logged as a statement): run
    /// in the group, in order, in the session the source ran it in (default schema, sql_mode, time
    /// zone, character set, timestamp, and the INSERT_ID, RAND seeds and user variables the source
    /// logged for it), then back to the row session. A statement that commits by itself (the
    /// CREATE TABLE of a CREATE TABLE … SELECT, which MariaDB and MySQL 8 log inside the
    /// transaction holding its rows) goes through ``applyStatementCommittingInTransaction``.
    func applyStatementInTransaction(_ query: QueryEvent, entry: RelayLogEntry) throws(ApplierError) {
        guard transaction.skip == nil else { return }
        guard configuration.filter.includes(schema: query.schemaName) else {
            transaction.context.removeAll()
            return
        }
        if Self.commitsImplicitly(query.query) {
            try applyStatementCommittingInTransaction(query, entry: entry)
            return
        }
        let prologue = try statementPrologue(query, entry: entry)
        try openTargetTransaction()
        transaction.wroteStatements = true
        let target = configuration.filter.targetSchema(query.schemaName)
        let context = batch.addContext(
            .init(statement: "statement", table: "schema `\(target)`", location: entry.location, source: sourcePosition(of: entry)))
        for statement in prologue {
            batch.sql.append(statement)
            batch.endStatement(expecting: nil, context: context)
        }
        if !query.schemaName.isEmpty {
            batch.sql.append("USE ")
            batch.sql.appendIdentifier(target)
            batch.endStatement(expecting: nil, context: context)
        }
        batch.sql.bytes.append(contentsOf: query.query)
        batch.endStatement(expecting: nil, context: context)
        batch.sql.append("USE ")
        batch.sql.appendIdentifier(configuration.schema)
        batch.endStatement(expecting: nil, context: context)
        batch.sql.append(Self.rowSession)
        batch.endStatement(expecting: nil, context: context)
        sessionForeignKeyChecks = false
    }

    /// The CREATE TABLE of a CREATE TABLE … SELECT: it commits by itself, so it cannot share a target
    /// transaction with the rows that follow it. The group before it is committed (checkpoint at
    /// the start of this source transaction), the statement is recorded as pending and run, and the
    /// rows then go in a target transaction of their own whose checkpoint clears the mark. After a
    /// crash in between, the statement runs again and "already exists" counts as done.
    func applyStatementCommittingInTransaction(_ query: QueryEvent, entry: RelayLogEntry) throws(ApplierError) {
        guard !transaction.wroteStatements else {
            var error = located(
                ApplierError(
                    .unsupported,
                    "a statement that commits by itself follows changes inside the same source transaction; it cannot be applied atomically"),
                entry)
            error.statement = "DDL"
            throw error
        }
        try pool?.drain()
        let leads = try leadsBeforeStatement(at: pending, statementBytes: query.query.count)
        let end = entry.nextLocation
        let rerun = committed.pendingStatementEnd == end
        var head = SQLText()
        var written: Checkpoint?
        if !rerun {
            var marked = pending!
            marked.pendingStatementEnd = end
            let sql: SQLText
            (sql, written) = try standaloneCheckpoint(marked)
            head = sql
        }
        try runStatement(query, entry: entry, rerun: rerun, leads: leads, head: head, tail: rowSessionReset())
        if let written { committed = written }
        status.update { $0.statementsApplied += 1 }
    }

    /// DDL (and other statements that commit by themselves): commit the group (checkpoint
    /// `before` the statement), record that the statement is pending, run it with the session
    /// settings the source logged, then commit the checkpoint past it (``pending``).
    func applyStandaloneStatement(_ query: QueryEvent, entry: RelayLogEntry, before: Checkpoint) throws(ApplierError) {
        try pool?.drain()
        let end = entry.nextLocation
        let rerun = committed.pendingStatementEnd == end
        if !rerun, let holdable = holdable(query) {
            try hold(query, holdable, entry: entry, before: before)
            return
        }
        let leads = try leadsBeforeStatement(at: before, statementBytes: query.query.count)
        // One round trip across a slow link: the checkpoint marking the statement pending, the
        // statement in its session, the row session back, and the checkpoint past it. The server
        // stops at the first statement that fails, so nothing after a failure takes effect.
        var head = SQLText()
        if !rerun {
            var marked = before
            marked.pendingStatementEnd = end
            head = try standaloneCheckpoint(marked).0
        }
        var done = pending!
        done.pendingStatementEnd = nil
        var tail = rowSessionReset()
        tail.append(";")
        let (checkpointSQL, written) = try standaloneCheckpoint(done)
        tail.append(checkpointSQL.bytes)
        try runStatement(query, entry: entry, rerun: rerun, leads: leads, head: head, tail: tail)
        committed = written
        status.update {
            $0.statementsApplied += 1
            $0.transactionsApplied += 1
            $0.applied = written
        }
        logger.debug("statement applied", metadata: ["at": "\(entry.location)", "checkpoint": "\(done.location)"])
    }

    /// `USE <relay schema>; <row session>` (two statements, no trailing `;`): back from a
    /// statement's session to the one row statements run in.
    func rowSessionReset() -> SQLText {
        var sql = SQLText()
        sql.append("USE ")
        sql.appendIdentifier(configuration.schema)
        sql.append(";")
        sql.append(Self.rowSession)
        return sql
    }

    /// Runs a statement that commits by itself, marked as the relay's, in the session the source
    /// ran it in, between `head` (four statements: the pending checkpoint, or none) and `tail`
    /// (back to the row session, then the checkpoint past it), in one round trip when all goes
    /// well; then forgets what it knew of the target's tables. With `rerun` (it was pending when a
    /// crash came), "already done" errors count as done.
    func runStatement(
        _ query: QueryEvent, entry: RelayLogEntry, rerun: Bool, leads: [Lead], head: SQLText, tail: SQLText
    ) throws(ApplierError) {
        guard let connection else { throw ApplierError(.connection, "not connected") }
        try finishInFlight()
        let prologue = try statementPrologue(query, entry: entry)
        let target = configuration.filter.targetSchema(query.schemaName)
        var text = Array(query.query)
        if target != query.schemaName {
            switch DatabaseStatement.rewrite(query.query, from: query.schemaName, to: target) {
            case .unchanged: break
            case .rewritten(let rewritten): text = rewritten
            case .unreadable:
                var error = located(
                    ApplierError(
                        .unsupported,
                        "a database statement under the schema rename \(query.schemaName)=\(target) does not say which database it changes in a form the applier reads; apply it on the target by hand"),
                    entry)
                error.statement = "DDL"
                throw error
            }
        }
        switch text.withUnsafeBytes({ TriggerStatement.guardBody($0) }) {
        case .unchanged: break
        case .guarded(let guarded): text = guarded
        case .unreadable:
            var error = located(
                ApplierError(.unsupported, "a CREATE TRIGGER whose body the applier cannot find; create the trigger on the target by hand"), entry)
            error.statement = "DDL"
            throw error
        }
        // The schema the statement changes, read again in the same round trip after it (the rows
        // that follow need it): unless the last four reads went unused (a run of DDL statements).
        let reread = !query.schemaName.isEmpty && unusedSchemaReads < 4
        let readsReferences = reread && referencedElsewhere == nil
        let rereadQuery =
            reread ? (readsReferences ? TargetTable.crossSchemaQuery + ";" : "") + TargetTable.query(target, escape: connection.escape) : ""
        var leads = leads
        var head = head
        // CREATE DATABASE is logged with the new database as its default schema: no USE of it.
        var withSchema = !DatabaseStatement.createsDatabase(query.query)
        var finished = false
        var schemaResults: [MySQLResult] = []
        while !finished {
            let headCount = head.isEmpty ? 0 : 4
            var sql = Self.text(of: leads)
            if !head.isEmpty {
                sql.append(head.bytes)
                sql.append(";")
            }
            for statement in prologue {
                sql.append(statement)
                sql.append(";")
            }
            if withSchema {
                sql.append("USE ")
                sql.appendIdentifier(query.schemaName.isEmpty ? configuration.schema : target)
                sql.append(";")
            }
            sql.append(CheckpointTable.statementMarker)
            sql.bytes.append(contentsOf: text)
            sql.append(";")
            sql.append(tail.bytes)
            if reread {
                sql.append(";")
                sql.append(rereadQuery)
            }
            let statementIndex = headCount + prologue.count + (withSchema ? 1 : 0)
            let started = ContinuousClock.now
            var outcome = sql.bytes.withUnsafeBytes { connection.executeBatch($0, keepingResults: reread) }
            for sent in leads { outcome = try settle(sent, outcome, took: ContinuousClock.now - started) }
            leads.removeAll()
            guard let error = outcome.error else {
                schemaResults = outcome.resultSets
                break
            }
            let failed = outcome.affectedRows.count
            if failed < headCount {
                throw ApplierError(error.isTransient ? .connection : .target, "cannot write the checkpoint", server: error)
            }
            // From here on the pending checkpoint is committed: do not write it again.
            head = SQLText()
            if withSchema && failed == statementIndex - 1 && error.number == 1049 {
                // The default schema is gone on the target (dropped before this statement): run it
                // without one, as it names what it changes.
                withSchema = false
                continue
            }
            if failed > statementIndex {
                throw ApplierError(
                    error.isTransient ? .connection : .target, "cannot write the checkpoint after a statement", server: error)
            }
            if rerun && failed == statementIndex && Self.alreadyDone.contains(error.number) {
                logger.notice(
                    "a statement interrupted by a crash was already applied", metadata: ["at": "\(entry.location)", "error": "\(error)"])
                let rest = tail.bytes.withUnsafeBytes { connection.executeBatch($0) }
                if let error = rest.error {
                    throw ApplierError(error.isTransient ? .connection : .target, "cannot write the checkpoint after a statement", server: error)
                }
                finished = true
                continue
            }
            var failure = located(
                ApplierError(error.isTransient ? .connection : .target, "the target refused a statement", server: error), entry)
            failure.statement = failed < statementIndex ? "session settings of a statement" : "DDL"
            failure.table = "schema `\(target)`"
            throw failure
        }
        // The statement may have changed any table: the target's schema is read again when needed
        // (its own schema's was read after it, in the same round trip).
        tables.removeAll()
        createdTables.removeAll()
        bindings.removeAll()
        sessionForeignKeyChecks = nil
        if readsReferences && schemaResults.count == 5 {
            referencedElsewhere = TargetTable.referencedElsewhere(schemaResults.removeFirst())
        }
        if reread && schemaResults.count == 4 && referencedElsewhere != nil {
            learnReferences(schemaResults, schema: target)
            tables[target] = TargetTable.parse(schemaResults, schema: target, referencedElsewhere: referencedElsewhere ?? [])
            unusedSchemaReads += 1
            schemaReadAhead = target
        }
        status.countRoundTrips(of: connection, counted: &countedRoundTrips)
    }

    /// The statements that put the session where the source's was for `query`: its settings, its
    /// timestamp (NOW()), and the INSERT_ID, LAST_INSERT_ID, RAND seeds and user variables logged
    /// before it (consumed here).
    func statementPrologue(_ query: QueryEvent, entry: RelayLogEntry) throws(ApplierError) -> [String] {
        let settings: QueryStatusVariables
        do {
            settings = try query.statusVariables()
        } catch {
            throw located(ApplierError(.decode, "the statement's session settings cannot be decoded: \(error)"), entry)
        }
        // Triggers fire for a statement as they did on the source (TriggerStatement).
        var statements = [Self.sessionStatement(for: settings), "SET \(TriggerStatement.variable) = NULL"]
        let seconds = entry.header.timestamp
        if seconds != 0 {
            if let micro = settings.microseconds {
                statements.append("SET TIMESTAMP=\(seconds).\(String(repeating: "0", count: 6 - String(micro).count))\(micro)")
            } else {
                statements.append("SET TIMESTAMP=\(seconds)")
            }
        }
        statements += transaction.context
        transaction.context.removeAll()
        return statements
    }

    /// Whether a statement commits the transaction it runs in (DDL), from its first keyword.
    static func commitsImplicitly(_ query: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        // Skip white space and comments (a leading /* … */ or the relay's marker).
        while index < query.count {
            let byte = query[index]
            if byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
                index += 1
            } else if byte == UInt8(ascii: "/"), index + 1 < query.count, query[index + 1] == UInt8(ascii: "*") {
                index += 2
                while index + 1 < query.count, !(query[index] == UInt8(ascii: "*") && query[index + 1] == UInt8(ascii: "/")) { index += 1 }
                index += 2
            } else {
                break
            }
        }
        var word: [UInt8] = []
        while index < query.count, word.count < 10 {
            let byte = query[index] | 0x20
            guard byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") else { break }
            word.append(byte)
            index += 1
        }
        return ["create", "alter", "drop", "rename", "truncate"].contains(String(decoding: word, as: UTF8.self))
    }

    /// `SET @name := value` for a USER_VAR event.
    func userVariableStatement(_ variable: UserVariableEvent, entry: RelayLogEntry) throws(ApplierError) -> String {
        let name = String(decoding: SQLText.identifier(String(decoding: variable.name, as: UTF8.self)), as: UTF8.self)
        guard let type = variable.valueType else { return "SET @\(name) := NULL" }
        let value = variable.value
        func littleEndian() -> UInt64 {
            var result: UInt64 = 0
            for index in (0..<min(8, value.count)).reversed() { result = result << 8 | UInt64(value[index]) }
            return result
        }
        switch type {
        case 0:  // STRING_RESULT
            var sql = SQLText()
            sql.appendHex(value)
            let hex = String(decoding: sql.bytes, as: UTF8.self)
            guard let (charset, collation) = try collationName(variable.collation) else {
                return "SET @\(name) := \(hex)"
            }
            return "SET @\(name) := CONVERT(\(hex) USING \(charset)) COLLATE \(collation)"
        case 1:  // REAL_RESULT
            let double = Double(bitPattern: littleEndian())
            guard double.isFinite else { throw located(ApplierError(.decode, "a user variable holds \(double)"), entry) }
            return "SET @\(name) := \(double)e0"
        case 2:  // INT_RESULT
            let bits = littleEndian()
            return variable.flags & 1 != 0 ? "SET @\(name) := \(bits)" : "SET @\(name) := \(Int64(bitPattern: bits))"
        case 4:  // DECIMAL_RESULT: precision, scale, binary decimal
            guard value.count >= 2 else { throw located(ApplierError(.decode, "a DECIMAL user variable is truncated"), entry) }
            let decimal = Decimal(
                bytes: UnsafeRawBufferPointer(rebasing: value[2...]), precision: Int(value[0]), scale: Int(value[1]))
            return "SET @\(name) := \(decimal.description)"
        default:
            throw located(ApplierError(.unsupported, "a user variable of type \(type) cannot be applied"), entry)
        }
    }

    /// The target's character set and collation names for a collation id (read with the checkpoint
    /// when the connection is made; again here if that read found none).
    func collationName(_ id: UInt32) throws(ApplierError) -> (String, String)? {
        if collations.isEmpty {
            guard let connection else { throw ApplierError(.connection, "not connected") }
            try finishInFlight()
            try flushHeld()
            do {
                for row in try connection.query("SELECT ID, CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLLATIONS").rows {
                    if let id = row[0].flatMap({ UInt32($0) }), let charset = row[1] ?? nil, let collation = row[2] ?? nil {
                        collations[id] = (charset, collation)
                    }
                }
            } catch {
                throw ApplierError(error.isTransient ? .connection : .target, "cannot read the target's collations", server: error)
            }
        }
        return collations[id]
    }

    /// Errors that mean a DDL statement already took effect (it ran before a crash took its checkpoint).
    static let alreadyDone: Set<UInt32> = [
        1007, 1008, 1050, 1051, 1054, 1060, 1061, 1091, 1146, 1826, 1396,
        1304, 1305,  // a stored routine that already exists, or is already gone
        1359, 1360,  // a trigger
        1537, 1539,  // an event
    ]

    /// `SET` of the session context a statement ran in on the source.
    static func sessionStatement(for settings: QueryStatusVariables) -> String {
        var parts: [String] = []
        if let mode = settings.sqlMode { parts.append("@@session.sql_mode=\(mode)") }
        if let zone = settings.timeZone { parts.append("@@session.time_zone='\(zone.replacingQuotes)'") }
        if let client = settings.charsetClient, let connection = settings.collationConnection,
            let server = settings.collationServer
        {
            parts.append("@@session.character_set_client=\(client)")
            parts.append("@@session.collation_connection=\(connection)")
            parts.append("@@session.collation_server=\(server)")
        }
        if let flags = settings.flags2 {
            parts.append("@@session.foreign_key_checks=\(flags & (1 << 26) != 0 ? 0 : 1)")
            parts.append("@@session.unique_checks=\(flags & (1 << 27) != 0 ? 0 : 1)")
        }
        if let increment = settings.autoIncrementIncrement, let offset = settings.autoIncrementOffset {
            parts.append("@@session.auto_increment_increment=\(increment)")
            parts.append("@@session.auto_increment_offset=\(offset)")
        }
        if parts.isEmpty { return "SET @@session.foreign_key_checks=1" }
        return "SET " + parts.joined(separator: ", ")
    }
}
