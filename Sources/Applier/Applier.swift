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
public final class Applier: @unchecked Sendable {
    public let configuration: ApplierConfiguration
    public let status = ApplierStatus()
    public let stopFlag = StopFlag()
    private let frontier: LogFrontier
    private var logger: Logger
    private let checkpointTable: CheckpointTable
    private let statements = RowStatements()

    // Per connection (reset by `resume`).
    private var connection: MySQLConnection?
    private var maximumPacket = 16 << 20
    /// The target's tables by schema, then name (read a schema at a time).
    private var tables: [String: [String: TargetTable]] = [:]
    private var bindings: [String: TableBinding] = [:]
    private var batch = ApplyBatch()
    /// A target transaction is open (BEGIN and the marker sent, COMMIT not yet).
    private var targetTransactionOpen = false
    /// The last checkpoint committed on the target, and the position after the last transaction read.
    private var committed: Checkpoint!
    private var pending: Checkpoint!
    private var transaction = TransactionState()
    private var stream = StreamState()
    private var decoder = BinlogDecoder()
    private var reader: RelayLogReader?
    private var batchStarted: ContinuousClock.Instant?
    /// ``ApplierConfiguration/batchBytes``, within the target's `max_allowed_packet`.
    private var batchBytes = 4 << 20

    // Parallel apply (``ApplierConfiguration/workers`` > 1).
    private var pool: WorkerPool?
    private var history = WriteSetHistory()
    /// The checkpoint row the open group writes: its worker's (0: this connection's).
    private var groupWorker = 0
    /// The open group's statements were partly sent on this connection (a large transaction):
    /// it commits here.
    private var groupOnThisConnection = false
    /// After a lock conflict between workers: groups left to apply one at a time.
    private var serialGroupsLeft = 0

    /// The source transaction being read.
    struct TransactionState {
        var open = false
        var skip: SkipReason?
        var sawTable = false
        var startLocation: RelayLogLocation?
    }

    enum SkipReason { case relayMade, filtered }

    public init(configuration: ApplierConfiguration, frontier: LogFrontier, logger: Logger) {
        self.configuration = configuration
        self.frontier = frontier
        self.logger = logger
        self.checkpointTable = CheckpointTable(schema: configuration.schema, channel: configuration.channel)
    }

    /// Asks the applier to commit what it has and return from ``run()``.
    public func stop() { stopFlag.set() }

