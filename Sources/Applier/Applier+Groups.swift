import BinlogFormat
import Logging
import MySQLClient
import RelayLog

#if canImport(Glibc)
import Glibc
#endif

/// Target transactions: groups of source transactions opened, committed with their checkpoint,
/// sent ahead and behind one another, and their answers checked.
extension Applier {
    // MARK: - Target transactions

    /// BEGIN and the marker, before the first statement of a group.
    func openTargetTransaction() throws(ApplierError) {
        guard !targetTransactionOpen, batch.isEmpty else { return }
        // Behind held statements (a predicted CREATE TABLE) a group is held too, on this connection.
        let onThisConnection = pool == nil || chainGroupsLeft > 0 || !held.isEmpty
        if let pool {
            if onThisConnection {
                // A chain (see chainGroupsLeft): after every worker's group has committed.
                if chainGroupsLeft > 0 { chainGroupsLeft -= 1 }
                try pool.drain()
            } else {
                // A group for a worker cannot carry this connection's COMMIT.
                try flushDeferredCommit()
            }
        }
        groupWorker = pool?.nextWorker ?? 0
        groupOnThisConnection = onThisConnection
        if let deferred = deferredCommit {
            let context = batch.addContext(
                .init(statement: "COMMIT", table: nil, location: deferred.checkpoint.location, source: deferred.checkpoint.source))
            batch.add("COMMIT", context: context)
            batch.leadingCommit = true
        }
        // On a MariaDB target rows go in compound blocks that check their own counts
        // (ApplyBatch.compound()); after an error in a block, plain statements for a while.
        batch.compounds = compoundsRows && plainGroupsLeft == 0
        if plainGroupsLeft > 0 { plainGroupsLeft -= 1 }
        let context = batch.addContext(
            .init(statement: "BEGIN", table: nil, location: pending.location, source: pending.source))
        batch.add("BEGIN", context: context)
        batch.sql.append(checkpointTable.markerStatement(worker: groupWorker))
        batch.endStatement(expecting: 1, context: context)
        targetTransactionOpen = true
        // A group may run on any worker's connection: it sets foreign_key_checks itself.
        sessionForeignKeyChecks = nil
    }

    /// Commits the group with its checkpoint (nothing to do when no statement is gathered): on its
    /// worker, or sent on this connection (``send(committing:commitSent:)``).
    func commitGroup(at checkpoint: Checkpoint? = nil) throws(ApplierError) {
        guard targetTransactionOpen else { return }
        var checkpoint = checkpoint ?? pending!
        checkpoint.logFingerprint = try fingerprint(checkpoint.location)
        if let pool, !groupOnThisConnection {
            // Parallel: the group goes to its worker, with what it depends on.
            var commit = SQLText()
            commit.append(checkpointTable.writeStatement(checkpoint, worker: groupWorker))
            commit.append(";COMMIT")
            let index = pool.nextIndex
            // Before this group's keys are recorded: which of them groups still running wrote
            // (a key recorded under `index` itself is from a group on this connection, committed).
            var parts: (now: ApplyBatch, later: ApplyBatch)?
            let committedIndex = Self.testSplitEveryGroup ? 0 : pool.committedIndex
            if groupsInParts && serialGroupsLeft == 0 && !batch.serial {
                let free = { (key: Int) -> Bool in
                    let writer = self.history.writer(of: key)
                    return writer <= committedIndex || writer == index
                }
                if !batch.keys.allSatisfy(free) {
                    parts = batch.split(free: free)
                    if parts != nil { status.update { $0.groupsInParts += 1 } }
                }
            }
            lastGroupInParts = parts != nil
            var dependency = history.record(batch.keys, index: index, committed: pool.committedIndex)
            let oneAtATime = serialGroupsLeft > 0 || batch.serial
            if serialGroupsLeft > 0 { serialGroupsLeft -= 1 }
            if oneAtATime { dependency = index - 1 }
            // A chain: the group could start only once the group just before it has committed.
            // Beside the target a group whose writers have all committed already is none: it
            // starts on its worker at once (sysbench's random keys: each group writes rows the
            // one before wrote, which has committed by the time the next is read whole).
            let chained = dependency > 0 && dependency == index - 1 && parts == nil
                && (farTarget || oneAtATime || dependency > committedIndex)
            chainedInARow = chained ? chainedInARow + 1 : 0
            if chainedInARow >= Self.chainProbe {
                chainedInARow = 0
                chainGroupsLeft = chainRunLength
                if farTarget { chainRunLength = min(2 * chainRunLength, 4096) }
            }
            if chained {
                // It could start only once the group just before has committed, and so every
                // group before it: on this connection instead, sent ahead (a worker would take
                // two round trips). Its keys stay recorded under `index`, which the next job
                // takes: later groups that wrote them wait for that one, which commits after it.
                try pool.drain()
                groupOnThisConnection = true
            } else {
                // Commits stay in source order: nothing of this connection's is left uncommitted.
                try flushDeferredCommit()
                if parts != nil {
                    parts!.now.compound()
                    parts!.later.compound()
                } else {
                    batch.compound()
                }
                let job = WorkerPool.Job(
                    index: index, dependency: dependency, worker: groupWorker, batch: batch, parts: parts,
                    commit: commit.bytes, checkpoint: checkpoint)
                batch = ApplyBatch()
                batch.collectsKeys = true
                targetTransactionOpen = false
                committed = checkpoint
                try pool.submit(job)
                return
            }
        }
        batch.compound()
        let context = batch.addContext(
            .init(statement: "COMMIT", table: nil, location: checkpoint.location, source: checkpoint.source))
        batch.sql.append(checkpointTable.writeStatement(checkpoint, worker: groupWorker))
        batch.endStatement(expecting: nil, context: context)
        let commitsItself = !batch.mayMissRows
        if commitsItself {
            // Nothing in it can miss a row without an error (INSERTs, statements, UPDATEs and
            // DELETEs the target checks in their compound blocks): one round trip.
            batch.add("COMMIT", context: context)
            if !held.isEmpty {
                // Behind a predicted CREATE TABLE: in the same round trip, unless it grows large
                // (`--batch-bytes`, `--batch-transactions`: with a backlog behind it, a held run
                // bounded by bytes alone could take the applier seconds to build before anything
                // of it commits).
                held.append(Lead(batch: batch, checkpoint: checkpoint))
                let collectsKeys = batch.collectsKeys
                batch = ApplyBatch()
                batch.collectsKeys = collectsKeys
                targetTransactionOpen = false
                groupOnThisConnection = false
                if heldBytes >= groupBytes || heldTransactions >= configuration.batchTransactions { try flushHeld(ahead: true) }
                return
            }
        }
        try send(committing: checkpoint, commitSent: commitsItself)
        groupOnThisConnection = false
    }

