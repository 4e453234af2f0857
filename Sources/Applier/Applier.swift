import BinlogFormat
import Logging
import MySQLClient
import RelayLog
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A flag another thread (a signal handler, the service) sets to ask a loop to finish.
public final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public var isSet: Bool { flag.load(ordering: .acquiring) }
    public func set() { flag.store(true, ordering: .releasing) }
}

/// Applies the local log to the target, exactly once, in source commit order.
///
/// Reads transactions (GTID/BEGIN … XID/COMMIT) from the log up to its durable end and turns
/// their row events into statements by key (``RowStatements``), grouping consecutive source
/// transactions into one target transaction and sending each group's statements in one round
/// trip. Every target transaction begins with a marker write to the checkpoint row (so the relay's
/// own changes are recognisable in the target's binlog: loop prevention) and ends with the
/// checkpoint itself, so what the checkpoint says is exactly what the target holds. After any
/// failure the applier reconnects, reads the checkpoint and resumes from it.
///
/// Runs on a thread of its own (every call blocks); ``stop`` and ``status`` may be used from any
/// thread (hence `@unchecked Sendable`: everything else is touched by the applying thread only).
///
/// This file holds its state, the retry loop and the loop over the log's events; the rest is by
/// concern: `Applier+Session` (connecting, the channel's lock, resuming), `Applier+Groups` (target
/// transactions, sent ahead and behind one another), `Applier+Statements` (DDL and other
/// statements), `Applier+HeldStatements` (work held behind predicted statements, leads, deferred
/// COMMITs), `Applier+Tables` (bindings).
public final class Applier: @unchecked Sendable {
    public let configuration: ApplierConfiguration
    public let status: ApplierStatus
    public let stopFlag = StopFlag()
    let frontier: LogFrontier
    var logger: Logger
    let checkpointTable: CheckpointTable
    var statements = RowStatements()

    // Per connection (reset by `resume`).
    var connection: MySQLConnection?
    /// Bulk INSERTs' statements prepared on ``connection`` and its session's state (``Wire``).
    var bulkSession = BulkSession()
    /// `connection`'s round trips already in ``status``.
    var countedRoundTrips = 0
    /// The target's clock against this machine's, sampled when ``connection`` was made.
    var targetClock: ClockOffset?
    var maximumPacket = 16 << 20
    /// The target's tables by schema, then name (read a schema at a time).
    var tables: [String: [String: TargetTable]] = [:]
    /// Tables other schemas' foreign keys reference (``TargetTable/crossSchemaQuery``): read with
    /// a session's first schema, then learnt from each schema read.
    var referencedElsewhere: Set<String>?
    var bindings: [String: TableBinding] = [:]
    var collations: [UInt32: (String, String)] = [:]
    /// The schema read in the round trip of the last DDL statement, until a row event uses it.
    var schemaReadAhead: String?
    /// DDL statements in a row whose schema read went unused (after four, reads wait for a row
    /// event: a long run of DDL does not read the schema after each statement).
    var unusedSchemaReads = 0
    var batch = ApplyBatch()
    /// A target transaction is open (BEGIN and the marker sent, COMMIT not yet).
    var targetTransactionOpen = false
    /// A group whose statements ran and whose row counts were checked, its transaction still open
    /// on ``connection``: its COMMIT goes first in the next round trip (the next group's, a DDL
    /// statement's), or alone when nothing follows at once. One round trip per group instead of
    /// two, and never a COMMIT of a group the applier has not checked.
    var deferredCommit: DeferredCommit?

