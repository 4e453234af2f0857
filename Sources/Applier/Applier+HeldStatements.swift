import BinlogFormat
import Logging
import MySQLClient
import RelayLog

#if canImport(Glibc)
import Glibc
#endif

/// Work held for one round trip behind a statement the applier can predict (a CREATE TABLE, a
/// DROP/RENAME/TRUNCATE TABLE, a CREATE INDEX), the leads that ride ahead of a statement, and the
/// deferred COMMIT of a group checked by the applier.
extension Applier {
    // MARK: - Held statements and leads

    /// A statement that can be held with the rows after it (``held``): a CREATE TABLE whose table
    /// is predicted and checked on the target, or a statement whose effect on the known tables
    /// needs no reading back.
    enum Holdable {
        case creates(CreateTablePrediction)
        case changes(SchemaEffect)
    }

    /// Whether `query` can be held (a MariaDB target, which runs the checks; no schema renaming of
    /// its default schema or of a schema it names). A CREATE TABLE: the session's cross-schema
    /// foreign keys read, none naming the table, and a table not known to exist already.
    func holdable(_ query: QueryEvent) -> Holdable? {
        let renamed = { (schema: String) in self.configuration.filter.targetSchema(schema) != schema }
        guard statements.targetIsMariaDB, let referencedElsewhere, query.schemaName.isEmpty || !renamed(query.schemaName),
            let settings = try? query.statusVariables()
        else { return nil }
        let text = Array(query.query)
        if predictionMisses < Self.predictionMissLimit,
            let prediction = CreateTablePrediction.predict(text, schema: query.schemaName, sqlMode: settings.sqlMode, targetIsMariaDB: true)
        {
            let key = TargetTable.qualifiedKey(prediction.schema, prediction.table)
            guard !renamed(prediction.schema), !referencedElsewhere.contains(key), tables[prediction.schema]?[prediction.table] == nil,
                createdTables[key] == nil
            else {
                return nil
            }
            return .creates(prediction)
        }
        guard let effect = SchemaEffect.of(text, schema: query.schemaName, sqlMode: settings.sqlMode) else { return nil }
        let names: [SchemaEffect.Name] =
            switch effect {
            case .unchanged: []
            case .drops(let names): names
            case .renames(let pairs): pairs.flatMap { [$0.from, $0.to] }
            }
        guard !names.contains(where: { renamed($0.schema) }) else { return nil }
        return .changes(effect)
    }

    /// A statement held (``held``) with the group before it, as ``applyStandaloneStatement`` would
    /// send them (the checkpoint marking it pending, the statement in its session, the checkpoint
    /// past it); for a CREATE TABLE followed by the check of the predicted table. What the
    /// applier knows of the tables changes as the statement will change them, so the rows after
    /// it are built at once and held behind it. The target stops at a failed statement or check,
    /// before anything built after it; after a failed check the applier resumes from the
    /// checkpoint past the statement (``ApplierError/Code/predictionMissed``).
    func hold(_ query: QueryEvent, _ holdable: Holdable, entry: RelayLogEntry, before: Checkpoint) throws(ApplierError) {
        guard let connection else { throw ApplierError(.connection, "not connected") }
        try finishInFlight()
        try flushHeldUnlessRoom(for: query.query.count)
        var marked = before
        marked.pendingStatementEnd = entry.nextLocation
        // A group before the statement commits with the checkpoint that marks it pending: one
        // commit fewer than a transaction of its own for the mark (the same state after a crash).
        let groupCarriesMark = targetTransactionOpen
        if var lead = try finishGroupBeforeStatement(at: groupCarriesMark ? marked : before, statementBytes: query.query.count) {
            if lead.batch.leadingCommit, let deferred = deferredCommit {
                // This lead commits the deferred group now: nothing else may.
                lead.commits = deferred
                deferredCommit = nil
            }
            held.append(lead)
        }
        let prologue = try statementPrologue(query, entry: entry)
        var done = pending!
        done.pendingStatementEnd = nil
        let (doneSQL, written) = try standaloneCheckpoint(done)

        var unit = ApplyBatch()
        let context = unit.addContext(
            .init(statement: "DDL", table: "schema `\(query.schemaName)`", location: entry.location, source: sourcePosition(of: entry)))
        if !groupCarriesMark { unit.add(statements: try standaloneCheckpoint(marked).0.bytes, count: 4, context: context) }
        for statement in prologue {
            unit.sql.append(statement)
            unit.endStatement(expecting: nil, context: context)
        }
        unit.sql.append("USE ")
        unit.sql.appendIdentifier(query.schemaName.isEmpty ? configuration.schema : query.schemaName)
        unit.endStatement(expecting: nil, context: context)
        unit.sql.append(CheckpointTable.statementMarker)
        unit.sql.bytes.append(contentsOf: query.query)
        unit.endStatement(expecting: nil, context: context)
        unit.add(statements: rowSessionReset().bytes, count: 2, context: context)
        unit.add(statements: doneSQL.bytes, count: 4, context: context)
        var display = "schema `\(query.schemaName)`"
        switch holdable {
        case .creates(let prediction):
            display = "`\(prediction.schema)`.`\(prediction.table)`"
            unit.sql.append(
                TargetTable.predictionCheck(
                    schema: prediction.schema, table: prediction.table, expected: prediction.fingerprint, escape: connection.escape))
            unit.endStatement(expecting: nil, context: context)
            let key = TargetTable.qualifiedKey(prediction.schema, prediction.table)
            createdTables[key] = prediction.targetTable
            bindings[key] = nil
        case .changes(let effect):
            learn(effect)
        }
        held.append(
            Lead(batch: unit, checkpoint: nil, statement: HeldStatement(written: written, table: display, location: entry.location)))
        sessionForeignKeyChecks = nil
        logger.debug("statement held", metadata: ["at": "\(entry.location)", "on": "\(display)"])
    }