    /// Sends the gathered statements in one round trip without waiting for the answer: the next
    /// group is built while the target applies this one (``inFlight``); the answer is read and
    /// every count checked before anything more is sent (``finishInFlight(leaving:)``), so a
    /// failed check stops before the next group and its COMMIT of this one go; only a group that
    /// commits itself may have the next sent behind it first (``transmit(_:on:)``),
    /// which the target runs only if this one reached its end. With a checkpoint the group ends
    /// on the target: `commitSent`, the batch ends with its COMMIT (nothing in it can miss a row
    /// without the server failing it); otherwise its COMMIT waits for the check and goes first in
    /// the next round trip (``deferredCommit``): in the same round trip as the statements, the
    /// server would commit a transaction whose UPDATE found no row (not an error to the server)
    /// before the applier could see the row counts and stop. Without a checkpoint: a piece of a
    /// large transaction, which stays open.
    func send(committing checkpoint: Checkpoint?, commitSent: Bool = false) throws(ApplierError) {
        guard let connection else { throw ApplierError(.connection, "not connected") }
        try finishInFlight(leaving: batch.leadingCommit ? 0 : 1)
        // A piece of a large transaction was not written into blocks yet.
        batch.compound()
        guard batch.byteCount < maximumPacket else {
            throw ApplierError(
                .target,
                "a statement of \(batch.byteCount) bytes is larger than the target's max_allowed_packet (\(maximumPacket)); raise it on the target"
            )
        }
        // What is held goes first, in the same round trip when the packet allows.
        if !held.isEmpty && heldBytes + batch.byteCount + (64 << 10) >= maximumPacket { try flushHeld() }
        let leads = takeHeld()
        let commits = batch.leadingCommit ? deferredCommit : nil
        let defers = checkpoint != nil && !commitSent
        // Written into the group's own text while nothing else shares it: no copy of the group.
        let round = markRound(&batch.sql, endsCommitted: checkpoint != nil && commitSent)
        var sent = InFlight(batch: batch, checkpoint: checkpoint, defers: defers, commits: commits, started: .now, leads: leads, round: round)
        try transmit(&sent, on: connection)
        deferredCommit = nil
        if let checkpoint, defers { deferredCommit = DeferredCommit(checkpoint: checkpoint, transactions: batch.transactionsEnded) }
        if checkpoint != nil { targetTransactionOpen = false }
        batch.reset(keepingTransactionCount: checkpoint == nil)
    }