    struct DeferredCommit {
        var checkpoint: Checkpoint
        /// Source transactions it applies.
        var transactions: Int
    }
    /// A group sent on this connection whose results are not read yet (``send(committing:commitSent:)``):
    /// the next group is built while the target applies it. Read before anything else goes to
    /// the target (``finishInFlight(leaving:)``), except a group sent behind it (``pipelines``).
    struct InFlight {
        var batch: ApplyBatch
        /// nil: a piece of a large transaction, which stays open.
        var checkpoint: Checkpoint?
        /// Its COMMIT waits for the next round trip (``deferredCommit``).
        var defers: Bool
        /// The deferred group whose COMMIT leads it.
        var commits: DeferredCommit?
        var started: ContinuousClock.Instant
        /// Held work (``held``) sent ahead of it in the same round trip.
        var leads: [Lead] = []
        /// It ends by setting `@binlog_relay_round` to this (``roundMark(_:into:)``): every
        /// statement before ran, its COMMIT included. A group may be sent behind it before its answer.
        var round: Int?
        /// It begins with the check that the group before it set its round (``roundCheck(_:into:)``).
        var guarded = false
        /// Sent as a ``Wire`` (bulk INSERTs, or autocommit turned back on): how to read its answers.
        var answers: [Wire.Answer]?
        /// Results its statements return, the check and the mark not counted.
        var resultCount: Int { leads.reduce(batch.resultCount) { $0 + $1.batch.resultCount } }
    }
    /// Oldest first: at most two, the second sent behind the first (``pipelines``).
    var inFlight: [InFlight] = []
    /// The last round number given (``InFlight/round``).
    var lastRound = 0
    /// A group that commits itself is sent behind the one before it without waiting for that
    /// one's answer, the target running them back to back. The second begins with a check, run
    /// by the target, that the first reached its end (its COMMIT done): if the first stopped on
    /// an error, the second stops at once and nothing of it runs (not even its BEGIN, which would
    /// commit what the first left open). MariaDB only: the check is an `IF` outside a stored program.
    var pipelines: Bool { statements.targetIsMariaDB }
    /// A group is sent behind another only while the other's answers surely fit in the socket
    /// buffers: the target writes them while this connection, still sending, reads nothing. An
    /// OK packet is about 11–20 bytes; 2,048 of them stay under 64 KiB, far below what a TCP
    /// receive buffer holds.
    static let pipelinedResultsLimit = 2048
    /// Work gathered for one round trip behind a held statement (``hold(_:_:entry:before:)``: a
    /// CREATE TABLE whose table is predicted, or a DROP/RENAME/TRUNCATE TABLE or CREATE INDEX):
    /// the statement (with its check), the groups after it (each with its COMMIT), more such
    /// statements. Sent before anything else goes to the target (``flushHeld()``), or in the round
    /// trip of the next statement that cannot be held, or of the next group sent ahead.
    var held: [Lead] = []
    var heldBytes: Int { held.reduce(0) { $0 + $1.batch.byteCount } }
    /// Source transactions in ``held``: its groups' and one per held statement.
    var heldTransactions: Int { held.reduce(0) { $0 + ($1.statement != nil ? 1 : $1.batch.transactionsEnded) } }
    /// Tables made by the CREATE TABLE statements in ``held`` (or verified since), by
    /// ``TargetTable/qualifiedKey(_:_:)``: rows bind to them without a schema read.
    var createdTables: [String: TargetTable] = [:]
    /// Predicted tables that failed their check on the target (each costs a reconnect): after
    /// ``predictionMissLimit`` of them, CREATE TABLE statements run alone again.
    var predictionMisses = 0
    static let predictionMissLimit = 8
    /// The last checkpoint committed on the target, and the position after the last transaction read.
    var committed: Checkpoint!
    var pending: Checkpoint!
    var transaction = TransactionState()
    var stream = StreamState()
    var decoder = BinlogDecoder()
    var reader: RelayLogReader?
    /// What the group's session has `foreign_key_checks` at (nil: not yet set in this group).
    var sessionForeignKeyChecks: Bool?
    /// ROWS_EVENT flag NO_FOREIGN_KEY_CHECKS_F: the source session ran without foreign key checks.
    static let noForeignKeyChecks: UInt16 = 0x2
    /// A resume succeeded since the last failure.
    var resumed = false
    /// Tables a seed copied under snapshots at different positions (see ``SeedWindows``).
    var seedWindows = SeedWindows()
    /// Resuming from a seed's checkpoint: where the log's first transaction must start.
    var seededStart: SourcePosition?
    /// ``ApplierConfiguration/batchBytes``, within the target's `max_allowed_packet`.
    var batchBytes = 4 << 20

