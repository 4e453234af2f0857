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
    public let status: ApplierStatus
    public let stopFlag = StopFlag()
    private let frontier: LogFrontier
    private var logger: Logger
    private let checkpointTable: CheckpointTable
    private var statements = RowStatements()

    // Per connection (reset by `resume`).
    private var connection: MySQLConnection?
    /// `connection`'s round trips already in ``status``.
    private var countedRoundTrips = 0
    /// The target's clock against this machine's, sampled when ``connection`` was made.
    private var targetClock: ClockOffset?
    private var maximumPacket = 16 << 20
    /// The target's tables by schema, then name (read a schema at a time).
    private var tables: [String: [String: TargetTable]] = [:]
    /// Tables other schemas' foreign keys reference (``TargetTable/crossSchemaQuery``): read with
    /// a session's first schema, then learnt from each schema read.
    private var referencedElsewhere: Set<String>?
    private var bindings: [String: TableBinding] = [:]
    private var collations: [UInt32: (String, String)] = [:]
    /// The schema read in the round trip of the last DDL statement, until a row event uses it.
    private var schemaReadAhead: String?
    /// DDL statements in a row whose schema read went unused (after four, reads wait for a row
    /// event: a long run of DDL does not read the schema after each statement).
    private var unusedSchemaReads = 0
    private var batch = ApplyBatch()
    /// A target transaction is open (BEGIN and the marker sent, COMMIT not yet).
    private var targetTransactionOpen = false
    /// A group whose statements ran and whose row counts were checked, its transaction still open
    /// on ``connection``: its COMMIT goes first in the next round trip (the next group's, a DDL
    /// statement's), or alone when nothing follows at once. One round trip per group instead of
    /// two, and never a COMMIT of a group the applier has not checked.
    private var deferredCommit: DeferredCommit?

    struct DeferredCommit {
        var checkpoint: Checkpoint
        /// Source transactions it applies.
        var transactions: Int
    }
    /// A group sent on this connection whose results are not read yet (``send(committing:commitSent:)``):
    /// the next group is built while the target applies it. Read before anything else goes to
    /// the target (``finishInFlight(leaving:)``), except a group sent behind it (``pipelines``).
    private struct InFlight {
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
        /// Results its statements return, the check and the mark not counted.
        var resultCount: Int { leads.reduce(batch.expectations.count) { $0 + $1.batch.expectations.count } }
    }
    /// Oldest first: at most two, the second sent behind the first (``pipelines``).
    private var inFlight: [InFlight] = []
    /// The last round number given (``InFlight/round``).
    private var lastRound = 0
    /// A group that commits itself is sent behind the one before it without waiting for that
    /// one's answer, the target running them back to back. The second begins with a check, run
    /// by the target, that the first reached its end (its COMMIT done): if the first stopped on
    /// an error, the second stops at once and nothing of it runs (not even its BEGIN, which would
    /// commit what the first left open). MariaDB only: the check is an `IF` outside a stored program.
    private var pipelines: Bool { statements.targetIsMariaDB }
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
    private var held: [Lead] = []
    private var heldBytes: Int { held.reduce(0) { $0 + $1.batch.byteCount } }
    /// Tables made by the CREATE TABLE statements in ``held`` (or verified since), by
    /// ``TargetTable/qualifiedKey(_:_:)``: rows bind to them without a schema read.
    private var createdTables: [String: TargetTable] = [:]
    /// Predicted tables that failed their check on the target (each costs a reconnect): after
    /// ``predictionMissLimit`` of them, CREATE TABLE statements run alone again.
    private var predictionMisses = 0
    static let predictionMissLimit = 8
    /// The last checkpoint committed on the target, and the position after the last transaction read.
    private var committed: Checkpoint!
    private var pending: Checkpoint!
    private var transaction = TransactionState()
    private var stream = StreamState()
    private var decoder = BinlogDecoder()
    private var reader: RelayLogReader?
    /// What the group's session has `foreign_key_checks` at (nil: not yet set in this group).
    private var sessionForeignKeyChecks: Bool?
    /// ROWS_EVENT flag NO_FOREIGN_KEY_CHECKS_F: the source session ran without foreign key checks.
    static let noForeignKeyChecks: UInt16 = 0x2
    /// A resume succeeded since the last failure.
    private var resumed = false
    /// Tables a seed copied under snapshots at different positions (see ``SeedWindows``).
    private var seedWindows = SeedWindows()
    /// Resuming from a seed's checkpoint: where the log's first transaction must start.
    private var seededStart: SourcePosition?
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
    /// Parallel apply meeting a chain of groups, each writing what the one just before wrote
    /// (every-type's rounds, a hot row, large groups of random keys): the workers would run them
    /// one at a time, two round trips each, in groups a fraction of `--batch-bytes`. After
    /// ``chainProbe`` such groups in a row, the next ``chainRun`` groups go on this connection
    /// instead, whole-sized and sent ahead, the workers idle; then the workers are tried again.
    private var chainedInARow = 0
    private var chainGroupsLeft = 0
    static let chainProbe = 2
    static let chainRun = 32
    /// The length of the next run of groups on this connection (doubling across a slow link).
    private var chainRunLength = chainRun
    /// The target is across a slow link (see ``connect(first:)``).
    private var farTarget = false
    static let farFirstRun = 256
    /// Parallel apply beside the target (a round trip under ``nearRoundTrip``, measured when the
    /// session opens): a group that depends on groups still running goes to its worker in two
    /// parts (``ApplyBatch/split(free:)``), the part that does not depend on them running at
    /// once. A round trip more for the group, which across a slow link costs more than the
    /// overlap gains: there a chain runs on this connection, sent ahead (``chainGroupsLeft``).
    private var groupsInParts: Bool { configuration.workers > 1 && !farTarget }
    static let nearRoundTrip = Duration.milliseconds(2)
    /// How many UPDATE and DELETE statements of a group the target checks itself, and up to what
    /// size of the group (``ApplyBatch/serverChecksLeft``). A group checked whole commits in its
    /// own round trip and the next is sent behind it (``pipelines``); one that is not waits a
    /// round trip for the applier's check before its COMMIT can go. Beside the target a round
    /// trip is worth a few checks; across a slow link, as many as the target runs in one round
    /// trip (about 20 µs each: every UPDATE of sysbench checked cost it 2.8 s for 150,000): every
    /// group of every-type's rounds (~270 each), none of sysbench's (~12,000).
    private var serverCheckBudget = (checks: ApplyBatch.serverChecksPerGroup, bytes: ApplyBatch.serverCheckedGroupBytes)
    static let serverCheckCost = Duration.microseconds(20)
    /// For tests, whose outcome must not depend on which groups happen to have committed: every
    /// key an earlier group wrote counts as written by a group still running (more waits, never
    /// fewer), so that groups go in parts whatever the timing.
    static let testSplitEveryGroup = getenv("BINLOG_RELAY_TEST_SPLIT_GROUPS") != nil
    /// ``ApplierConfiguration/batchBytes`` for a group on this connection while workers exist.
    private var wholeBatchBytes = 4 << 20
    /// Where the group being gathered is committed (see ``handle(_:)``).
    private var groupBytes: Int { pool != nil && (groupOnThisConnection || lastGroupInParts) ? wholeBatchBytes : batchBytes }
    /// The last group went to its worker in parts (a chain): the next is gathered whole-sized,
    /// as on this connection, its overlap being with the group before rather than with three
    /// more (every-type, four workers: 0.95 s in 1 MiB groups, 0.83 s in 4 MiB).
    private var lastGroupInParts = false

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
                if configuration.workers > 1 && error.code == .divergence && serialGroupsLeft == 0 {
                    // With workers, a duplicate key or a missing row may only mean that two groups
                    // the write sets called independent were not: their unique keys are hashed by
                    // bytes, while the target compares strings under their collation ('A' = 'a',
                    // trailing spaces) and prefix keys by their prefix. From the checkpoint once
                    // more, one group at a time, before calling it a divergence.
                    serialGroupsLeft = 200
                    status.update {
                        $0.state = .retrying
                        $0.retries += 1
                    }
                    logger.warning(
                        "a row conflict under parallel apply: applying again from the checkpoint, one group at a time",
                        metadata: ["error": "\(error)"])
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

    private func close() {
        pool?.shutdown()
        pool = nil
        history.reset()
        if let connection { status.countRoundTrips(of: connection, counted: &countedRoundTrips) }
        countedRoundTrips = 0
        connection?.close()
        connection = nil
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
    private func sleep(_ duration: Duration, unless interrupted: () -> Bool = { false }) {
        let end = ContinuousClock.now + duration
        while !stopFlag.isSet && !interrupted() && ContinuousClock.now < end {
            usleep(20_000)
        }
    }

    // MARK: - Connection and resume

    /// Connects, makes the checkpoint table when missing, writes `first` as the checkpoint when
    /// there is none, and reads the checkpoint (and whether it is `first`, just written).
    private func connect(first: Checkpoint) throws(ApplierError) -> (MySQLConnection, Checkpoint?, Bool) {
        let (connection, packet, clock) = try Self.openSessionMeasuringClock(configuration.target)
        let lockRoundTrip: Duration
        do {
            lockRoundTrip = try takeChannelLock(on: connection)
        } catch {
            connection.close()
            throw error
        }
        targetClock = clock
        // Near or far, by the lock's round trip (one query, the server's work nil when no other
        // session holds the lock; longer otherwise, which only makes the applier act as if far).
        let near = lockRoundTrip < Self.nearRoundTrip
        farTarget = !near
        serverCheckBudget =
            near
            ? (ApplyBatch.serverChecksPerGroup, ApplyBatch.serverCheckedGroupBytes)
            : (max(ApplyBatch.serverChecksPerGroup, Int(lockRoundTrip / Self.serverCheckCost)), Int.max)
        maximumPacket = packet
        statements.targetIsMariaDB = connection.isMariaDB
        // Across a slow link each group waits a round trip for its answer before the next goes,
        // the target idle meanwhile: groups twice `--batch-bytes` there (every-type across 30 ms:
        // 1.51 s in 4 MiB groups, 1.40 s in 8 MiB). A group may grow to twice its size before it
        // is cut (a source transaction that ends past it), so it stays under 3/8 of the packet.
        let scale = near ? 1 : 2
        let limit = !near && maximumPacket >= 16 << 20 ? maximumPacket / 8 * 3 : maximumPacket / 4
        let perGroup = pool == nil && configuration.workers == 1 ? configuration.batchBytes : configuration.batchBytes / configuration.workers
        batchBytes = max(64 << 10, min(perGroup * scale, limit))
        wholeBatchBytes = max(64 << 10, min(configuration.batchBytes * scale, limit))
        // Across it, too, a chain of groups on the workers costs each group two round trips and
        // gains nothing: the first groups (the schema's statements and theirs among them) go on
        // this connection, and each time a probe of the workers meets a chain again the run on
        // this connection doubles.
        chainRunLength = Self.chainRun
        if configuration.workers > 1 && !near { chainGroupsLeft = Self.farFirstRun }
        let (checkpoint, created, collationRows) = try checkpointTable.prepareAndRead(
            on: connection, first: first, alsoQuery: "SELECT ID, CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLLATIONS")
        collations.removeAll()
        for row in collationRows?.rows ?? [] {
            if let id = row[0].flatMap({ UInt32($0) }), let charset = row[1] ?? nil, let collation = row[2] ?? nil {
                collations[id] = (charset, collation)
            }
        }
        return (connection, checkpoint, created)
    }

    /// How long a new session waits for the channel's lock (``takeChannelLock(on:)``) before it
    /// gives up and retries with backoff.
    static let channelLockSeconds = 30

    /// Takes the channel's user lock on the target (``CheckpointTable/lockName``), held by this
    /// session until it closes: one applier at a time per channel, and none before the last one's
    /// session is gone. A relay killed mid round trip leaves its session on the target running
    /// what it had sent (a held run commits many transactions, one after another); read before
    /// that session ends, the checkpoint would be behind what it still commits, and those
    /// transactions would be applied twice. The server ends such a session, and frees its lock,
    /// once it has run the statements and finds the connection gone.
    /// Returns how long it took: a round trip when no other session held the lock.
    private func takeChannelLock(on connection: MySQLConnection) throws(ApplierError) -> Duration {
        let name = checkpointTable.lockName
        let taken: String??
        let started = ContinuousClock.now
        do {
            taken = try connection.query("SELECT GET_LOCK('\(connection.escape(name))', \(Self.channelLockSeconds))").rows.first?.first
        } catch {
            throw ApplierError(error.isTransient ? .connection : .target, "cannot take the channel's lock on the target", server: error)
        }
        guard taken == "1" else {
            throw ApplierError(
                .connection,
                "another session on the target holds this channel's lock `\(name)`: another applier of the channel is running, or one that stopped has not finished its last round trip")
        }
        return ContinuousClock.now - started
    }

    /// A connection to the target in the row session (see ``sessionSettings``) with `extra`
    /// session statements, and the target's `max_allowed_packet`: one round trip after connecting.
    static func openSession(_ configuration: MySQLConnectionConfiguration, extra: [String] = []) throws(ApplierError) -> (MySQLConnection, Int) {
        let (connection, packet, _) = try openSessionMeasuringClock(configuration, extra: extra)
        return (connection, packet)
    }

    /// ``openSession(_:extra:)``, and the target's clock read in the same round trip (one sample
    /// of ``ClockOffset/measure(_:samples:)``, for free).
    static func openSessionMeasuringClock(
        _ configuration: MySQLConnectionConfiguration, extra: [String] = []
    ) throws(ApplierError) -> (MySQLConnection, Int, ClockOffset?) {
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
        // The relay's changes go to the target's binlog as rows, like native replication's: the
        // last statements, as they need a privilege some users lack (then the target's own
        // settings stay, and the statements before them have all run). A MariaDB target would
        // also log each statement's text before its rows (binlog_annotate_row_events): for the
        // relay's INSERTs that is every value a second time (every-type: a 127 MB binlog for the
        // source's 92 MB, and ~5 % of the apply time).
        let optional = ["SET SESSION binlog_format = 'ROW'"] + (connection.isMariaDB ? ["SET SESSION binlog_annotate_row_events = OFF"] : [])
        let statements =
            ["SET NAMES utf8mb4", Self.sessionSettings] + extra + ["SELECT @@max_allowed_packet", ClockOffset.query] + optional
        let sent = wallClockSeconds()
        let outcome = Array(statements.joined(separator: ";").utf8).withUnsafeBytes {
            connection.executeBatch($0, keepingResults: true)
        }
        let received = wallClockSeconds()
        if let error = outcome.error, outcome.affectedRows.count < statements.count - optional.count {
            throw ApplierError(error.isTransient ? .connection : .target, "cannot prepare the target session", server: error)
        }
        let packet = outcome.resultSets.first?.scalar.flatMap(Int.init) ?? (16 << 20)
        var clock: ClockOffset?
        if outcome.resultSets.count > 1, let server = outcome.resultSets[1].scalar.flatMap(Double.init) {
            clock = ClockOffset(server: server, sent: sent, received: received)
        }
        return (connection, packet, clock)
    }

    /// The session the row statements run in: values are literals that must land unchanged, so
    /// strict (an out-of-range value is an error, never a silent clip); zero dates, invalid dates
    /// and an explicit 0 in an AUTO_INCREMENT column allowed as the source allowed them; TIMESTAMPs
    /// written in UTC; `foreign_key_checks` off here, and set by each group as each row event says
    /// the source had it (so the target runs the cascades the binlog does not hold).
    /// `character_set_client` is `binary`: the server's lexer then reads the statements byte by
    /// byte instead of checking each byte of a string literal for a multi-byte character (a
    /// `_binary'…'` BLOB of random bytes lexes 3x faster: Benchmarks/RESULTS.md). Nothing is lost:
    /// every character literal names its character set (`_binary`, `_utf8mb4`), text without one
    /// (dates, checkpoint values) goes to `character_set_connection` byte for byte, and so do the
    /// UTF-8 bytes of identifiers.
    static let rowSession = """
        SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION', \
        time_zone = '+00:00', foreign_key_checks = 0, unique_checks = 1, sql_auto_is_null = 0, \
        character_set_client = binary, character_set_connection = utf8mb4, character_set_results = utf8mb4, \
        timestamp = DEFAULT, @binlog_relay_applying = 1
        """
    /// ``rowSession`` and autocommit, for a new connection (`SET autocommit = 1` inside a
    /// transaction would not commit it, but nothing needs it there).
    static let sessionSettings = rowSession + ", autocommit = 1"

    /// Connects, reads the checkpoint and positions the log reader after it.
    private func resume() throws(ApplierError) -> RelayLogReader {
        // Where a target without a checkpoint starts: the log's oldest transaction (that first
        // checkpoint is written in the same round trip as the checkpoint is read).
        let oldest: RelayLogReader
        do {
            oldest = try RelayLogReader(directory: configuration.logDirectory)
        } catch {
            throw ApplierError(.log, "cannot read the local log: \(error)")
        }
        var first = Checkpoint(location: oldest.location, source: SourcePosition(file: "", position: 0), gtid: GTIDState())
        do {
            first.logFingerprint = try oldest.fingerprint(before: oldest.location)
        } catch {
            throw ApplierError(.log, "cannot read the local log at \(oldest.location): \(error)")
        }
        let (connection, found, created) = try connect(first: first)
        self.connection = connection
        tables.removeAll()
        createdTables.removeAll()
        referencedElsewhere = nil
        bindings.removeAll()
        batch.reset()
        targetTransactionOpen = false
        deferredCommit = nil
        transaction = TransactionState()

        let reader: RelayLogReader
        guard var row = found else {
            throw ApplierError(.target, "the checkpoint row \(checkpointTable.qualifiedName) is missing just after it was written")
        }
        seedWindows = try SeedWindows.load(schema: configuration.schema, channel: configuration.channel, from: connection)
        if row.location.segment == 0 {
            // Written by `binlog-relay seed`: no local log location yet. The log was started at the
            // seed's source position (see RunCommand), so it is read from its start.
            reader = oldest
            row.location = reader.location
            row.logFingerprint = nil
            seededStart = row.source
            logger.info("continuing from the seed's snapshot", metadata: ["source": "\(row.source)", "gtid": "\(row.gtid)"])
        } else if created {
            seededStart = nil
            reader = oldest
            logger.info("no checkpoint on the target: applying the local log from its start", metadata: ["log": "\(reader.location)"])
        } else {
            seededStart = nil
            do {
                reader = try RelayLogReader(directory: configuration.logDirectory, from: row.location)
            } catch {
                throw ApplierError(
                    .log,
                    "the target's checkpoint (relay log \(row.location), source \(row.source)) is not in the local log: \(error)")
            }
        }
        let checkpoint: Checkpoint? = row
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
        // A statement the checkpoint marks as pending is settled when it is read again (see
        // `applyStandaloneStatement`); the checkpoints written from here on do not carry the mark.
        pending = checkpoint
        pending.pendingStatementEnd = nil
        pending.logFingerprint = nil
        if configuration.workers > 1 {
            // Every worker's checkpoint row exists before its first marker update (one round trip).
            try commitStandalone(checkpoint!, workers: Array(1...configuration.workers))
            let target = configuration.target
            pool = WorkerPool(count: configuration.workers, status: status, connectNow: !farTarget) { () throws(ApplierError) in
                try Applier.openSession(target, extra: WorkerPool.sessionSettings).0
            }
            batch.collectsKeys = true
        }
        stream = StreamState(source: checkpoint!.source, gtid: checkpoint!.gtid)
        decoder = BinlogDecoder()
        if let format = reader.formatDescription {
            format.withUnsafeBytes { bytes in _ = try? decoder.decode(bytes, at: 0) }
        }
        resumed = true
        // Read in the session's first round trip (ClockOffset.measure would take three more).
        let clock = targetClock
        status.update {
            $0.connected = true
            if let clock { $0.targetClockOffset = clock }
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
    private func apply(_ event: BinlogEvent, entry: RelayLogEntry, insidePayload: Bool) throws(ApplierError) -> QueryEvent? {
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

    // MARK: - Statements

    /// A statement inside a transaction (SAVEPOINT, or DML the source logged as a statement): run
    /// in the group, in order, in the session the source ran it in (default schema, sql_mode, time
    /// zone, character set, timestamp, and the INSERT_ID, RAND seeds and user variables the source
    /// logged for it), then back to the row session. A statement that commits by itself (the
    /// CREATE TABLE of a CREATE TABLE … SELECT, which MariaDB and MySQL 8 log inside the
    /// transaction holding its rows) goes through ``applyStatementCommittingInTransaction``.
    private func applyStatementInTransaction(_ query: QueryEvent, entry: RelayLogEntry) throws(ApplierError) {
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
    private func applyStatementCommittingInTransaction(_ query: QueryEvent, entry: RelayLogEntry) throws(ApplierError) {
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
    private func applyStandaloneStatement(_ query: QueryEvent, entry: RelayLogEntry, before: Checkpoint) throws(ApplierError) {
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
    private func holdable(_ query: QueryEvent) -> Holdable? {
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
    private func hold(_ query: QueryEvent, _ holdable: Holdable, entry: RelayLogEntry, before: Checkpoint) throws(ApplierError) {
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
    private func learn(_ effect: SchemaEffect) {
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
    private func appliedStatement(_ statement: HeldStatement) {
        committed = statement.written
        status.update {
            $0.statementsApplied += 1
            $0.transactionsApplied += 1
            $0.applied = statement.written
        }
    }

    /// Empties ``held`` and returns what it held.
    private func takeHeld() -> [Lead] {
        defer { held.removeAll() }
        return held
    }

    /// The statements of `leads`, one after another, as they go in one round trip.
    private static func text(of leads: [Lead]) -> SQLText {
        var sql = SQLText()
        for lead in leads { sql.append(lead.batch.sql.bytes) }
        return sql
    }

    /// Sends what is held (``held``) in one round trip and checks it, lead after lead. `ahead`:
    /// without waiting for the answer, as a group is sent ahead: the next group is built while
    /// the target runs it, and the answer is read and settled before anything more goes
    /// (``finishInFlight()``). Across a slow link a held run waited for its answer before the next
    /// group was even read (every-type, 30 ms: ~0.15 s).
    private func flushHeld(ahead: Bool = false) throws(ApplierError) {
        guard !held.isEmpty else { return }
        guard let connection else { throw ApplierError(.connection, "not connected") }
        // A group sent just before the first held statement (one that had to be checked first).
        try finishInFlight(leaving: ahead ? 1 : 0)
        let leads = takeHeld()
        if ahead {
            var sent = InFlight(batch: ApplyBatch(), checkpoint: nil, defers: false, commits: nil, started: .now, leads: leads)
            try transmit(&sent, on: connection, endsCommitted: true)
            return
        }
        let sql = Self.text(of: leads)
        let started = ContinuousClock.now
        var outcome = sql.bytes.withUnsafeBytes { connection.executeBatch($0) }
        let elapsed = ContinuousClock.now - started
        for lead in leads { outcome = try settle(lead, outcome, took: elapsed) }
        status.countRoundTrips(of: connection, counted: &countedRoundTrips)
    }

    /// Sends what is held first when it, the open group and a statement of `statementBytes` would
    /// not fit in one packet.
    private func flushHeldUnlessRoom(for statementBytes: Int) throws(ApplierError) {
        if heldBytes + batch.byteCount + statementBytes + (64 << 10) >= maximumPacket { try flushHeld() }
    }

    /// What goes ahead of a statement that is not held, in its round trip: what is held, then the
    /// open group with its COMMIT (``finishGroupBeforeStatement(at:statementBytes:)``, which sends
    /// it now instead, after what is held, when it must be checked first).
    private func leadsBeforeStatement(at checkpoint: Checkpoint, statementBytes: Int) throws(ApplierError) -> [Lead] {
        try flushHeldUnlessRoom(for: statementBytes)
        let lead = try finishGroupBeforeStatement(at: checkpoint, statementBytes: statementBytes)
        var leads = takeHeld()
        if let lead { leads.append(lead) }
        return leads
    }

    /// Ends the open group (if any) before a statement that commits by itself, with `checkpoint`
    /// (the position before the statement). Its statements run on this connection (with parallel
    /// apply too: the workers are drained, and the statement must wait for the group anyway). A
    /// group that can only fail with an error (INSERTs, statements) is returned with its COMMIT, to
    /// go in the statement's round trip ahead of it; one with an UPDATE or DELETE is sent and
    /// checked, then committed, first.
    private func finishGroupBeforeStatement(at checkpoint: Checkpoint, statementBytes: Int) throws(ApplierError) -> Lead? {
        guard targetTransactionOpen else { return deferredCommitLead() }
        var checkpoint = checkpoint
        checkpoint.logFingerprint = try fingerprint(checkpoint.location)
        groupOnThisConnection = true
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
    private func deferredCommitLead() -> Lead? {
        guard let deferred = deferredCommit else { return nil }
        var lead = ApplyBatch()
        let context = lead.addContext(
            .init(statement: "COMMIT", table: nil, location: deferred.checkpoint.location, source: deferred.checkpoint.source))
        lead.add("COMMIT", context: context)
        lead.leadingCommit = true
        return Lead(batch: lead, checkpoint: nil)
    }

    /// The deferred group's COMMIT went through: its checkpoint is the target's.
    private func confirmDeferredCommit() {
        guard let deferred = deferredCommit else { return }
        deferredCommit = nil
        confirm(deferred)
    }

    /// `deferred`'s COMMIT went through.
    private func confirm(_ deferred: DeferredCommit) {
        committed = deferred.checkpoint
        status.update {
            $0.applied = deferred.checkpoint
            $0.transactionsApplied += UInt64(deferred.transactions)
        }
    }

    /// Commits the deferred group in a round trip of its own (nothing else is to be sent now).
    private func flushDeferredCommit() throws(ApplierError) {
        try finishInFlight()
        try flushHeld()
        guard let deferred = deferredCommit else { return }
        guard let connection else { throw ApplierError(.connection, "not connected") }
        do {
            try connection.execute("COMMIT")
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
    private func settle(_ lead: Lead, _ outcome: MySQLConnection.BatchOutcome, took elapsed: Duration) throws(ApplierError) -> MySQLConnection.BatchOutcome {
        let count = lead.batch.expectations.count
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

    /// `USE <relay schema>; <row session>` (two statements, no trailing `;`): back from a
    /// statement's session to the one row statements run in.
    private func rowSessionReset() -> SQLText {
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
    private func runStatement(
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
    private func statementPrologue(_ query: QueryEvent, entry: RelayLogEntry) throws(ApplierError) -> [String] {
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
    private func userVariableStatement(_ variable: UserVariableEvent, entry: RelayLogEntry) throws(ApplierError) -> String {
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
    private func collationName(_ id: UInt32) throws(ApplierError) -> (String, String)? {
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

    // MARK: - Target transactions

    /// BEGIN and the marker, before the first statement of a group.
    private func openTargetTransaction() throws(ApplierError) {
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
        // The first UPDATEs and DELETEs are checked by a MariaDB target itself: a group on this
        // connection then carries its COMMIT; one meant for a worker may still end here (before a
        // DDL statement, or waiting for the group before it), and a worker checks the counts anyway.
        if statements.targetIsMariaDB { (batch.serverChecksLeft, batch.serverCheckedBytes) = serverCheckBudget }
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
            // Before this group's keys are recorded: which of them groups still running wrote
            // (a key recorded under `index` itself is from a group on this connection, committed).
            var parts: (now: ApplyBatch, later: ApplyBatch)?
            if groupsInParts && serialGroupsLeft == 0 && !batch.serial {
                let committedIndex = Self.testSplitEveryGroup ? 0 : pool.committedIndex
                let free = { (key: Int) -> Bool in
                    let writer = self.history.writer(of: key)
                    return writer <= committedIndex || writer == index
                }
                if !batch.keys.allSatisfy(free) {
                    batch.dropServerChecks()
                    parts = batch.split(free: free)
                    if parts != nil { status.update { $0.groupsInParts += 1 } }
                }
            }
            lastGroupInParts = parts != nil
            var dependency = history.record(batch.keys, index: index, committed: pool.committedIndex)
            if serialGroupsLeft > 0 {
                serialGroupsLeft -= 1
                dependency = index - 1
            }
            if batch.serial { dependency = index - 1 }
            chainedInARow = dependency == index - 1 && parts == nil ? chainedInARow + 1 : 0
            if chainedInARow >= Self.chainProbe {
                chainedInARow = 0
                chainGroupsLeft = chainRunLength
                if farTarget { chainRunLength = min(2 * chainRunLength, 4096) }
            }
            if dependency > 0 && dependency == index - 1 && parts == nil {
                // It could start only once the group just before has committed, and so every
                // group before it: on this connection instead, sent ahead (a worker would take
                // two round trips). Its keys stay recorded under `index`, which the next job
                // takes: later groups that wrote them wait for that one, which commits after it.
                try pool.drain()
                groupOnThisConnection = true
            } else {
                // Commits stay in source order: nothing of this connection's is left uncommitted.
                try flushDeferredCommit()
                batch.dropServerChecks()
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
        let context = batch.addContext(
            .init(statement: "COMMIT", table: nil, location: checkpoint.location, source: checkpoint.source))
        batch.sql.append(checkpointTable.writeStatement(checkpoint, worker: groupWorker))
        batch.endStatement(expecting: nil, context: context)
        let commitsItself = !batch.mayMissRows
        if commitsItself {
            // Nothing in it can miss a row without an error (INSERTs, statements): one round trip.
            batch.add("COMMIT", context: context)
            if !held.isEmpty {
                // Behind a predicted CREATE TABLE: in the same round trip, unless it grows large.
                held.append(Lead(batch: batch, checkpoint: checkpoint))
                let collectsKeys = batch.collectsKeys
                batch = ApplyBatch()
                batch.collectsKeys = collectsKeys
                targetTransactionOpen = false
                groupOnThisConnection = false
                if heldBytes >= groupBytes { try flushHeld(ahead: true) }
                return
            }
        }
        try send(committing: checkpoint, commitSent: commitsItself)
        groupOnThisConnection = false
    }

    /// Sends the gathered statements in one round trip without waiting for the answer: the next
    /// group is built while the target applies this one (``inFlight``); the answer is read and
    /// every count checked before anything more is sent (``finishInFlight()``), so a failed check
    /// stops before the next group and its COMMIT of this one go. With a checkpoint the group ends
    /// on the target: `commitSent`, the batch ends with its COMMIT (nothing in it can miss a row
    /// without the server failing it); otherwise its COMMIT waits for the check and goes first in
    /// the next round trip (``deferredCommit``): in the same round trip as the statements, the
    /// server would commit a transaction whose UPDATE found no row (not an error to the server)
    /// before the applier could see the row counts and stop. Without a checkpoint: a piece of a
    /// large transaction, which stays open.
    private func send(committing checkpoint: Checkpoint?, commitSent: Bool = false) throws(ApplierError) {
        guard let connection else { throw ApplierError(.connection, "not connected") }
        try finishInFlight(leaving: batch.leadingCommit ? 0 : 1)
        guard batch.byteCount < maximumPacket else {
            throw ApplierError(
                .target,
                "a statement of \(batch.byteCount) bytes is larger than the target's max_allowed_packet (\(maximumPacket)); raise it on the target"
            )
        }
        // Without its COMMIT, the group's counts are checked here before anything more goes.
        if !commitSent { batch.dropServerChecks() }
        // What is held goes first, in the same round trip when the packet allows.
        if !held.isEmpty && heldBytes + batch.byteCount + (64 << 10) >= maximumPacket { try flushHeld() }
        let leads = takeHeld()
        let commits = batch.leadingCommit ? deferredCommit : nil
        let defers = checkpoint != nil && !commitSent
        var sent = InFlight(batch: batch, checkpoint: checkpoint, defers: defers, commits: commits, started: .now, leads: leads)
        try transmit(&sent, on: connection, endsCommitted: checkpoint != nil && commitSent)
        deferredCommit = nil
        if let checkpoint, defers { deferredCommit = DeferredCommit(checkpoint: checkpoint, transactions: batch.transactionsEnded) }
        if checkpoint != nil { targetTransactionOpen = false }
        batch.reset(keepingTransactionCount: checkpoint == nil)
    }

    /// Once a group's answer is checked: its counters, the checkpoint it committed (unless its
    /// COMMIT is deferred; nil for a piece of a large transaction), the status and a debug line.
    private func recordApplied(_ done: ApplyBatch, checkpoint: Checkpoint?, defers: Bool, took elapsed: Duration) {
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

    /// Sends `sent` (its leads' statements, then its batch's) without waiting for the answer and
    /// adds it to ``inFlight``: behind the group still there, with the check that that one ended
    /// (``roundCheck(_:into:)``), when ``finishInFlight(leaving:)`` left one. `endsCommitted`:
    /// nothing of it stays open on the target once its last statement ran, so it ends with its
    /// round mark (``roundMark(_:into:)``) and the next group may follow it before its answer.
    private func transmit(_ sent: inout InFlight, on connection: MySQLConnection, endsCommitted: Bool) throws(ApplierError) {
        let behind = inFlight.last?.round
        if pipelines && endsCommitted {
            lastRound += 1
            sent.round = lastRound
        }
        sent.guarded = behind != nil
        var failure: MySQLError?
        if behind == nil && sent.leads.isEmpty && sent.round == nil {
            failure = sent.batch.sql.bytes.withUnsafeBytes { connection.sendBatch($0) }
        } else {
            var sql = SQLText()
            sql.bytes.reserveCapacity(sent.leads.reduce(sent.batch.byteCount) { $0 + $1.batch.byteCount } + 256)
            if let behind { Self.roundCheck(behind, into: &sql) }
            for lead in sent.leads { sql.append(lead.batch.sql.bytes) }
            sql.append(sent.batch.sql.bytes)
            if let round = sent.round { Self.roundMark(round, into: &sql) }
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
    private func finishInFlight(leaving: Int = 0) throws(ApplierError) {
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
    private func finishOldestInFlight(_ sent: InFlight) throws(ApplierError) {
        inFlight.removeFirst()
        guard let connection else { throw ApplierError(.connection, "not connected") }
        var outcome = connection.readBatch()
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
    private func commitStandalone(_ checkpoint: Checkpoint, workers: [Int] = [0]) throws(ApplierError) {
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
        let outcome = sql.bytes.withUnsafeBytes { connection.executeBatch($0) }
        if let error = outcome.error {
            throw ApplierError(error.isTransient ? .connection : .target, "cannot write the checkpoint", server: error)
        }
        committed = written
    }

    /// `BEGIN; <marker>; <checkpoint>; COMMIT` (four statements, no trailing `;`), and the
    /// checkpoint as written.
    private func standaloneCheckpoint(_ checkpoint: Checkpoint, worker: Int = 0) throws(ApplierError) -> (SQLText, Checkpoint) {
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

    // MARK: - Tables

    private func binding(for map: TableMap, entry: RelayLogEntry) throws(ApplierError) -> TableBinding {
        let key = map.schema + "\u{0}" + map.table
        if let existing = bindings[key], existing.tableMap === map { return existing }
        let schema = configuration.filter.targetSchema(map.schema)
        if schemaReadAhead == schema {
            // The read that came with the last DDL statement was of use.
            schemaReadAhead = nil
            unusedSchemaReads = 0
        }
        let created = createdTables[TargetTable.qualifiedKey(schema, map.table)]
        if tables[schema] == nil && created == nil {
            unusedSchemaReads = 0
            // The whole schema in one round trip: after a DDL statement every table of it is
            // read again, and across a slow link one query beats one per table.
            guard let connection else { throw ApplierError(.connection, "not connected") }
            try finishInFlight()
            try flushHeld()
            do {
                var query = TargetTable.query(schema, escape: connection.escape)
                let first = referencedElsewhere == nil
                if first { query = TargetTable.crossSchemaQuery + ";" + query }
                var results = try connection.queryAll(query)
                if first && !results.isEmpty { referencedElsewhere = TargetTable.referencedElsewhere(results.removeFirst()) }
                learnReferences(results, schema: schema)
                tables[schema] = TargetTable.parse(results, schema: schema, referencedElsewhere: referencedElsewhere ?? [])
            } catch {
                throw ApplierError(error.isTransient ? .connection : .target, "cannot read the target's schema", server: error)
            }
        }
        guard let target = created ?? tables[schema]?[map.table] else {
            var error = located(ApplierError(.schemaMismatch, "table `\(schema)`.`\(map.table)` is not on the target"), entry)
            error.table = "`\(schema)`.`\(map.table)`"
            throw error
        }
        if !target.unguardedTriggers.isEmpty {
            let triggers = target.unguardedTriggers
            var error = located(
                ApplierError(
                    .schemaMismatch,
                    "table `\(schema)`.`\(map.table)` has triggers on the target (\(triggers.map { "`\($0)`" }.joined(separator: ", "))) that would run again for rows the source's triggers already logged: drop them on the target (the source's triggers arrive as DDL, made so) or begin each body with `\(TriggerStatement.guardPrefix)…END IF`"),
                entry)
            error.table = "`\(schema)`.`\(map.table)`"
            throw error
        }
        do {
            let binding = try TableBinding(tableMap: map, target: target)
            bindings[key] = binding
            return binding
        } catch {
            // A predicted table: the mismatch is the target's only if the table passes its check.
            if created != nil { try flushHeld() }
            throw located(error, entry)
        }
    }

    /// Adds the tables of other schemas that `schema`'s foreign keys reference (read in
    /// `results`, see ``TargetTable/query(_:escape:)``) to ``referencedElsewhere``; a table newly
    /// known so is read again when next needed.
    private func learnReferences(_ results: [MySQLResult], schema: String) {
        guard var known = referencedElsewhere else { return }
        for key in TargetTable.crossSchemaReferences(results, schema: schema) where known.insert(key).inserted {
            tables[String(key.prefix { $0 != "\u{0}" })] = nil
            bindings.removeAll()
        }
        referencedElsewhere = known
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