    /// Once a group's answer is checked: its counters, the checkpoint it committed (unless its
    /// COMMIT is deferred; nil for a piece of a large transaction), the status and a debug line.
    func recordApplied(_ done: ApplyBatch, checkpoint: Checkpoint?, defers: Bool, took elapsed: Duration) {
        status.recordBatch(done, took: elapsed, committed: defers ? nil : checkpoint)
        if let connection { status.countRoundTrips(of: connection, counted: &countedRoundTrips) }
        guard let checkpoint else { return }
        if !defers { committed = checkpoint }
        status.update {
            $0.readLocation = checkpoint.location
            $0.state = .applying
        }
        if logger.logLevel <= .debug {
            logger.debug(
                "applied",
                metadata: [
                    "checkpoint": "\(checkpoint.location)", "source": "\(checkpoint.source)",
                    "transactions": "\(done.transactionsEnded)", "bytes": "\(done.byteCount)",
                ])
        }
    }

    /// Ends `sql` with the next round mark (``roundMark(_:into:)``) when `endsCommitted` (nothing
    /// of the group stays open on the target once its last statement ran) and the target allows
    /// a group behind it (``pipelines``); returns the round, or nil.
    func markRound(_ sql: inout SQLText, endsCommitted: Bool) -> Int? {
        guard pipelines && endsCommitted else { return nil }
        lastRound += 1
        Self.roundMark(lastRound, into: &sql)
        return lastRound
    }

    /// Sends `sent` (its leads' statements, then its batch's, its round mark already written at
    /// the batch's end) without waiting for the answer and adds it to ``inFlight``: behind the
    /// group still there, with the check that that one ended (``roundCheck(_:into:)``), when
    /// ``finishInFlight(leaving:)`` left one.
    func transmit(_ sent: inout InFlight, on connection: MySQLConnection) throws(ApplierError) {
        let bulks = !sent.batch.bulks.isEmpty || sent.leads.contains { !$0.batch.bulks.isEmpty }
        let behind = inFlight.last?.round
        sent.guarded = behind != nil
        var failure: MySQLError?
        if bulks || bulkSession.autocommitOff {
            // Bulk INSERTs between queries (Wire), or autocommit to turn back on.
            var wire = Wire(bulks: bulks, session: bulkSession)
            if let behind {
                var check = SQLText()
                Self.roundCheck(behind, into: &check)
                wire.append(check.bytes)
            }
            for lead in sent.leads { try wire.append(lead.batch) }
            try wire.append(sent.batch)
            wire.finish(committed: sent.round != nil || (sent.checkpoint != nil && !sent.defers))
            failure = wire.send(on: connection)
            sent.answers = wire.answers
        } else if behind == nil && sent.leads.isEmpty {
            failure = sent.batch.sql.bytes.withUnsafeBytes { connection.sendBatch($0) }
        } else {
            var sql = SQLText()
            sql.bytes.reserveCapacity(sent.leads.reduce(sent.batch.byteCount) { $0 + $1.batch.byteCount } + 256)
            if let behind { Self.roundCheck(behind, into: &sql) }
            for lead in sent.leads { sql.append(lead.batch.sql.bytes) }
            sql.append(sent.batch.sql.bytes)
            failure = sql.bytes.withUnsafeBytes { connection.sendBatch($0) }
        }
        if let failure {
            var error = ApplierError(failure.isTransient ? .connection : .target, "the target refused a statement", server: failure)
            error.location = sent.checkpoint?.location
            throw error
        }
        inFlight.append(sent)
        if sent.guarded { status.update { $0.groupsPipelined += 1 } }
    }

    /// `SET @binlog_relay_round=N;`: the last statement of a group that may have another sent
    /// behind it. Reached only when every statement before it ran (the target stops a batch at
    /// its first error), its COMMIT included.
    static func roundMark(_ round: Int, into sql: inout SQLText) {
        sql.append("SET @binlog_relay_round=")
        sql.append(round)
        sql.append(";")
    }

    /// The first statement of a group sent behind group `round` before its answer: stops the
    /// batch at once unless that group reached its mark (a new session has no mark at all).
    static func roundCheck(_ round: Int, into sql: inout SQLText) {
        sql.append("IF NOT @binlog_relay_round<=>")
        sql.append(round)
        sql.append(" THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT='")
        sql.append(roundCheckMessage)
        sql.append("';END IF;")
    }