    // Parallel apply (``ApplierConfiguration/workers`` > 1).
    var pool: WorkerPool?
    var history = WriteSetHistory()
    /// The checkpoint row the open group writes: its worker's (0: this connection's).
    var groupWorker = 0
    /// The open group's statements were partly sent on this connection (a large transaction):
    /// it commits here.
    var groupOnThisConnection = false
    /// After a lock conflict between workers: groups left to apply one at a time.
    var serialGroupsLeft = 0
    /// Parallel apply meeting a chain of groups, each writing what the one just before wrote
    /// (every-type's rounds, a hot row, large groups of random keys): the workers would run them
    /// one at a time, two round trips each, in groups a fraction of `--batch-bytes`. After
    /// ``chainProbe`` such groups in a row, the next ``chainRun`` groups go on this connection
    /// instead, whole-sized and sent ahead, the workers idle; then the workers are tried again.
    var chainedInARow = 0
    var chainGroupsLeft = 0
    static let chainProbe = 2
    static let chainRun = 32
    /// The length of the next run of groups on this connection (doubling across a slow link).
    var chainRunLength = chainRun
    /// The target is across a slow link (see ``connect(first:)``).
    var farTarget = false
    static let farFirstRun = 256
    /// Parallel apply beside the target (a round trip under ``nearRoundTrip``, measured when the
    /// session opens): a group that depends on groups still running goes to its worker in two
    /// parts (``ApplyBatch/split(free:)``), the part that does not depend on them running at
    /// once. A round trip more for the group, which across a slow link costs more than the
    /// overlap gains: there a chain runs on this connection, sent ahead (``chainGroupsLeft``).
    var groupsInParts: Bool { configuration.workers > 1 && !farTarget }
    static let nearRoundTrip = Duration.milliseconds(2)
    /// Rows go to the target in compound blocks (``ApplyBatch/compound()``): a MariaDB target.
    var compoundsRows: Bool { statements.targetIsMariaDB && !Self.testPlainStatements && !blocksRefused }
    /// The target refused a block's syntax (a MariaDB before 10.1, a proxy that parses
    /// statements): no more blocks in this process.
    var blocksRefused = false
    /// The target refused the bulk INSERTs' commands (``bulkRefusals``): no more in this process.
    var bulksRefused = false
    /// Unknown command (1047), unknown prepared statement handler (1243: the id of the statement
    /// prepared last, MariaDB 10.2+), not supported in the prepared statement protocol (1295),
    /// no more prepared statements (1461: `max_prepared_stmt_count` reached, or set to 0).
    static let bulkRefusals: Set<UInt32> = [1047, 1243, 1295, 1461]
    /// After an error from inside a block: groups left to write without blocks (the error's
    /// statement is then known; see ``run()``).
    var plainGroupsLeft = 0
    /// For tests of what a group of plain statements does (its counts checked by the applier,
    /// its COMMIT deferred): no compound blocks.
    static let testPlainStatements = getenv("BINLOG_RELAY_TEST_PLAIN_STATEMENTS") != nil
    /// For tests and benchmarks of the text form of INSERTs: no bulk INSERTs (``BulkRows``).
    static let testTextInserts = getenv("BINLOG_RELAY_TEXT_INSERTS") != nil
    /// For tests of every value through bulk INSERTs: the smallest insert event sent as one
    /// (``RowStatements/bulkEventBytes``; 0: every insert event).
    static let testBulkEventBytes = getenv("BINLOG_RELAY_TEST_BULK_EVENT_BYTES").flatMap { Int(String(cString: $0)) }
    /// For tests, whose outcome must not depend on which groups happen to have committed: every
    /// key an earlier group wrote counts as written by a group still running (more waits, never
    /// fewer), so that groups go in parts whatever the timing.
    static let testSplitEveryGroup = getenv("BINLOG_RELAY_TEST_SPLIT_GROUPS") != nil
    /// ``ApplierConfiguration/batchBytes`` for a group on this connection while workers exist.
    var wholeBatchBytes = 4 << 20
    /// Where the group being gathered is committed (see ``handle(_:)``).
    var groupBytes: Int { pool != nil && (groupOnThisConnection || lastGroupInParts) ? wholeBatchBytes : batchBytes }
    /// The last group went to its worker in parts (a chain): the next is gathered whole-sized,
    /// as on this connection, its overlap being with the group before rather than with three
    /// more (every-type, four workers: 0.95 s in 1 MiB groups, 0.83 s in 4 MiB).
    var lastGroupInParts = false