    /// What the applier knows of the tables, as a held statement will change them.
    func learn(_ effect: SchemaEffect) {
        switch effect {
        case .unchanged:
            break
        case .drops(let names):
            for name in names {
                let key = TargetTable.qualifiedKey(name.schema, name.table)
                tables[name.schema]?[name.table] = nil
                createdTables[key] = nil
                bindings[key] = nil
            }
        case .renames(let pairs):
            for (from, to) in pairs {
                let fromKey = TargetTable.qualifiedKey(from.schema, from.table)
                let toKey = TargetTable.qualifiedKey(to.schema, to.table)
                var known = createdTables[fromKey] ?? tables[from.schema]?[from.table]
                createdTables[fromKey] = nil
                tables[from.schema]?[from.table] = nil
                bindings[fromKey] = nil
                bindings[toKey] = nil
                if referencedElsewhere?.contains(fromKey) == true { referencedElsewhere?.insert(toKey) }
                if known != nil {
                    known!.schema = to.schema
                    known!.name = to.table
                    createdTables[toKey] = known
                    tables[to.schema]?[to.table] = known
                } else {
                    // Not known here: the table's schema is read again when next needed.
                    createdTables[toKey] = nil
                    tables[to.schema] = nil
                }
            }
        }
    }

    /// A held statement ran, with the checkpoint past it.
    func appliedStatement(_ statement: HeldStatement) {
        committed = statement.written
        status.update {
            $0.statementsApplied += 1
            $0.transactionsApplied += 1
            $0.applied = statement.written
        }
    }

    /// Empties ``held`` and returns what it held.
    func takeHeld() -> [Lead] {
        defer { held.removeAll() }
        return held
    }

    /// The statements of `leads`, one after another, as they go in one round trip (leads without
    /// bulk INSERTs: ``execute(_:on:)``).
    static func text(of leads: [Lead]) -> SQLText {
        var sql = SQLText()
        for lead in leads { sql.append(lead.batch.sql.bytes) }
        return sql
    }

    /// Sends what is held (``held``) in one round trip and checks it, lead after lead. `ahead`:
    /// without waiting for the answer, as a group is sent ahead: the next group is built while
    /// the target runs it, and the answer is read and settled before anything more goes
    /// (``finishInFlight(leaving:)``) but a group sent behind it. Across a slow link a held run waited for its answer before the next
    /// group was even read (every-type, 30 ms: ~0.15 s).
    func flushHeld(ahead: Bool = false) throws(ApplierError) {
        guard !held.isEmpty else { return }
        guard let connection else { throw ApplierError(.connection, "not connected") }
        // A group sent just before the first held statement (one that had to be checked first).
        try finishInFlight(leaving: ahead ? 1 : 0)
        let leads = takeHeld()
        if ahead {
            var alone = ApplyBatch()
            let round = markRound(&alone.sql, endsCommitted: true)
            var sent = InFlight(batch: alone, checkpoint: nil, defers: false, commits: nil, started: .now, leads: leads, round: round)
            try transmit(&sent, on: connection)
            return
        }
        try execute(leads, on: connection)
    }