    static let roundCheckMessage = "binlog-relay: the group sent before this one did not complete"

    /// Reads and checks the answers of the groups sent ahead (``inFlight``), oldest first, until
    /// `leaving` are left: one may stay when a group may be sent behind it (it ends committed,
    /// with its mark, and its answers are few enough).
    func finishInFlight(leaving: Int = 0) throws(ApplierError) {
        while let oldest = inFlight.first {
            if inFlight.count <= leaving, let last = inFlight.last, last.round != nil,
                last.resultCount <= Self.pipelinedResultsLimit
            {
                return
            }
            try finishOldestInFlight(oldest)
        }
    }

    /// Reads and checks the answer of `sent`, the oldest group in flight.
    func finishOldestInFlight(_ sent: InFlight) throws(ApplierError) {
        inFlight.removeFirst()
        guard let connection else { throw ApplierError(.connection, "not connected") }
        var outcome = sent.answers.map { Wire.read($0, session: bulkSession, from: connection) } ?? connection.readBatch()
        if sent.guarded {
            // The group before it was read first, and had it failed the applier would have stopped
            // there: a failed check means the session is not the one that ran that group.
            guard !outcome.affectedRows.isEmpty else {
                throw ApplierError(.connection, "the target did not run a group: the one sent before it did not complete", server: outcome.error)
            }
            outcome.affectedRows.removeFirst()
        }
        if sent.round != nil, outcome.error == nil, outcome.affectedRows.count == sent.resultCount + 1 {
            outcome.affectedRows.removeLast()
        }
        do {
            for lead in sent.leads { outcome = try settle(lead, outcome, took: ContinuousClock.now - sent.started) }
        } catch {
            // The target stopped in the held work, before this group.
            deferredCommit = nil
            throw error
        }
        // Held work sent ahead alone (flushHeld(ahead:)): settled above.
        if sent.batch.isEmpty && sent.commits == nil {
            status.countRoundTrips(of: connection, counted: &countedRoundTrips)
            return
        }
        // The deferred group whose COMMIT led it is the target's once that statement ran.
        if let commits = sent.commits, !outcome.affectedRows.isEmpty { confirm(commits) }
        do {
            try ApplyBatch.check(outcome, of: sent.batch)
        } catch {
            // The group failed: no COMMIT of it may go (a reconnect rolls it back too; with a
            // group behind it still unread, the connection serves nothing more).
            deferredCommit = nil
            if outcome.error == nil && inFlight.isEmpty { try? connection.execute("ROLLBACK") }
            throw error
        }
        recordApplied(sent.batch, checkpoint: sent.checkpoint, defers: sent.defers, took: ContinuousClock.now - sent.started)
    }

    /// Writes a checkpoint in a transaction of its own (the marker first, as every relay
    /// transaction), for each of `workers`' rows (each in its own transaction), in one round trip.
    func commitStandalone(_ checkpoint: Checkpoint, workers: [Int] = [0]) throws(ApplierError) {
        guard let connection else { throw ApplierError(.connection, "not connected") }
        try flushDeferredCommit()
        var sql = SQLText()
        var written = checkpoint
        for worker in workers {
            if !sql.isEmpty { sql.append(";") }
            let one: SQLText
            (one, written) = try standaloneCheckpoint(checkpoint, worker: worker)
            sql.append(one.bytes)
        }
        if bulkSession.takeAutocommitBackOn() { sql.append(";SET autocommit=1") }
        let outcome = sql.bytes.withUnsafeBytes { connection.executeBatch($0) }
        if let error = outcome.error {
            throw ApplierError(error.isTransient ? .connection : .target, "cannot write the checkpoint", server: error)
        }
        committed = written
    }

    /// `BEGIN; <marker>; <checkpoint>; COMMIT` (four statements, no trailing `;`), and the
    /// checkpoint as written.
    func standaloneCheckpoint(_ checkpoint: Checkpoint, worker: Int = 0) throws(ApplierError) -> (SQLText, Checkpoint) {
        var checkpoint = checkpoint
        // Always for this location: a checkpoint made from `pending` or `before` carries the
        // fingerprint of the location it was resumed at (nil only before the log is open).
        if let current = try fingerprint(checkpoint.location) { checkpoint.logFingerprint = current }
        var sql = SQLText()
        sql.append("BEGIN;")
        sql.append(checkpointTable.markerStatement(worker: worker))
        sql.append(";")
        sql.append(checkpointTable.writeStatement(checkpoint, worker: worker))
        sql.append(";COMMIT")
        return (sql, checkpoint)
    }
}