    /// The source transaction being read.
    struct TransactionState {
        var open = false
        var skip: SkipReason?
        var sawTable = false
        /// Statements of this source transaction are in the batch.
        var wroteStatements = false
        /// SET statements for the next statement the source logged as text (INTVAR, RAND, USER_VAR).
        var context: [String] = []
    }

    enum SkipReason { case relayMade, filtered }

    public init(
        configuration: ApplierConfiguration, frontier: LogFrontier, logger: Logger,
        status: ApplierStatus = ApplierStatus()
    ) {
        self.status = status
        self.configuration = configuration
        self.frontier = frontier
        self.logger = logger
        self.checkpointTable = CheckpointTable(schema: configuration.schema, channel: configuration.channel)
    }

    /// Asks the applier to commit what it has and return from ``run()``.
    public func stop() { stopFlag.set() }

    /// Applies until stopped (or, with ``ApplierConfiguration/stopAtEnd``, until the log is applied).
    /// Transient errors are retried with backoff. A transaction the target refuses stops the applier
    /// on it: without `stopAtEnd` it is logged and retried after
    /// ``ApplierConfiguration/failedRetryDelay`` (the relay keeps receiving meanwhile); with it,
    /// thrown, or retried while the source side runs (``ApplierConfiguration/retriesRefusalsWhileRelaying``).
    public func run() throws(ApplierError) {
        var delay = configuration.retryDelay
        while !stopFlag.isSet {
            do {
                try applyUntilDone()
                status.update { $0.state = .stopped }
                close()
                return
            } catch {
                close()
                if error.code == .predictionMissed {
                    // Nothing is wrong: the target's table was not the predicted one, and nothing
                    // built from the prediction ran. Resume from the checkpoint, the statement alone.
                    logger.info("resuming: \(error.message)", metadata: ["at": "\(error.location.map { "\($0)" } ?? "?")"])
                    continue
                }
                // The backoff starts again after a connection that worked (a restart next week
                // waits half a second, not the delay the last outage grew to).
                if resumed {
                    resumed = false
                    delay = configuration.retryDelay
                }
                status.update {
                    $0.errors += 1
                    $0.lastError = error.description
                    $0.connected = false
                }
                if error.inBlock, let number = error.server?.number, number == 1064 {
                    blocksRefused = true
                }
                if statements.bulkInserts, !bulksRefused, let number = error.server?.number, Self.bulkRefusals.contains(number) {
                    // The target holds no more prepared statements, or something between the
                    // relay and the server (a proxy) says it runs bulk executions but does not:
                    // the rest of this process sends INSERTs as text.
                    bulksRefused = true
                    retryingAtOnce("the target refused a bulk INSERT's protocol: applying again from the checkpoint with INSERTs as text", error)
                    continue
                }
                if error.inBlock && plainGroupsLeft == 0 {
                    // Which statement of a compound block failed the target does not say: from the
                    // checkpoint once more without blocks, which stops on the statement itself
                    // (or, if the error does not come again, was one that passes: a lock, a retry).
                    plainGroupsLeft = 200
                    retryingAtOnce("a statement of a compound block failed: applying again from the checkpoint without blocks", error)
                    continue
                }
                if configuration.workers > 1 && error.code == .divergence && serialGroupsLeft == 0 {
                    // With workers, a duplicate key or a missing row may only mean that two groups
                    // the write sets called independent were not: their unique keys are hashed by
                    // bytes, while the target compares strings under their collation ('A' = 'a',
                    // trailing spaces) and prefix keys by their prefix. From the checkpoint once
                    // more, one group at a time, before calling it a divergence.
                    serialGroupsLeft = 200
                    retryingAtOnce("a row conflict under parallel apply: applying again from the checkpoint, one group at a time", error)
                    continue
                }
                if error.isTransient {
                    if configuration.workers > 1, let number = error.server?.number, number == 1205 || number == 1213 {
                        // Workers got in each other's way (a lock outside the write sets): the next
                        // groups go one at a time.
                        serialGroupsLeft = 200
                    }
                    status.update {
                        $0.state = .retrying
                        $0.retries += 1
                    }
                    logger.warning("apply interrupted, retrying in \(delay)", metadata: ["error": "\(error)"])
                    sleep(delay)
                    delay = min(delay * 2, configuration.maximumRetryDelay)
                    continue
                }
                status.update { $0.state = .failed }
                logger.error("apply stopped", metadata: ["error": "\(error)"])
                if configuration.stopAtEnd && (!configuration.retriesRefusalsWhileRelaying || frontier.isFinished) { throw error }
                // Try again after the delay, or at once when the source side finishes (a promote
                // then gets this transaction's error instead of waiting).
                sleep(configuration.failedRetryDelay, unless: { self.frontier.isFinished })
                delay = configuration.retryDelay
            }
        }
        status.update { $0.state = .stopped }
    }