    /// Sends `leads` in one round trip, waits for the answer and checks it, lead after lead.
    func execute(_ leads: [Lead], on connection: MySQLConnection) throws(ApplierError) {
        let started = ContinuousClock.now
        var outcome: MySQLConnection.BatchOutcome
        let bulks = leads.contains { !$0.batch.bulks.isEmpty }
        if bulks || bulkSession.autocommitOff {
            // Bulk INSERTs between queries, or autocommit to turn back on (Wire): every lead
            // ends committed.
            try finishInFlight()
            var wire = Wire(bulks: bulks, session: bulkSession)
            for lead in leads { try wire.append(lead.batch) }
            wire.finish(committed: true)
            outcome = wire.execute(on: connection)
        } else {
            let sql = Self.text(of: leads)
            outcome = sql.bytes.withUnsafeBytes { connection.executeBatch($0) }
        }
        let elapsed = ContinuousClock.now - started
        for lead in leads { outcome = try settle(lead, outcome, took: elapsed) }
        status.countRoundTrips(of: connection, counted: &countedRoundTrips)
    }

    /// Sends what is held first when it, the open group and a statement of `statementBytes` would
    /// not fit in one packet.
    func flushHeldUnlessRoom(for statementBytes: Int) throws(ApplierError) {
        if heldBytes + batch.byteCount + statementBytes + (64 << 10) >= maximumPacket { try flushHeld() }
    }

    /// What goes ahead of a statement that is not held, in its round trip: what is held, then the
    /// open group with its COMMIT (``finishGroupBeforeStatement(at:statementBytes:)``, which sends
    /// it now instead, after what is held, when it must be checked first).
    func leadsBeforeStatement(at checkpoint: Checkpoint, statementBytes: Int) throws(ApplierError) -> [Lead] {
        try flushHeldUnlessRoom(for: statementBytes)
        let lead = try finishGroupBeforeStatement(at: checkpoint, statementBytes: statementBytes)
        var leads = takeHeld()
        if let lead { leads.append(lead) }
        if bulkSession.autocommitOff || leads.contains(where: { !$0.batch.bulks.isEmpty }) {
            // Their bulk INSERTs cannot go in the statement's query (Wire): they go first.
            guard let connection else { throw ApplierError(.connection, "not connected") }
            try execute(leads, on: connection)
            return []
        }
        return leads
    }

    /// Ends the open group (if any) before a statement that commits by itself, with `checkpoint`
    /// (the position before the statement). Its statements run on this connection (with parallel
    /// apply too: the workers are drained, and the statement must wait for the group anyway). A
    /// group that can only fail with an error (INSERTs, statements, UPDATEs and DELETEs checked in
    /// their compound blocks) is returned with its COMMIT, to go in the statement's round trip
    /// ahead of it; one with an UPDATE or DELETE the applier must check is sent and checked, then
    /// committed, first.
    func finishGroupBeforeStatement(at checkpoint: Checkpoint, statementBytes: Int) throws(ApplierError) -> Lead? {
        guard targetTransactionOpen else { return deferredCommitLead() }
        var checkpoint = checkpoint
        checkpoint.logFingerprint = try fingerprint(checkpoint.location)
        groupOnThisConnection = true
        batch.compound()
        guard !batch.mayMissRows else {
            try commitGroup(at: checkpoint)
            return deferredCommitLead()
        }
        let context = batch.addContext(
            .init(statement: "COMMIT", table: nil, location: checkpoint.location, source: checkpoint.source))
        batch.sql.append(checkpointTable.writeStatement(checkpoint, worker: groupWorker))
        batch.endStatement(expecting: nil, context: context)
        batch.add("COMMIT", context: context)
        guard batch.byteCount + statementBytes + (64 << 10) < maximumPacket else {
            // Too large to go with the statement in one packet: on its own.
            try send(committing: checkpoint, commitSent: true)
            groupOnThisConnection = false
            return nil
        }
        let lead = Lead(batch: batch, checkpoint: checkpoint)
        batch.reset()
        targetTransactionOpen = false
        groupOnThisConnection = false
        return lead
    }

