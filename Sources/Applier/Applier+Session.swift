import BinlogFormat
import Logging
import MySQLClient
import RelayLog

#if canImport(Glibc)
import Glibc
#endif

/// The applier's session on the target: connecting, the channel's lock, the row session, and
/// where to resume from (the checkpoint, a seed's state).
extension Applier {
    // MARK: - Connection and resume

    /// Connects, makes the checkpoint table when missing, writes `first` as the checkpoint when
    /// there is none, and reads the checkpoint (and whether it is `first`, just written).
    func connect(first: Checkpoint) throws(ApplierError) -> (MySQLConnection, Checkpoint?, Bool) {
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
        maximumPacket = packet
        statements.targetIsMariaDB = connection.isMariaDB
        statements.bulkInserts = connection.supportsBulkExecution && !Self.testTextInserts && !bulksRefused
        if let bytes = Self.testBulkEventBytes { statements.bulkEventBytes = bytes }
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
    func takeChannelLock(on connection: MySQLConnection) throws(ApplierError) -> Duration {
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
    func resume() throws(ApplierError) -> RelayLogReader {
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
}