    /// Counts and logs a retry from the checkpoint that goes at once, applying differently.
    private func retryingAtOnce(_ message: Logger.Message, _ error: ApplierError) {
        status.update {
            $0.state = .retrying
            $0.retries += 1
        }
        logger.warning(message, metadata: ["error": "\(error)"])
    }

    func close() {
        pool?.shutdown()
        pool = nil
        history.reset()
        if let connection { status.countRoundTrips(of: connection, counted: &countedRoundTrips) }
        countedRoundTrips = 0
        connection?.close()
        connection = nil
        bulkSession = BulkSession()
        targetTransactionOpen = false
        deferredCommit = nil
        inFlight.removeAll()
        held.removeAll()
        createdTables.removeAll()
        groupOnThisConnection = false
        chainedInARow = 0
        lastGroupInParts = false
        chainGroupsLeft = 0
        batch.reset()
    }

    /// Sleeps in small steps so that a stop request is noticed.
    func sleep(_ duration: Duration, unless interrupted: () -> Bool = { false }) {
        let end = ContinuousClock.now + duration
        while !stopFlag.isSet && !interrupted() && ContinuousClock.now < end {
            usleep(20_000)
        }
    }

    // MARK: - The loop

    func applyUntilDone() throws(ApplierError) {
        // Nothing is opened before the log holds a durable transaction: until then its first
        // segment may not exist, or exist without its header.
        while frontier.durable == nil {
            if stopFlag.isSet || frontier.isFinished { return }
            usleep(2_000)
        }
        let reader = try resume()
        while true {
            let end = frontier.durable
            if let end, reader.location < end {
                let entry: RelayLogEntry?
                do {
                    entry = try reader.next(upTo: end)
                } catch {
                    throw ApplierError(.log, "cannot read the local log at \(reader.location): \(error)")
                }
                guard let entry else { continue }
                try handle(entry)
                // Asked to stop while a backlog is being applied: at the next transaction end.
                if stopFlag.isSet && !transaction.open && stream.isAtBoundary {
                    try commitGroup()
                    try flushDeferredCommit()
                    try pool?.drain()
                    return
                }
                continue
            }
            // Everything durable is read: commit what is gathered, then wait for more.
            try commitGroup()
            try flushDeferredCommit()
            status.update {
                $0.readLocation = reader.location
                if $0.state == .applying { $0.state = .idle }
            }
            if stopFlag.isSet {
                try pool?.drain()
                return
            }
            if configuration.stopAtEnd && frontier.isFinished && (frontier.durable.map { reader.location >= $0 } ?? true) {
                try pool?.drain()
                return
            }
            if let failure = pool?.firstFailure { throw failure }
            usleep(1_000)
        }
    }

    func handle(_ entry: RelayLogEntry) throws(ApplierError) {
        let event: BinlogEvent
        do {
            event = try decoder.decode(entry.bytes, at: Int(entry.location.offset))
        } catch {
            throw located(ApplierError(.decode, "an event in the local log cannot be decoded: \(error)"), entry)
        }
        var standalone: QueryEvent?
        if !entry.isRelayMade {
            standalone = try apply(event, entry: entry, insidePayload: false)
        }
        // Only a statement that commits by itself needs the position before it (its group is
        // committed there): no copy of the checkpoint for every other event.
        let before: Checkpoint? = standalone == nil ? nil : pending
        let ends = stream.consume(event)
        guard ends else { return }
        // A transaction ended (or an event between transactions went by): the checkpoint may move here.
        pending.location = entry.nextLocation
        pending.source = stream.source
        if !seedWindows.isEmpty && seedWindows.isPast(pending.source) { seedWindows = SeedWindows() }
        pending.gtid = stream.gtid
        guard transaction.open else { return }
        if let commit = stream.commitMicroseconds { pending.commitMicroseconds = commit }
        if transaction.skip == nil {
            pending.transactions += 1
            if let standalone, let before {
                try applyStandaloneStatement(standalone, entry: entry, before: before)
            } else {
                batch.transactionsEnded += 1
            }
        } else {
            status.update { $0.transactionsSkipped += 1 }
        }
        transaction = TransactionState()
        if batch.byteCount >= groupBytes || batch.transactionsEnded >= configuration.batchTransactions {
            try commitGroup()
        }
    }