    /// Applies until stopped (or, with ``ApplierConfiguration/stopAtEnd``, until the log is applied).
    /// Transient errors are retried with backoff. A transaction the target refuses stops the applier
    /// on it: with `stopAtEnd` the error is thrown; otherwise it is logged and retried after
    /// ``ApplierConfiguration/failedRetryDelay`` (the relay keeps receiving meanwhile).
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
                status.update {
                    $0.errors += 1
                    $0.lastError = error.description
                    $0.connected = false
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
                if configuration.stopAtEnd { throw error }
                sleep(configuration.failedRetryDelay)
                delay = configuration.retryDelay
            }
        }
        status.update { $0.state = .stopped }
    }

    private func close() {
        pool?.shutdown()
        pool = nil
        history.reset()
        connection?.close()
        connection = nil
        targetTransactionOpen = false
        groupOnThisConnection = false
        batch.reset()
    }

    /// Sleeps in small steps so that a stop request is noticed.
    private func sleep(_ duration: Duration) {
        let end = ContinuousClock.now + duration
        while !stopFlag.isSet && ContinuousClock.now < end {
            usleep(20_000)
        }
    }

    // MARK: - Connection and resume

    private func connect() throws(ApplierError) -> MySQLConnection {
        let (connection, packet) = try Self.openSession(configuration.target)
        maximumPacket = packet
        let perGroup = pool == nil && configuration.workers == 1 ? configuration.batchBytes : configuration.batchBytes / configuration.workers
        batchBytes = max(64 << 10, min(perGroup, maximumPacket / 4))
        do {
            try checkpointTable.create(on: connection)
        } catch {
            throw ApplierError(error.isTransient ? .connection : .target, "cannot prepare the target session", server: error)
        }
        return connection
    }

    /// A connection to the target in the row session (see ``sessionSettings``), and the target's
    /// `max_allowed_packet`.
    static func openSession(_ configuration: MySQLConnectionConfiguration) throws(ApplierError) -> (MySQLConnection, Int) {
        var target = configuration
        target.multiStatements = true
        target.foundRows = true
        let connection: MySQLConnection
        do {
            connection = try MySQLConnection(configuration: target)
        } catch {
            let code: ApplierError.Code = error.isTransient ? .connection : .target
            throw ApplierError(code, "cannot connect to the target \(target.endpoint)", server: error)
        }
        do {
            try connection.execute("SET NAMES utf8mb4")
            try connection.execute(Self.sessionSettings)
            let packet = try connection.query("SELECT @@max_allowed_packet").scalar.flatMap(Int.init) ?? (16 << 20)
            // The relay's changes go to the target's binlog as rows, like native replication's
            // (needs a privilege some users lack: then the target's own format stays).
            try? connection.execute("SET SESSION binlog_format = 'ROW'")
            return (connection, packet)
        } catch {
            throw ApplierError(error.isTransient ? .connection : .target, "cannot prepare the target session", server: error)
        }
    }

    /// The session the row statements run in: values are literals that must land unchanged, so
    /// strict (an out-of-range value is an error, never a silent clip); zero dates, invalid dates
    /// and an explicit 0 in an AUTO_INCREMENT column allowed as the source allowed them; TIMESTAMPs
    /// written in UTC; foreign keys were checked on the source.
    static let sessionSettings = """
        SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION', \
        time_zone = '+00:00', foreign_key_checks = 0, unique_checks = 1, sql_auto_is_null = 0, autocommit = 1
        """

    /// Connects, reads the checkpoint and positions the log reader after it.
    private func resume() throws(ApplierError) -> RelayLogReader {
        let connection = try connect()
        self.connection = connection
        tables.removeAll()
        bindings.removeAll()
        batch.reset()
        targetTransactionOpen = false
        transaction = TransactionState()

        let reader: RelayLogReader
        var checkpoint = try checkpointTable.read(from: connection)
        if let checkpoint {
            do {
                reader = try RelayLogReader(directory: configuration.logDirectory, from: checkpoint.location)
            } catch {
                throw ApplierError(
                    .log,
                    "the target's checkpoint (relay log \(checkpoint.location), source \(checkpoint.source)) is not in the local log: \(error)")
            }
        } else {
            do {
                reader = try RelayLogReader(directory: configuration.logDirectory)
            } catch {
                throw ApplierError(.log, "cannot read the local log: \(error)")
            }
            let first = Checkpoint(location: reader.location, source: SourcePosition(file: "", position: 0), gtid: GTIDState())
            try commitStandalone(first)
            checkpoint = first
            logger.info("no checkpoint on the target: applying the local log from its start", metadata: ["log": "\(reader.location)"])
        }
        if let expected = checkpoint?.logFingerprint {
            let found: UInt32
            do {
                found = try reader.fingerprint(before: checkpoint!.location)
            } catch {
                throw ApplierError(.log, "cannot read the local log at the target's checkpoint \(checkpoint!.location): \(error)")
            }
            guard found == expected else {
                throw ApplierError(
                    .log,
                    "the local log is not the one the target's checkpoint (channel '\(configuration.channel)', relay log \(checkpoint!.location), source \(checkpoint!.source)) was written from: its bytes before that location differ. Applying it would skip or repeat changes. Use the log this target was fed from, or give this log its own --channel on a target that does not hold these changes yet"
                )
            }
        }
        self.reader = reader
        committed = checkpoint
        pending = checkpoint
        if configuration.workers > 1 {
            // Every worker's checkpoint row exists before its first marker update.
            for worker in 1...configuration.workers { try commitStandalone(checkpoint!, worker: worker) }
            let target = configuration.target
            pool = try WorkerPool(count: configuration.workers, status: status, logger: logger) { () throws(ApplierError) in
                try Applier.openSession(target).0
            }
            batch.collectsKeys = true
        }
        stream = StreamState(source: checkpoint!.source, gtid: checkpoint!.gtid)
        decoder = BinlogDecoder()
        if let format = reader.formatDescription {
            format.withUnsafeBytes { bytes in _ = try? decoder.decode(bytes, at: 0) }
        }
        status.update {
            $0.connected = true
            $0.applied = checkpoint
            $0.readLocation = checkpoint!.location
            $0.tlsCipher = connection.tlsCipher
            $0.state = .applying
        }
        logger.info(
            "applying",
            metadata: [
                "target": "\(configuration.target.endpoint)", "tls": "\(connection.tlsCipher ?? "off")",
                "resume": "\(checkpoint!.location)", "source": "\(checkpoint!.source)", "gtid": "\(checkpoint!.gtid)",
            ])
        return reader
    }

    // MARK: - The loop

    private func applyUntilDone() throws(ApplierError) {
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
                    try pool?.drain()
                    return
                }
                continue
            }
            // Everything durable is read: commit what is gathered, then wait for more.
            try commitGroup()
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

    private func handle(_ entry: RelayLogEntry) throws(ApplierError) {
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
        let before = pending!
        let ends = stream.consume(event)
        guard ends else { return }
        // A transaction ended (or an event between transactions went by): the checkpoint may move here.
        pending.location = entry.nextLocation
        pending.source = stream.source
        pending.gtid = stream.gtid
        guard transaction.open else { return }
        if let commit = stream.commitMicroseconds { pending.commitMicroseconds = commit }
        if transaction.skip == nil {
            pending.transactions += 1
            if let standalone {
                try applyStandaloneStatement(standalone, entry: entry, before: before)
            } else {
                batch.transactionsEnded += 1
            }
        } else {
            status.update { $0.transactionsSkipped += 1 }
        }
        transaction = TransactionState()
        if batch.byteCount >= batchBytes || batch.transactionsEnded >= configuration.batchTransactions {
            try commitGroup()
        }
    }

    /// Acts on one source event (or an event inside a TRANSACTION_PAYLOAD).
    /// Returns a statement that commits by itself (DDL), which the caller runs once the stream
    /// state has moved past it.
    private func apply(_ event: BinlogEvent, entry: RelayLogEntry, insidePayload: Bool) throws(ApplierError) -> QueryEvent? {
        switch event.payload {
        case .gtid, .mariadbGTID:
            transaction.open = true
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
            let binding = try binding(for: map, entry: entry)
            try openTargetTransaction()
            let context = batch.addContext(
                .init(
                    statement: rows.kind.statementName, table: binding.displayName, location: entry.location,
                    source: sourcePosition(of: entry)))
            do {
                try statements.write(rows, binding: binding, context: context, into: &batch)
            } catch {
                var error = located(error, entry)
                error.table = binding.displayName
                error.statement = rows.kind.statementName
                throw error
            }
            // A group is committed at a transaction end once it reaches batchBytes (see handle);
            // only a source transaction that takes it past twice that is sent in pieces.
            if batch.byteCount >= 2 * batchBytes {
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
        case .xid, .intvar, .rand, .userVariable, .rowsQuery, .annotateRows, .loadData, .formatDescription, .rotate,
            .previousGTIDs, .mariadbGTIDList, .binlogCheckpoint, .heartbeat, .stop, .opaque:
            break
        }
        return nil
    }

    // MARK: - Statements

    /// A statement inside a transaction (SAVEPOINT, or DML the source logged as a statement): run
    /// in the group, in order.
    private func applyStatementInTransaction(_ query: QueryEvent, entry: RelayLogEntry) throws(ApplierError) {
        guard transaction.skip == nil, configuration.filter.includes(schema: query.schemaName) else { return }
        try openTargetTransaction()
        let context = batch.addContext(
            .init(statement: "statement", table: nil, location: entry.location, source: sourcePosition(of: entry)))
        if !query.schemaName.isEmpty {
            // Its unqualified names are in its default schema (the row statements name theirs).
            batch.sql.append("USE ")
            batch.sql.appendIdentifier(configuration.filter.targetSchema(query.schemaName))
            batch.endStatement(expecting: nil, context: context)
        }
        batch.sql.bytes.append(contentsOf: query.query)
        batch.endStatement(expecting: nil, context: context)
    }

    /// DDL (and other statements that commit by themselves): commit the group (checkpoint
    /// `before` the statement), record that the statement is pending, run it with the session
    /// settings the source logged, then commit the checkpoint past it (``pending``).
    private func applyStandaloneStatement(_ query: QueryEvent, entry: RelayLogEntry, before: Checkpoint) throws(ApplierError) {
        try commitGroup(at: before)
        try pool?.drain()
        guard let connection else { throw ApplierError(.connection, "not connected") }
        let end = entry.nextLocation
        let rerun = committed.pendingStatementEnd == end
        if !rerun {
            var marked = before
            marked.pendingStatementEnd = end
            try commitStandalone(marked)
        }
        let settings: QueryStatusVariables
        do {
            settings = try query.statusVariables()
        } catch {
            throw located(ApplierError(.decode, "the statement's session settings cannot be decoded: \(error)"), entry)
        }
        let schema = query.schemaName
        let target = configuration.filter.targetSchema(schema)
        var sql = SQLText()
        sql.append(Self.sessionStatement(for: settings))
        sql.append(";USE ")
        sql.appendIdentifier(schema.isEmpty ? configuration.schema : target)
        sql.append(";")
        sql.append(CheckpointTable.statementMarker)
        sql.bytes.append(contentsOf: query.query)
        let outcome = sql.bytes.withUnsafeBytes { connection.executeBatch($0) }
        if let error = outcome.error {
            let statementIndex = outcome.affectedRows.count
            if statementIndex == 1, error.number == 1049 {
                // The default schema is gone on the target (dropped before this statement): run it
                // without one, as it names what it changes.
                try runWithoutDefaultSchema(query, settings: settings, entry: entry, rerun: rerun)
            } else if rerun && statementIndex == 2 && Self.alreadyDone.contains(error.number) {
                logger.notice(
                    "a statement interrupted by a crash was already applied", metadata: ["at": "\(entry.location)", "error": "\(error)"])
            } else {
                var failure = located(
                    ApplierError(error.isTransient ? .connection : .target, "the target refused a statement", server: error), entry)
                failure.statement = statementIndex < 2 ? "session settings of a statement" : "DDL"
                failure.table = "schema `\(target)`"
                throw failure
            }
        }
        // Back to the row session.
        do {
            try connection.execute("USE " + String(decoding: SQLText.identifier(configuration.schema), as: UTF8.self))
            try connection.execute(Self.sessionSettings)
        } catch {
            throw ApplierError(error.isTransient ? .connection : .target, "cannot reset the session after a statement", server: error)
        }
        // The statement may have changed any table: read the target's schema again when needed.
        tables.removeAll()
        bindings.removeAll()
        var done = pending!
        done.pendingStatementEnd = nil
        try commitStandalone(done)
        status.update {
            $0.statementsApplied += 1
            $0.transactionsApplied += 1
            $0.applied = done
        }
        logger.debug("statement applied", metadata: ["at": "\(entry.location)", "checkpoint": "\(done.location)"])
    }

    private func runWithoutDefaultSchema(
        _ query: QueryEvent, settings: QueryStatusVariables, entry: RelayLogEntry, rerun: Bool
    ) throws(ApplierError) {
        guard let connection else { throw ApplierError(.connection, "not connected") }
        var sql = SQLText()
        sql.append(Self.sessionStatement(for: settings))
        sql.append(";")
        sql.append(CheckpointTable.statementMarker)
        sql.bytes.append(contentsOf: query.query)
        let outcome = sql.bytes.withUnsafeBytes { connection.executeBatch($0) }
        if let error = outcome.error {
            if rerun && outcome.affectedRows.count == 1 && Self.alreadyDone.contains(error.number) { return }
            var failure = located(ApplierError(error.isTransient ? .connection : .target, "the target refused a statement", server: error), entry)
            failure.statement = "DDL"
            throw failure
        }
    }

    /// Errors that mean a DDL statement already took effect (it ran before a crash took its checkpoint).
    static let alreadyDone: Set<UInt32> = [1007, 1008, 1050, 1051, 1054, 1060, 1061, 1091, 1146, 1826, 1396]

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

    // MARK: - Target transactions

    /// BEGIN and the marker, before the first statement of a group.
    private func openTargetTransaction() throws(ApplierError) {
        guard !targetTransactionOpen, batch.isEmpty else { return }
        groupWorker = pool?.nextWorker ?? 0
        groupOnThisConnection = pool == nil
        let context = batch.addContext(
            .init(statement: "BEGIN", table: nil, location: pending.location, source: pending.source))
        batch.add("BEGIN", context: context)
        batch.sql.append(checkpointTable.markerStatement(worker: groupWorker))
        batch.endStatement(expecting: 1, context: context)
        targetTransactionOpen = true
        batchStarted = .now
    }

    /// Commits the group with its checkpoint (nothing to do when no statement is gathered).
    private func commitGroup(at checkpoint: Checkpoint? = nil) throws(ApplierError) {
        guard targetTransactionOpen else { return }
        var checkpoint = checkpoint ?? pending!
        checkpoint.logFingerprint = try fingerprint(checkpoint.location)
        if let pool, !groupOnThisConnection {
            // Parallel: the group goes to its worker, with what it depends on.
            var commit = SQLText()
            commit.append(checkpointTable.writeStatement(checkpoint, worker: groupWorker))
            commit.append(";COMMIT")
            let index = pool.nextIndex
            var dependency = history.record(batch.keys, index: index, committed: pool.committedIndex)
            if serialGroupsLeft > 0 {
                serialGroupsLeft -= 1
                dependency = index - 1
            }
            let job = WorkerPool.Job(
                index: index, dependency: dependency, worker: groupWorker, batch: batch, commit: commit.bytes,
                checkpoint: checkpoint)
            batch = ApplyBatch()
            batch.collectsKeys = true
            targetTransactionOpen = false
            committed = checkpoint
            try pool.submit(job)
            return
        }
        let context = batch.addContext(
            .init(statement: "COMMIT", table: nil, location: checkpoint.location, source: checkpoint.source))
        batch.sql.append(checkpointTable.writeStatement(checkpoint, worker: groupWorker))
        batch.endStatement(expecting: nil, context: context)
        batch.add("COMMIT", context: context)
        try send(committing: checkpoint)
        groupOnThisConnection = false
    }

    /// Sends the gathered statements in one round trip and checks what each did.
    private func send(committing checkpoint: Checkpoint?) throws(ApplierError) {
        guard let connection else { throw ApplierError(.connection, "not connected") }
        guard batch.byteCount < maximumPacket else {
            throw ApplierError(
                .target,
                "a statement of \(batch.byteCount) bytes is larger than the target's max_allowed_packet (\(maximumPacket)); raise it on the target"
            )
        }
        let started = ContinuousClock.now
        let outcome = batch.sql.bytes.withUnsafeBytes { connection.executeBatch($0) }
        try ApplyBatch.check(outcome, of: batch)
        let elapsed = ContinuousClock.now - started
        let done = batch
        status.update {
            $0.rowsInserted += UInt64(done.rowsInserted)
            $0.rowsUpdated += UInt64(done.rowsUpdated)
            $0.rowsDeleted += UInt64(done.rowsDeleted)
            $0.batchTime += elapsed
            $0.lastBatch = elapsed
            $0.batches += 1
        }
        if let checkpoint {
            targetTransactionOpen = false
            committed = checkpoint
            status.update {
                $0.applied = checkpoint
                $0.transactionsApplied += UInt64(done.transactionsEnded)
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
        batch.reset(keepingTransactionCount: checkpoint == nil)
    }

    /// Writes a checkpoint in a transaction of its own (the marker first, as every relay transaction).
    private func commitStandalone(_ checkpoint: Checkpoint, worker: Int = 0) throws(ApplierError) {
        guard let connection else { throw ApplierError(.connection, "not connected") }
        var checkpoint = checkpoint
        if checkpoint.logFingerprint == nil { checkpoint.logFingerprint = try fingerprint(checkpoint.location) }
        var sql = SQLText()
        sql.append("BEGIN;")
        sql.append(checkpointTable.markerStatement(worker: worker))
        sql.append(";")
        sql.append(checkpointTable.writeStatement(checkpoint, worker: worker))
        sql.append(";COMMIT")
        let outcome = sql.bytes.withUnsafeBytes { connection.executeBatch($0) }
        if let error = outcome.error {
            throw ApplierError(error.isTransient ? .connection : .target, "cannot write the checkpoint", server: error)
        }
        committed = checkpoint
    }

    // MARK: - Tables

    private func binding(for map: TableMap, entry: RelayLogEntry) throws(ApplierError) -> TableBinding {
        let key = map.schema + "\u{0}" + map.table
        if let existing = bindings[key], existing.tableMap === map { return existing }
        let schema = configuration.filter.targetSchema(map.schema)
        if tables[schema] == nil {
            // The whole schema in one round trip: after a DDL statement every table of it is
            // read again, and across a slow link one query beats one per table.
            guard let connection else { throw ApplierError(.connection, "not connected") }
            do {
                tables[schema] = try TargetTable.loadSchema(schema, from: connection)
            } catch {
                throw ApplierError(error.isTransient ? .connection : .target, "cannot read the target's schema", server: error)
            }
        }
        guard let target = tables[schema]?[map.table] else {
            var error = located(ApplierError(.schemaMismatch, "table `\(schema)`.`\(map.table)` is not on the target"), entry)
            error.table = "`\(schema)`.`\(map.table)`"
            throw error
        }
        do {
            let binding = try TableBinding(tableMap: map, target: target)
            bindings[key] = binding
            return binding
        } catch {
            throw located(error, entry)
        }
    }

    // MARK: - Helpers

    private func fingerprint(_ location: RelayLogLocation) throws(ApplierError) -> UInt32? {
        guard let reader else { return nil }
        do {
            return try reader.fingerprint(before: location)
        } catch {
            throw ApplierError(.log, "cannot read the local log at \(location): \(error)")
        }
    }

    private func sourcePosition(of entry: RelayLogEntry) -> SourcePosition {
        let end = UInt64(entry.header.logPosition)
        let start = end >= UInt64(entry.bytes.count) ? end - UInt64(entry.bytes.count) : end
        return SourcePosition(file: stream.source.file, position: start)
    }

    private func located(_ error: ApplierError, _ entry: RelayLogEntry) -> ApplierError {
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