    /// A group's statements, ending with its checkpoint and COMMIT, that go in the round trip of
    /// the statement after them; or only the COMMIT of a deferred group (no checkpoint).
    struct Lead {
        var batch: ApplyBatch
        var checkpoint: Checkpoint?
        /// The deferred group whose COMMIT leads `batch` (moved here from ``deferredCommit``).
        var commits: DeferredCommit?
        /// A held statement (``hold(_:_:entry:before:)``): `batch` is the statement in its session
        /// between its two checkpoints (for a CREATE TABLE, then the check of its predicted table).
        var statement: HeldStatement?
    }

    struct HeldStatement {
        /// The checkpoint past the statement.
        var written: Checkpoint
        var table: String
        var location: RelayLogLocation
    }

    /// The COMMIT of the deferred group, if there is one, to lead the next round trip.
    func deferredCommitLead() -> Lead? {
        guard let deferred = deferredCommit else { return nil }
        var lead = ApplyBatch()
        let context = lead.addContext(
            .init(statement: "COMMIT", table: nil, location: deferred.checkpoint.location, source: deferred.checkpoint.source))
        lead.add("COMMIT", context: context)
        lead.leadingCommit = true
        return Lead(batch: lead, checkpoint: nil)
    }

    /// The deferred group's COMMIT went through: its checkpoint is the target's.
    func confirmDeferredCommit() {
        guard let deferred = deferredCommit else { return }
        deferredCommit = nil
        confirm(deferred)
    }

    /// `deferred`'s COMMIT went through.
    func confirm(_ deferred: DeferredCommit) {
        committed = deferred.checkpoint
        status.update {
            $0.applied = deferred.checkpoint
            $0.transactionsApplied += UInt64(deferred.transactions)
        }
    }

    /// Commits the deferred group in a round trip of its own (nothing else is to be sent now).
    func flushDeferredCommit() throws(ApplierError) {
        try finishInFlight()
        try flushHeld()
        guard let deferred = deferredCommit else { return }
        guard let connection else { throw ApplierError(.connection, "not connected") }
        do {
            // A wire with bulk INSERTs left autocommit off (Wire): on again once committed.
            try connection.execute(bulkSession.takeAutocommitBackOn() ? "COMMIT;SET autocommit=1" : "COMMIT")
        } catch {
            var failure = ApplierError(error.isTransient ? .connection : .target, "the target did not commit a transaction", server: error)
            failure.statement = "COMMIT"
            failure.location = deferred.checkpoint.location
            failure.source = deferred.checkpoint.source
            throw failure
        }
        confirmDeferredCommit()
        status.countRoundTrips(of: connection, counted: &countedRoundTrips)
    }

    /// Checks what the `lead` statements at the start of `outcome` did: throws if one failed or
    /// changed the wrong number of rows; otherwise the group is committed. Returns the outcome of
    /// the statements after them.
    func settle(_ lead: Lead, _ outcome: MySQLConnection.BatchOutcome, took elapsed: Duration) throws(ApplierError) -> MySQLConnection.BatchOutcome {
        let count = lead.batch.resultCount
        var own = outcome
        own.affectedRows = Array(outcome.affectedRows.prefix(count))
        if outcome.affectedRows.count >= count { own.error = nil }
        if !outcome.affectedRows.isEmpty {
            if let commits = lead.commits {
                confirm(commits)
            } else if lead.batch.leadingCommit {
                confirmDeferredCommit()
            }
        }
        if let statement = lead.statement, let error = own.error, own.affectedRows.count == count - 1, error.number == 1644,
            error.message == TargetTable.predictionMismatch
        {
            // The statement and the checkpoint past it ran; its table failed the check, which
            // nothing built from the prediction follows.
            appliedStatement(statement)
            predictionMisses += 1
            var missed = ApplierError(.predictionMissed, "table \(statement.table) was not as predicted from its CREATE TABLE")
            missed.location = statement.location
            throw missed
        }
        try ApplyBatch.check(own, of: lead.batch)
        guard outcome.affectedRows.count >= count else {
            throw ApplierError(.connection, "the target answered fewer statements than it was sent")
        }
        if let statement = lead.statement {
            appliedStatement(statement)
        } else if let checkpoint = lead.checkpoint {
            committed = checkpoint
            status.recordBatch(lead.batch, took: elapsed, committed: checkpoint)
        }
        var rest = outcome
        rest.affectedRows = Array(outcome.affectedRows.dropFirst(count))
        return rest
    }
}