    /// Acts on one source event (or an event inside a TRANSACTION_PAYLOAD).
    /// Returns a statement that commits by itself (DDL), which the caller runs once the stream
    /// state has moved past it.
    func apply(_ event: BinlogEvent, entry: RelayLogEntry, insidePayload: Bool) throws(ApplierError) -> QueryEvent? {
        switch event.payload {
        case .gtid, .mariadbGTID:
            transaction.open = true
            if let expected = seededStart {
                seededStart = nil
                // A log begun elsewhere (one kept from before the seed) would replay or miss changes.
                guard pending.source == expected || pending.source.file.isEmpty else {
                    throw located(
                        ApplierError(
                            .log,
                            "the local log does not start where the target was seeded: its first transaction is at source \(pending.source), the seed's checkpoint at \(expected). Start `run` after a seed with an empty --log-dir"),
                        entry)
                }
            }
        case .query(let query):
            if query.isBegin {
                transaction.open = true
            } else if query.isCommit || query.isRollback {
                // ROLLBACK ends a transaction whose logged changes are to non-transactional tables:
                // they stayed on the source, so they are applied like a commit's.
                break
            } else if query.query.starts(with: "XA ".utf8) {
                throw located(ApplierError(.unsupported, "XA transactions are not supported by the applier"), entry)
            } else if insidePayload || (transaction.open && stream.tracker.state == .inTransaction) {
                try applyStatementInTransaction(query, entry: entry)
            } else {
                transaction.open = true
                if query.query.starts(with: CheckpointTable.statementMarker.utf8) {
                    transaction.skip = .relayMade
                } else if query.schemaName == configuration.schema || !configuration.filter.includes(schema: query.schemaName) {
                    transaction.skip = .filtered
                } else {
                    return query
                }
            }
        case .tableMap(let map):
            transaction.open = true
            if !transaction.sawTable {
                transaction.sawTable = true
                // The relay's marker is the first write of every transaction it commits: a
                // transaction that begins on the relay's schema came from a relay. Skip it whole.
                if map.schema == configuration.schema { transaction.skip = .relayMade }
            }
        case .rows(let rows):
            transaction.open = true
            guard transaction.skip == nil else { return nil }
            guard let map = rows.tableMap else {
                throw located(ApplierError(.decode, "a row event refers to table id \(rows.tableID), which no TABLE_MAP named"), entry)
            }
            if map.schema == configuration.schema { return nil }
            guard configuration.filter.includes(schema: map.schema, table: map.table) else { return nil }
            let binding: TableBinding
            do {
                binding = try self.binding(for: map, entry: entry)
            } catch {
                var error = error
                if error.statement == nil { error.statement = rows.kind.statementName }
                throw error
            }
            var idempotent = false
            if !seedWindows.isEmpty {
                // `pending.source` is where this source transaction starts.
                switch seedWindows.mode(schema: binding.target.schema, table: binding.target.name, transactionStart: pending.source) {
                case .skip: return nil
                case .idempotent: idempotent = true
                case .normal: break
                }
            }
            try openTargetTransaction()
            transaction.wroteStatements = true
            let context = batch.addContext(
                .init(
                    statement: rows.kind.statementName, table: binding.displayName, location: entry.location,
                    source: sourcePosition(of: entry)))
            // Foreign keys checked as the source checked them for this event: InnoDB's cascades
            // (ON DELETE/UPDATE CASCADE, SET NULL) are not in the binlog, so the target must run
            // them itself, as a MySQL replica does.
            // In a seed's window (idempotent) inserts and updates run without them: REPLACE and the
            // delete before an update must not cascade to rows the source kept (docs/seed.md).
            let checks = rows.flags & Self.noForeignKeyChecks == 0 && (!idempotent || rows.kind == .delete)
            if checks && binding.target.hasForeignKeys { batch.serial = true }
            if sessionForeignKeyChecks != checks {
                // Only right after BEGIN and the marker may a group still be split (ApplyBatch.split).
                if batch.expectations.count > 2 { batch.splittable = false }
                batch.sql.append(checks ? "SET SESSION foreign_key_checks = 1" : "SET SESSION foreign_key_checks = 0")
                batch.endStatement(expecting: nil, context: context)
                sessionForeignKeyChecks = checks
            }
            do {
                try statements.write(
                    rows, binding: binding, context: context, into: &batch, idempotent: idempotent, foreignKeysChecked: checks)
            } catch {
                var error = located(error, entry)
                error.table = binding.displayName
                error.statement = rows.kind.statementName
                throw error
            }
            // A group is committed at a transaction end once it reaches batchBytes (see handle);
            // only a source transaction that takes it past twice that is sent in pieces.
            if batch.byteCount >= 2 * groupBytes {
                // A large source transaction: send what is gathered, keep the target transaction
                // open. (Parallel: once the workers are done, on this connection.)
                if let pool, !groupOnThisConnection {
                    try pool.drain()
                    groupOnThisConnection = true
                }
                try send(committing: nil)
            }
        case .transactionPayload(let payload):
            transaction.open = true
            var failure: ApplierError?
            do {
                try decoder.forEachEvent(in: payload) { inner throws(BinlogError) in
                    do throws(ApplierError) {
                        _ = try self.apply(inner, entry: entry, insidePayload: true)
                    } catch {
                        failure = error
                        throw BinlogError(.unsupported, "stopped")
                    }
                }
            } catch {
                if let failure { throw failure }
                throw located(ApplierError(.decode, "a compressed transaction cannot be decoded: \(error)"), entry)
            }
        case .xaPrepare:
            throw located(ApplierError(.unsupported, "XA transactions are not supported by the applier"), entry)
        case .incident(let incident):
            throw located(
                ApplierError(
                    .unsupported,
                    "the source logged an INCIDENT (\(incident)): changes may be missing from its binlog; resync the target"),
                entry)
        case .intvar(let intvar):
            transaction.context.append(intvar.kind == 1 ? "SET LAST_INSERT_ID=\(intvar.value)" : "SET INSERT_ID=\(intvar.value)")
        case .rand(let seed1, let seed2):
            transaction.context.append("SET @@rand_seed1=\(seed1), @@rand_seed2=\(seed2)")
        case .userVariable(let variable):
            if transaction.skip == nil { transaction.context.append(try userVariableStatement(variable, entry: entry)) }
        case .xid, .rowsQuery, .annotateRows, .loadData, .formatDescription, .rotate,
            .previousGTIDs, .mariadbGTIDList, .binlogCheckpoint, .heartbeat, .stop, .opaque:
            break
        }
        return nil
    }

    // MARK: - Helpers

    func fingerprint(_ location: RelayLogLocation) throws(ApplierError) -> UInt32? {
        guard let reader else { return nil }
        do {
            return try reader.fingerprint(before: location)
        } catch {
            throw ApplierError(.log, "cannot read the local log at \(location): \(error)")
        }
    }

    func sourcePosition(of entry: RelayLogEntry) -> SourcePosition {
        let end = UInt64(entry.header.logPosition)
        let start = end >= UInt64(entry.bytes.count) ? end - UInt64(entry.bytes.count) : end
        return SourcePosition(file: stream.source.file, position: start)
    }

    func located(_ error: ApplierError, _ entry: RelayLogEntry) -> ApplierError {
        var error = error
        if error.location == nil { error.location = entry.location }
        if error.source == nil { error.source = sourcePosition(of: entry) }
        return error
    }
}

extension ApplierError {
    mutating func apply(_ context: ApplyBatch.Context) {
        location = context.location
        source = context.source
        table = context.table
        statement = context.statement
    }
}

extension RowsEvent.Kind {
    var statementName: String {
        switch self {
        case .insert: "INSERT"
        case .update: "UPDATE"
        case .delete: "DELETE"
        }
    }
}

extension String {
    var replacingQuotes: String {
        var out = ""
        for character in self { out += character == "'" ? "''" : String(character) }
        return out
    }
}
